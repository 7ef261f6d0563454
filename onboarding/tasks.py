"""Celery tasks of the onboarding app (the outbox's re-dispatch sweep)."""
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .services import outbox_redispatch_stale


@shared_task(name="onboarding.outbox_redispatch_stale", ignore_result=True)
def outbox_redispatch_stale_task() -> int:
    """Send again the outbox messages no consumer acknowledged in time (run by beat)."""
    return outbox_redispatch_stale(older_than=timedelta(seconds=settings.ONBOARDING_OUTBOX_REDISPATCH_AFTER))
