"""Idempotency-Key's store: the first answer to a write, kept so that a repeat gets it again.

Keys live in ``onboarding_idempotency_keys``, one row per (user, key), holding a fingerprint of
the request and the answer sent (status and body). The caller (the API's ``idempotent`` view
decorator) claims the key in its transaction before the write and keeps the answer in the same
transaction: a first attempt that committed is always found by its retry, and a retry that races
its first attempt waits for the key's row and then finds its answer. Keys expire after
ONBOARDING_IDEMPOTENCY_TTL_SECONDS (24 h by default): older rows are ignored, and
``idempotency_keys_purge`` (beat, hourly) deletes them.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import IdempotencyKeyReused
from ..models import IdempotencyKey

PURGE_BATCH = 10_000


@dataclass(frozen=True)
class KeptAnswer:
    """The answer given to the first request with a key: a status and a JSON body."""

    status: int
    body: dict


def _ttl() -> timedelta:
    return timedelta(seconds=settings.ONBOARDING_IDEMPOTENCY_TTL_SECONDS)


def idempotency_claim(*, user, key: str, fingerprint: str) -> KeptAnswer | None:
    """Hold ``key`` in the caller's transaction: return the answer kept for it, or None for a first request.

    Raises IdempotencyKeyReused when the key came with another request (another fingerprint). A first
    request's key stays held until the caller's transaction ends, which ``idempotency_keep`` or
    ``idempotency_release`` must precede: a racing repeat waits for it, then finds its answer.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_claim runs inside the transaction of the write it answers")
    for _attempt in range(2):
        kept = IdempotencyKey.objects.select_for_update().filter(user_id=user.pk, key=key).first()
        if kept is not None:
            if kept.created_at < timezone.now() - _ttl():  # expired: forgotten, this request takes it over
                IdempotencyKey.objects.filter(pk=kept.pk).update(fingerprint=fingerprint, created_at=timezone.now())
                return None
            if kept.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return KeptAnswer(status=kept.status, body=kept.body)
        try:
            with transaction.atomic():  # waits while a racing first attempt holds the same key
                IdempotencyKey.objects.create(
                    user_id=user.pk, key=key, fingerprint=fingerprint, status=0, body={}, created_at=timezone.now()
                )
            return None
        except IntegrityError:  # that attempt committed: read its answer
            continue
    raise RuntimeError(f"Idempotency-Key {key!r} could be neither read nor claimed")


def idempotency_keep(*, user, key: str, status: int, body: dict) -> None:
    """Keep the answer to a claimed key, in the caller's transaction (the write's)."""
    IdempotencyKey.objects.filter(user_id=user.pk, key=key).update(status=status, body=body, created_at=timezone.now())


def idempotency_release(*, user, key: str) -> None:
    """Give a claimed key up without an answer (the request was refused in a way that is not kept)."""
    IdempotencyKey.objects.filter(user_id=user.pk, key=key).delete()


def idempotency_keys_purge() -> int:
    """Delete expired keys in batches (short transactions); return how many went."""
    cutoff, deleted = timezone.now() - _ttl(), 0
    while True:
        batch = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not batch:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=batch).delete()[0]
