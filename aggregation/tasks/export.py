"""The nightly export as a Celery beat task: a few lines around the export service."""

import logging

from celery import shared_task

from ..export import ExportAlreadyRunning, answers_export

logger = logging.getLogger(__name__)


@shared_task(
    name="aggregation.export_onboarding_answers_nightly",
    # Ack on receipt: a long export must not be redelivered after the broker's visibility timeout
    # (the lock would refuse it anyway); a lost run is made good by the next, since a run that
    # did not succeed leaves the watermark where it was.
    acks_late=False,
    # Millions of rows take a while: three hours, then the worker kills it. A hard kill leaves a
    # staging directory and a "running" row, both cleaned up by the next run.
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def export_onboarding_answers_nightly(*, full: bool = False, compress: bool = False) -> dict | None:
    """Export the snapshots ingested since the last successful run; skip if an export is running."""
    try:
        result = answers_export(full=full, compress=compress)
    except ExportAlreadyRunning:
        logger.warning("nightly export skipped: another export is running")
        return None
    logger.info(result.summary())
    return {"run_id": result.run_id, "rows": result.rows, "files": result.file_count, "location": result.location}
