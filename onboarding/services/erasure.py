"""Erasure of a person's onboarding data on onboarding's side: sessions, telemetry, replies, invitations.

The orchestration (snapshots, totals, funnel, the signal apps above act on) lives in
``aggregation.erasure``, which calls these two in its transaction: first ``erasure_sessions_lock``
(the sessions' rows, before anything else, in the order every session writer takes them), then,
once the rollups have taken the sessions out, ``erasure_delete``.
"""

from dataclasses import dataclass

from django.db import transaction

from ..models import IdempotencyKey, Invitation, OnboardingEvent, OnboardingSession, OutboxMessage


@dataclass(frozen=True)
class OnboardingErased:
    """What ``erasure_delete`` removed (row counts)."""

    sessions: int = 0
    events: int = 0
    outbox_messages: int = 0
    idempotency_keys: int = 0
    invitations: int = 0

    @property
    def anything(self) -> bool:
        return any((self.sessions, self.events, self.outbox_messages, self.idempotency_keys, self.invitations))


def erasure_sessions_lock(*, user_id: int | None = None, session_ids=None, untouched_since=None) -> list:
    """Lock (FOR UPDATE, by id) and return the ids of a user's sessions, or of the given sessions.

    ``untouched_since``: only the sessions not updated since then (read under the lock).
    The caller owns the transaction. A write to a locked session waits, then finds it gone.
    """
    sessions = OnboardingSession.objects.select_for_update().order_by("pk")
    if user_id is not None:
        sessions = sessions.filter(user_id=user_id)
    if session_ids is not None:
        sessions = sessions.filter(pk__in=list(session_ids))
    locked = list(sessions.values_list("pk", "updated_at"))
    return [pk for pk, updated_at in locked if untouched_since is None or updated_at < untouched_since]


@transaction.atomic
def erasure_delete(*, session_ids: list, user_id: int | None = None) -> OnboardingErased:
    """Delete the sessions (answers, drafts, history), their events and outbox messages.

    With ``user_id`` (a person's erasure, not a retention of some sessions) also everything else of
    theirs: Idempotency-Key replies (they repeat progress documents) and the invitations they sent
    (their teammates' addresses). Events are found by session (index onb_event_session_time; there
    is no index by user): an event a browser reported in the instant of the erasure, for a session
    already gone, holds no answer and goes with the retention of old events.
    """
    erased = {
        "events": OnboardingEvent.objects.filter(session_id__in=session_ids).delete()[0],
        "outbox_messages": OutboxMessage.objects.filter(session_id__in=session_ids).delete()[0],
        "sessions": OnboardingSession.objects.filter(pk__in=session_ids).delete()[0],
    }
    if user_id is not None:
        erased["idempotency_keys"] = IdempotencyKey.objects.filter(user_id=user_id).delete()[0]
        erased["invitations"] = Invitation.objects.filter(invited_by_id=user_id).delete()[0]
    return OnboardingErased(**erased)
