"""The funnel fold as a Celery beat task: a few lines around the fold service."""

import logging

from celery import shared_task

from ..funnel import funnel_fold

logger = logging.getLogger(__name__)

# A run folds for at most this long, then leaves the rest to the next run (beat, every minute).
FOLD_SECONDS = 45


@shared_task(
    name="aggregation.fold_onboarding_funnel",
    ignore_result=True,
    # Ack on receipt: a lost run is made good by the next one, which starts from the watermark.
    acks_late=False,
    soft_time_limit=FOLD_SECONDS + 60,
    time_limit=FOLD_SECONDS + 90,
)
def fold_onboarding_funnel() -> int:
    """Fold the telemetry committed since the last run into the funnel's rollups; skip if a fold is running."""
    outcome = funnel_fold(wait=False, max_seconds=FOLD_SECONDS)
    if outcome.busy:
        logger.info("funnel fold skipped: another fold is running")
    return outcome.events
