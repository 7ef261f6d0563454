"""The ingestion of completion messages as a Celery task: a few lines around the snapshot service."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError

from onboarding.services import outbox_acknowledge
from onboarding.services.outbox import outbox_mark_failed

from ..snapshots.normalise import InvalidCompletionMessage
from ..snapshots.services import snapshot_ingest

logger = logging.getLogger(__name__)


@shared_task(
    name="aggregation.ingest_completion_message",
    autoretry_for=(OperationalError, InterfaceError),  # database down or restarting, deadlock victim
    retry_backoff=2,
    retry_backoff_max=settings.ONBOARDING_INGEST_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
    reject_on_worker_lost=True,
    # The broker's visibility timeout is derived from these two (settings, "Celery").
    time_limit=settings.ONBOARDING_INGEST_TIME_LIMIT,
    soft_time_limit=settings.ONBOARDING_INGEST_TIME_LIMIT - 20,
)
def ingest_completion_message(message_id: int | None = None, message: dict | None = None) -> str | None:
    """Ingest one completion message and acknowledge its outbox row."""
    try:
        outcome = snapshot_ingest(message=message)
    except (InvalidCompletionMessage, IntegrityError) as exc:  # retrying cannot help: park it for a human
        logger.error("completion message %s rejected: %s", message_id, exc)
        if message_id is not None:
            outbox_mark_failed(message_id=message_id, error=str(exc))
        return None
    if message_id is not None:
        outbox_acknowledge(message_id=message_id)
    return outcome
