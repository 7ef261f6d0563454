"""The retention run as a Celery beat task: a few lines around the retention service."""

import logging

from celery import shared_task

from ..retention import retention_apply

logger = logging.getLogger(__name__)

# A run purges for at most this long, then leaves the rest to the next run.
RETENTION_SECONDS = 240


@shared_task(
    name="aggregation.retention_apply",
    ignore_result=True,
    # Ack on receipt: a lost run is made good by the next one; every batch commits on its own.
    acks_late=False,
    soft_time_limit=RETENTION_SECONDS + 120,
    time_limit=RETENTION_SECONDS + 150,
)
def retention_apply_task() -> dict:
    """Delete what is past its retention (abandoned sessions, old events, delivered messages, expired tokens)."""
    outcome = retention_apply(max_seconds=RETENTION_SECONDS)
    logger.info("retention: %s", outcome.summary())
    return outcome.deleted
