"""Retention: what is deleted on schedule, and how old it must be. Run by beat (``aggregation.retention_apply``).

Each purge works in batches of ONBOARDING_RETENTION_BATCH rows, one short transaction each, and the
run stops starting batches after ``max_seconds`` (the next run goes on):

- abandoned sessions (in progress or superseded, untouched for ONBOARDING_RETENTION_ABANDONED_DAYS)
  are erased through ``aggregation.erasure``, exactly as a person's erasure (totals, funnel, webhook,
  export tombstones);
- events older than ONBOARDING_RETENTION_EVENTS_DAYS *and* already folded into the funnel's rollups
  (before the fold's watermark), which no figure needs any more: every event the funnel does not
  count, and counted events whose session is gone. The counted events of a counted session (friction,
  step timings) stay as long as their session: the check recomputes the funnel from them;
- delivered outbox messages older than ONBOARDING_RETENTION_OUTBOX_DAYS;
- expired refresh tokens and their blacklist entries (simplejwt's ``flushexpiredtokens``);
- Idempotency-Key replies have their own hourly purge (ONBOARDING_IDEMPOTENCY_TTL_SECONDS);
- apps above aggregation purge their own rows when ``aggregation.signals.retention_due`` is sent
  (the webhooks' delivery attempts, after ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from onboarding.services.retention import (
    events_purge_batch,
    outbox_purge_delivered_batch,
    sessions_abandoned,
    tokens_purge_expired_batch,
)

from .erasure import ErasureReason, onboarding_sessions_erase
from .funnel import funnel_watermark
from .funnel.figures import COUNTED_EVENTS
from .signals import retention_due


@dataclass
class RetentionOutcome:
    """How many rows each purge deleted in one run, and whether it stopped for time."""

    deleted: dict = field(default_factory=dict)
    stopped_early: bool = False

    def summary(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.deleted.items())
        return f"Deleted {counts}" + (" (stopped for time; the next run goes on)" if self.stopped_early else "")


def retention_apply(*, max_seconds: float | None = None, batch: int | None = None) -> RetentionOutcome:
    """Run every purge in batches until nothing is left or ``max_seconds`` have passed."""
    batch = batch or settings.ONBOARDING_RETENTION_BATCH
    now, started, outcome = timezone.now(), time.monotonic(), RetentionOutcome()
    purges: list[tuple[str, Callable[[], int]]] = [
        ("abandoned sessions", lambda: _abandoned_sessions_erase(now=now, batch=batch)),
        ("events", lambda: _events_purge(now=now, batch=batch)),
        (
            "outbox messages",
            lambda: outbox_purge_delivered_batch(
                before=now - timedelta(days=settings.ONBOARDING_RETENTION_OUTBOX_DAYS), batch=batch
            ),
        ),
        ("expired tokens", lambda: tokens_purge_expired_batch(batch=batch)),
    ]
    for name, purge in purges:
        outcome.deleted[name] = 0
        while True:
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                outcome.stopped_early = True
                return outcome
            deleted = purge()
            outcome.deleted[name] += deleted
            if deleted < batch:
                break
    retention_due.send(sender=RetentionOutcome, now=now, batch=batch)
    return outcome


def _abandoned_sessions_erase(*, now, batch: int) -> int:
    before = now - timedelta(days=settings.ONBOARDING_RETENTION_ABANDONED_DAYS)
    ids = sessions_abandoned(before=before, batch=batch)
    if not ids:
        return 0
    # A session a user's write touched meanwhile is left alone (checked again under its lock).
    onboarding_sessions_erase(session_ids=ids, untouched_since=before, reason=ErasureReason.RETENTION)
    return len(ids)


def _events_purge(*, now, batch: int) -> int:
    watermark = funnel_watermark()
    if watermark is None:  # nothing folded yet: every event may still be needed
        return 0
    before = min(now - timedelta(days=settings.ONBOARDING_RETENTION_EVENTS_DAYS), watermark)
    return events_purge_batch(before=before, keep_names=COUNTED_EVENTS, batch=batch)
