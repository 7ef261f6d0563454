"""Celery tasks of the onboarding app: the outbox's re-dispatch sweep, staff's re-decision of a flag, the purge
of expired idempotency keys."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .models import OnboardingEvent
from .services import flag_redecide_in_flight, idempotency_keys_purge, outbox_redispatch_stale


@shared_task(name="onboarding.outbox_redispatch_stale", ignore_result=True)
def outbox_redispatch_stale_task() -> int:
    """Send again the outbox messages no consumer acknowledged in time (run by beat)."""
    return outbox_redispatch_stale(older_than=timedelta(seconds=settings.ONBOARDING_OUTBOX_REDISPATCH_AFTER))


@shared_task(name="onboarding.flag_redecide_in_flight", ignore_result=True)
def flag_redecide_in_flight_task(flag: str) -> dict:
    """Decide ``flag`` again for the sessions in progress (queued by the flag admin's action)."""
    return dict(flag_redecide_in_flight(flag=flag, source=OnboardingEvent.Source.ADMIN))


@shared_task(name="onboarding.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge_task() -> int:
    """Delete Idempotency-Key answers older than ONBOARDING_IDEMPOTENCY_TTL_SECONDS (run by beat)."""
    return idempotency_keys_purge()
