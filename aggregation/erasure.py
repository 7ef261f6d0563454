"""Erasure of a person's onboarding data everywhere it lives: the one path every trigger takes.

The command ``erase_onboarding_user``, the admin action, the deletion of a Django user (pre_delete,
wired in ``AggregationConfig.ready``) and the retention of abandoned sessions all call
``onboarding_user_erase`` or ``onboarding_sessions_erase``. In one transaction:

1. the sessions' rows are locked (``onboarding.services.erasure_sessions_lock``);
2. the snapshots are locked and deleted, and the totals (and totals by arm) decremented by what
   they counted, through the live path's writer (``totals_apply_delta``): exact, never a recount;
3. the funnel's rollups take the sessions out (``funnel_forget``, holding the fold state);
4. onboarding deletes sessions, events, outbox messages, Idempotency-Key replies, invitations sent;
5. a tombstone per session (``ErasedSession``, ids only) tells the next export run what to list;
6. ``aggregation.signals.onboarding_erased`` is sent, so apps above act in the same transaction.

Lock order, the ingestion's own: sessions, snapshots (by session id), totals (by key), then the
fold state. An ingestion in flight either finishes first (its snapshot is then erased here) or
waits and finds the tombstone (``aggregation.snapshots.services``).
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from onboarding.models import OnboardingSession
from onboarding.services.erasure import OnboardingErased, erasure_delete, erasure_sessions_lock

from .funnel import funnel_forget
from .models import AnswerSnapshot, ErasedSession
from .signals import onboarding_erased
from .snapshots.normalise import arm_counted_answers, counted_answers
from .snapshots.services import arm_totals_apply_delta, totals_apply_delta


class ErasureReason(models.TextChoices):
    REQUEST = "request"  # the command or the admin action
    ACCOUNT_DELETED = "account_deleted"  # a Django user was deleted
    RETENTION = "retention"  # an abandoned session, by the retention schedule


@dataclass(frozen=True)
class ErasureOutcome:
    """What one erasure removed for one user (nothing at all: ``erased`` is False)."""

    user_id: int
    session_ids: list = field(default_factory=list)
    snapshots: int = 0
    onboarding: OnboardingErased = field(default_factory=OnboardingErased)

    @property
    def erased(self) -> bool:
        return bool(self.snapshots or self.onboarding.anything or self.session_ids)

    def summary(self) -> str:
        done = self.onboarding
        return (
            f"{len(self.session_ids)} sessions, {self.snapshots} snapshots, {done.events} events, "
            f"{done.outbox_messages} outbox messages, {done.idempotency_keys} idempotency replies, "
            f"{done.invitations} invitations"
        )


@transaction.atomic
def onboarding_user_erase(*, user_id: int, reason: str = ErasureReason.REQUEST) -> ErasureOutcome:
    """Erase everything of one person's onboarding; erasing again finds nothing (``erased`` False)."""
    session_ids = erasure_sessions_lock(user_id=user_id)
    return _erase(user_id=user_id, session_ids=session_ids, whole_user=True, reason=reason)


@transaction.atomic
def onboarding_sessions_erase(
    *, session_ids: list, untouched_since=None, reason: str = ErasureReason.RETENTION
) -> list[ErasureOutcome]:
    """Erase some sessions (and only what belongs to them), per owner; ids already gone are skipped.

    ``untouched_since``: only those still not updated since then, once locked (a retention's rule).
    """
    locked = erasure_sessions_lock(session_ids=session_ids, untouched_since=untouched_since)
    owners: dict[int, list] = {}
    for session_id, user_id in OnboardingSession.objects.filter(pk__in=locked).values_list("pk", "user_id"):
        owners.setdefault(user_id, []).append(session_id)
    return [
        _erase(user_id=user_id, session_ids=sorted(ids), whole_user=False, reason=reason)
        for user_id, ids in sorted(owners.items())
    ]


def _erase(*, user_id: int, session_ids: list, whole_user: bool, reason: str) -> ErasureOutcome:
    snapshots = _snapshots_erase(Q(user_id=user_id) if whole_user else Q(session_id__in=session_ids))
    funnel_forget(session_ids=session_ids)
    onboarding = erasure_delete(session_ids=session_ids, user_id=user_id if whole_user else None)
    erased_ids = sorted({*session_ids, *snapshots}, key=str)
    outcome = ErasureOutcome(
        user_id=user_id, session_ids=[str(pk) for pk in erased_ids], snapshots=len(snapshots), onboarding=onboarding
    )
    if not outcome.erased:
        return outcome
    now = timezone.now()
    ErasedSession.objects.bulk_create(
        [ErasedSession(session_id=pk, user_id=user_id, erased_at=now, reason=reason) for pk in erased_ids],
        update_conflicts=True,
        unique_fields=["session_id"],
        update_fields=["erased_at", "reason"],
    )
    onboarding_erased.send(sender=ErasedSession, user_id=user_id, session_ids=outcome.session_ids)
    return outcome


def _snapshots_erase(which: Q) -> list:
    """Lock and delete the snapshots, taking what they counted out of the totals; return their ids."""
    locked = AnswerSnapshot.objects.select_for_update().filter(which).order_by("session_id").defer("flattened")
    delta, arm_delta, ids = Counter(), Counter(), []
    for snapshot in locked:
        delta.subtract(counted_answers(snapshot.answers))
        arm_delta.subtract(arm_counted_answers(snapshot.answers, snapshot.flags))
        ids.append(snapshot.session_id)
    AnswerSnapshot.objects.filter(session_id__in=ids).delete()
    totals_apply_delta(delta=delta)
    arm_totals_apply_delta(delta=arm_delta)
    return ids


def erase_on_user_delete(sender, instance, **kwargs) -> None:
    """pre_delete of the user model: erase the person's onboarding data first, in the deletion's transaction.

    Without it the cascade would delete the snapshots behind the totals' back (and leave the funnel
    counting the sessions); with it the cascade finds nothing left of onboarding to delete.
    """
    onboarding_user_erase(user_id=instance.pk, reason=ErasureReason.ACCOUNT_DELETED)
