"""The transactional outbox: completion messages written with the session, sent after commit."""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import OnboardingSession, OutboxMessage

logger = logging.getLogger(__name__)

# The consumer registers a task under this name; onboarding never imports it.
INGEST_TASK_NAME = "aggregation.ingest_completion_message"
# The completion message's own version (apart from the answers' schema version). 1: no
# ``message_version`` key, no workspace; 2: ``workspace_id``, the workspace the completion created
# or joined. The consumer upgrades older messages to this one.
COMPLETION_MESSAGE_VERSION = 2


def completion_message(session: OnboardingSession) -> dict:
    """Return the completion message for a completed session.

    A session completed before the completion recorded its workspace is described as a version 1
    message (without ``workspace_id``), which the consumer upgrades.
    """
    message = {
        "user_id": session.user_id,
        "session_id": str(session.id),
        "completed_at": session.completed_at.isoformat(),
        "answer_schema_version": session.answer_schema_version,
        "answers": session.answers,
        "flags": session.flags,
    }
    if session.completed_workspace_id is not None:
        message.update(message_version=COMPLETION_MESSAGE_VERSION, workspace_id=session.completed_workspace_id)
    return message


def outbox_add_completion(*, session: OnboardingSession) -> OutboxMessage:
    """Write the completion message in the caller's transaction and send it after commit."""
    message, _ = OutboxMessage.objects.get_or_create(
        topic=OutboxMessage.TOPIC_SESSION_COMPLETED,
        session=session,
        defaults={"payload": completion_message(session)},
    )
    transaction.on_commit(lambda: outbox_dispatch(message_ids=[message.pk]))
    return message


def outbox_dispatch(*, message_ids: list[int]) -> int:
    """Send pending messages to the broker; a failure leaves them pending for the sweep.

    It runs inside the request that completed a session (after commit), so every broker operation
    is bounded by ONBOARDING_OUTBOX_PUBLISH_TIMEOUT: a Redis that accepts connections but never
    answers costs the request about that long, not the workers' longer socket timeout and retry.
    After the first failure the remaining messages are left for the sweep instead of each waiting.
    """
    sent = 0
    with current_app.connection_for_write(transport_options=_publish_transport_options()) as connection:
        for message in OutboxMessage.objects.filter(pk__in=message_ids, state=OutboxMessage.State.PENDING):
            OutboxMessage.objects.filter(pk=message.pk).update(dispatched_at=timezone.now(), attempts=F("attempts") + 1)
            try:
                current_app.signature(
                    INGEST_TASK_NAME, kwargs={"message_id": message.pk, "message": message.payload}
                ).apply_async(retry=False, connection=connection)
            except Exception as exc:  # the broker is down or hung: keep the message, the sweep retries it
                logger.warning("outbox dispatch failed message=%s error=%s", message.pk, exc)
                OutboxMessage.objects.filter(pk=message.pk).update(last_error=str(exc)[:2000])
                break
            sent += 1
    return sent


def _publish_transport_options() -> dict:
    timeout = settings.ONBOARDING_OUTBOX_PUBLISH_TIMEOUT
    # Merged over CELERY_BROKER_TRANSPORT_OPTIONS (the workers' longer socket timeout and retry).
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry_on_timeout": False}


def outbox_acknowledge(*, message_id: int) -> None:
    """Mark a message delivered once its consumer has applied it."""
    OutboxMessage.objects.filter(pk=message_id).update(
        state=OutboxMessage.State.DELIVERED, delivered_at=timezone.now(), last_error=""
    )


def outbox_mark_failed(*, message_id: int, error: str) -> None:
    """Park a message its consumer can never apply (the sweep skips it; a human looks at it)."""
    OutboxMessage.objects.filter(pk=message_id).update(state=OutboxMessage.State.FAILED, last_error=error[:2000])


def outbox_oldest_pending_at():
    """Return when the oldest message still waiting for its consumer was written (None: none waits)."""
    return (
        OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def outbox_redispatch_stale(*, older_than: timedelta, limit: int = 1000) -> int:
    """Send again every pending message not acknowledged within ``older_than``, oldest first."""
    cutoff = timezone.now() - older_than
    stale = OutboxMessage.objects.filter(
        Q(dispatched_at__lt=cutoff) | Q(dispatched_at__isnull=True, created_at__lt=cutoff),
        state=OutboxMessage.State.PENDING,
    ).order_by(F("dispatched_at").asc(nulls_first=True), "pk")
    return outbox_dispatch(message_ids=list(stale.values_list("pk", flat=True)[:limit]))
