"""Retention on onboarding's side: the purges of rows kept only for a while, one short transaction per batch.

The schedule and the ages come from ``aggregation.retention`` (settings ``ONBOARDING_RETENTION_*``),
which also decides which events the funnel no longer needs; abandoned sessions are erased through
``aggregation.erasure``, not here. Every purge deletes at most ``batch`` rows per transaction, found
through an index, so a purge never holds many locks at once nor a long transaction.
"""

from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from ..models import OnboardingEvent, OnboardingSession, OutboxMessage


def _delete_batch(model, pks: list) -> int:
    if not pks:
        return 0
    with transaction.atomic():
        return model.objects.filter(pk__in=pks).delete()[0]


def events_purge_batch(*, before: datetime, keep_names: Collection[str], batch: int) -> int:
    """Delete up to ``batch`` events created before ``before`` that are not named in ``keep_names``,
    or whose session no longer exists; return how many went (0: nothing left)."""
    old = OnboardingEvent.objects.filter(created_at__lt=before).order_by()
    # Index onb_event_time_name (created_at, name): a range of old events, names filtered in the index.
    pks = list(old.exclude(name__in=list(keep_names)).values_list("pk", flat=True)[:batch])
    if len(pks) < batch:
        orphans = old.filter(name__in=list(keep_names)).filter(
            ~Exists(OnboardingSession.objects.filter(pk=OuterRef("session_id")))
        )
        pks += list(orphans.values_list("pk", flat=True)[: batch - len(pks)])
    return _delete_batch(OnboardingEvent, pks)


def outbox_purge_delivered_batch(*, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` delivered outbox messages written before ``before`` (index onb_outbox_state_created)."""
    delivered = OutboxMessage.objects.filter(state=OutboxMessage.State.DELIVERED, created_at__lt=before)
    return _delete_batch(OutboxMessage, list(delivered.order_by().values_list("pk", flat=True)[:batch]))


def tokens_purge_expired_batch(*, batch: int) -> int:
    """Delete up to ``batch`` expired refresh tokens and their blacklist entries (simplejwt's flushexpiredtokens).

    A blacklisted token that has not expired yet is kept: without its entry it would be accepted again.
    """
    expired = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).order_by()
    return _delete_batch(OutstandingToken, list(expired.values_list("pk", flat=True)[:batch]))


def sessions_abandoned(*, before: datetime, batch: int) -> list:
    """Return up to ``batch`` ids of sessions in progress (or superseded) untouched since ``before``.

    Index onb_session_state_updated (state, updated_at). The caller erases them (``aggregation.erasure``).
    """
    states = [OnboardingSession.State.IN_PROGRESS, OnboardingSession.State.SUPERSEDED]
    stale = OnboardingSession.objects.filter(state__in=states, updated_at__lt=before).order_by()
    return list(stale.values_list("pk", flat=True)[:batch])
