"""The backfill: replay completed onboarding sessions through the live ingestion, in batches."""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from onboarding.models import OnboardingSession
from onboarding.services import completion_message

from .services import OUTCOMES, snapshot_ingest_batch


def completed_sessions(*, since: datetime | None = None):
    """Return the sessions that were ever completed (superseded ones too), optionally since a time."""
    sessions = OnboardingSession.objects.filter(completed_at__isnull=False)
    return sessions.filter(completed_at__gte=since) if since else sessions


def answers_backfill(
    *,
    batch_size: int = 1000,
    since: datetime | None = None,
    dry_run: bool = False,
    on_batch: Callable[[int], None] = lambda size: None,
) -> Counter:
    """Ingest every completed session's message; return how many were created/updated/unchanged/stale.

    Idempotent: a second run finds every snapshot unchanged. A dry run rolls each batch back.
    It announces nothing (no ``snapshot_stored``, so no webhooks): it replays history that receivers
    were told about when it happened, or that predates them; staff resend events from the admin.
    """
    summary = Counter({outcome: 0 for outcome in OUTCOMES})
    after = None
    while batch := _next_batch(since=since, after=after, size=batch_size):
        messages = [completion_message(session) for session in batch]
        with transaction.atomic():
            summary.update(snapshot_ingest_batch(messages=messages, announce=False))
            transaction.set_rollback(dry_run)
        after = (batch[-1].completed_at, batch[-1].id)
        on_batch(len(batch))
    return summary


def _next_batch(*, since, after, size) -> list["_CompletedSession"]:
    sessions = completed_sessions(since=since)
    if after:  # keyset pagination; the plain >= lets the (completed_at, id) index start at the key
        sessions = sessions.filter(completed_at__gte=after[0]).filter(Q(completed_at__gt=after[0]) | Q(id__gt=after[1]))
    rows = sessions.order_by("completed_at", "id").values(
        "id",
        "user_id",
        "completed_at",
        "answer_schema_version",
        answers=KeyTransform("answers", "data"),
        flags=KeyTransform("flags", "data"),
        completed_workspace_id=KeyTransform("workspace_id", "data"),
    )[:size]
    return [_CompletedSession(**{**row, "answers": row["answers"] or {}, "flags": row["flags"] or {}}) for row in rows]


@dataclass(frozen=True)
class _CompletedSession:
    """What ``completion_message`` reads of a session. Only the answers, flags and workspace are fetched from ``data``
    (not its write history), and no model instance is built (its field defaults, a fresh revision
    token each, took about a tenth of a batch's time); the message still comes from the outbox's
    own ``completion_message``, so the backfill and the live path send the same shape."""

    id: uuid.UUID
    user_id: int
    completed_at: datetime
    answer_schema_version: int
    answers: dict
    flags: dict
    completed_workspace_id: int | None
