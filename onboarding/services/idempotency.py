"""Idempotency-Key (CONTRACT §3): a repeated write gets its first answer, and nothing is written again.

Keys live in ``onboarding_idempotency_keys``, one row per (user, key), holding a fingerprint of
the request and the answer sent (status and body). ``session_locked`` looks the key up under the
session's row lock, before the revision check (a retry carries the revision its first attempt
replaced), and stores the answer in the same transaction as the write: a first attempt that
committed is always found by its retry, and a retry that races its first attempt waits for the
lock and then finds it. A refused write (400 validation, 409 conflict) is kept too, once its
transaction has rolled back and the refusal is recorded: its repeat gets the same answer and
records nothing again. Keys expire after ONBOARDING_IDEMPOTENCY_TTL_SECONDS
(24 h by default): older rows are ignored, and ``idempotency_keys_purge`` (beat, hourly) deletes them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import IdempotencyKeyReused, IdempotentReplay
from ..models import IdempotencyKey, OnboardingSession

PURGE_BATCH = 10_000


@dataclass(frozen=True)
class IdempotentRequest:
    """A write sent with an Idempotency-Key: the key, what identifies the request, how to answer it."""

    key: str
    fingerprint: str
    answer: Callable[[OnboardingSession], tuple[int, dict]]  # the response (status, body) to a written session
    refused: Callable[[Exception], tuple[int, dict]]  # the response to a refused write (the domain error)


def _ttl() -> timedelta:
    return timedelta(seconds=settings.ONBOARDING_IDEMPOTENCY_TTL_SECONDS)


def idempotency_check(*, user, request: IdempotentRequest) -> None:
    """Raise IdempotentReplay with the first answer to this key, or IdempotencyKeyReused for another request."""
    kept = IdempotencyKey.objects.filter(
        user_id=user.pk, key=request.key, created_at__gte=timezone.now() - _ttl()
    ).first()
    if kept is None:
        return
    if kept.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused()
    raise IdempotentReplay(status=kept.status, body=kept.body)


def idempotency_store(*, user, request: IdempotentRequest, session: OnboardingSession) -> None:
    """Keep the answer to ``request`` in the caller's transaction (the write's)."""
    _keep(user=user, request=request, answer=request.answer(session))


def _keep(*, user, request: IdempotentRequest, answer: tuple[int, dict]) -> None:
    status, body = answer  # an expired row of the same key is replaced
    IdempotencyKey.objects.update_or_create(
        user_id=user.pk,
        key=request.key,
        defaults={"fingerprint": request.fingerprint, "status": status, "body": body, "created_at": timezone.now()},
    )


def idempotency_store_refusal(*, user, request: IdempotentRequest, error: Exception) -> None:
    """Keep the answer to a refused ``request`` after its write rolled back (a racing repeat's answer wins)."""
    try:
        with transaction.atomic():
            _keep(user=user, request=request, answer=request.refused(error))
    except IntegrityError:  # an identical request, refused at the same moment, kept the same answer first
        pass


def idempotency_keys_purge() -> int:
    """Delete expired keys in batches (short transactions); return how many went."""
    cutoff, deleted = timezone.now() - _ttl(), 0
    while True:
        batch = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not batch:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=batch).delete()[0]
