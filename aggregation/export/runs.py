"""Export runs: the watermark, the window of the next run, and the lock that keeps runs apart.

The watermark, kept per destination (a directory, or a storage) and per redaction, is the
``window_end`` of the latest successful run there that delivered everything ingested before its end: an incremental run (it starts at the previous watermark), a ``--full``
run, or a run with ``--until`` and no ``--since``. A run with an explicit ``--since`` elsewhere is a
re-delivery and leaves the watermark where it was. A failed run never moves it.
"""

import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..horizon import committed_horizon
from ..models import ExportRun
from .lines import ExportWindow

# pg_try_advisory_lock key (advisory locks are per database): a stable number for this job.
EXPORT_LOCK_KEY = zlib.crc32(b"aggregation.export_onboarding_answers")
# Without PostgreSQL the lock is a "running" row; one older than this belongs to a dead process.
ABANDONED_AFTER = timedelta(hours=6)


class ExportAlreadyRunning(RuntimeError):
    """Raised when another export holds the lock."""

    def __init__(self):
        super().__init__("another export is running; try again when it has finished")


class InvalidExportWindow(ValueError):
    """Raised for --since/--until/--full combinations that name no sensible window."""


def export_watermark(*, destination: str, redacted: bool) -> datetime | None:
    """Return the end of the latest successful run to ``destination`` that delivered everything before it.

    Runs elsewhere, or with the other redaction, delivered nothing here: they never move it.
    """
    succeeded = ExportRun.objects.filter(status=ExportRun.Status.SUCCEEDED, destination=destination, redacted=redacted)
    continuous = succeeded.filter(Q(window_start__isnull=True) | Q(window_start__in=succeeded.values("window_end")))
    return continuous.order_by("-window_end").values_list("window_end", flat=True).first()


def export_window(
    *,
    destination: str,
    redacted: bool = False,
    full: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportWindow:
    """Return the window of the next run: from the destination's watermark (or ``since``; None with ``full``) to now.

    "Now" is taken before anything is read, so rows ingested during the run fall in the next
    one, and it is never later than ``until`` nor than the start of a transaction still open
    elsewhere (a snapshot written by it may carry an earlier ``ingested_at`` yet be committed
    only after we read; see ``aggregation.horizon``).
    """
    if full and since is not None:
        raise InvalidExportWindow("--full and --since contradict each other: --full exports from the beginning")
    end = min(value for value in (committed_horizon(), until) if value is not None)
    start = (
        None if full else since if since is not None else export_watermark(destination=destination, redacted=redacted)
    )
    if start is not None and start >= end:
        if since is not None:
            raise InvalidExportWindow(f"--since {since.isoformat()} is not before the window's end {end.isoformat()}")
        start = end  # nothing new since the last run: an empty window
    return ExportWindow(start=start, end=end)


@contextmanager
def export_lock():
    """Hold the export lock for the block, or raise ExportAlreadyRunning.

    PostgreSQL: a session advisory lock, released by PostgreSQL itself if the process dies.
    Elsewhere (SQLite) ``export_run_open`` refuses while a recent "running" row exists.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [EXPORT_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ExportAlreadyRunning()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [EXPORT_LOCK_KEY])


@transaction.atomic
def export_run_open(*, window: ExportWindow, destination: str, redacted: bool) -> tuple[ExportRun, list[ExportRun]]:
    """Record a running export; return it and the abandoned runs it marked failed (to clean up after)."""
    running = ExportRun.objects.select_for_update().filter(status=ExportRun.Status.RUNNING)
    if connection.vendor != "postgresql":  # no advisory lock: a recent running row is a live export
        if running.filter(started_at__gte=timezone.now() - ABANDONED_AFTER).exists():
            raise ExportAlreadyRunning()
    abandoned = list(running)  # holding the lock, nobody else is running: these processes died
    for run in abandoned:
        run.status, run.finished_at = ExportRun.Status.FAILED, timezone.now()
        run.error = (run.error + "\n" if run.error else "") + "abandoned: the process died before finishing"
        run.save(update_fields=["status", "finished_at", "error"])
    run = ExportRun.objects.create(
        status=ExportRun.Status.RUNNING,
        full=window.full,
        window_start=window.start,
        window_end=window.end,
        destination=destination,
        redacted=redacted,
    )
    return run, abandoned


def export_run_finish(*, run: ExportRun, location: str, rows: int, files: list[dict]) -> None:
    """Mark a run succeeded: its window_end becomes the watermark."""
    run.status, run.location, run.rows, run.files = ExportRun.Status.SUCCEEDED, location, rows, files
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "location", "rows", "files", "finished_at"])


def export_run_fail(*, run: ExportRun, error: str) -> None:
    """Mark a run failed: the watermark stays, so the next run exports this window again."""
    run.status, run.error, run.finished_at = ExportRun.Status.FAILED, error[:10_000], timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
