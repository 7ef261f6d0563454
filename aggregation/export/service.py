"""The export of answer snapshots to NDJSON batch files: one service for the command and the task."""

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, count, islice

from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone

from ..models import ErasedSession, ExportRun
from .copy_out import copy_rows
from .files import MANIFEST_NAME, export_destination, export_destination_key, export_write_batch
from .lines import ROW_COMPLETED_AT, ROW_VERSION, ExportWindow, export_rows, export_rows_and_line, pii_fields
from .runs import export_lock, export_run_fail, export_run_finish, export_run_open, export_window

STORAGE_ALIAS = "onboarding_exports"
ERASED_NAME = "erased.ndjson"
ERASED_DEFINITION = (
    "sessions whose onboarding data was erased with start <= erased_at < end: delete every row of these "
    "session ids (and stop using them); written only when there are some"
)
DEFAULT_BATCH_SIZE = 50_000
FETCH_CHUNK = 2000  # rows per round trip of the server-side cursor
MANIFEST_FORMAT = 1
UPDATED_DEFINITION = (
    "completed_at < window.start: the session completed before this window opened, so the snapshot "
    "was re-ingested (a newer message or a backfill) and was most likely delivered by an earlier run"
)


@dataclass
class ExportResult:
    """What a run did (``dry_run``: what it would have done)."""

    window: ExportWindow
    rows: int = 0
    updated: int = 0
    files: list[dict] = field(default_factory=list)
    location: str = ""
    run_id: int | None = None
    dry_run: bool = False
    file_count: int = 0

    def summary(self) -> str:
        start = self.window.start.isoformat() if self.window.start else "the beginning"
        prefix = "Dry run (nothing written): would export" if self.dry_run else "Exported"
        where = "" if self.dry_run else f"; location {self.location}"
        return (
            f"{prefix} {self.rows} snapshots ({self.updated} updated) in {self.file_count} files; "
            f"ingested from {start} until {self.window.end.isoformat()}{where}"
        )


def answers_export(
    *,
    full: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    compress: bool = False,
    redact_pii: bool = False,
    dry_run: bool = False,
    output_dir: str | None = None,
    on_total: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export the snapshots ingested since the watermark (or in the given window) as NDJSON files.

    Raises ExportAlreadyRunning when another run holds the lock, InvalidExportWindow for a bad
    window. A failure leaves no file under a final name and the watermark where it was.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    storage = None if output_dir else storages[STORAGE_ALIAS]
    # The watermark is this destination's and this redaction's: an ad-hoc run elsewhere or redacted
    # must not make the next scheduled run skip what it never delivered there.
    watermark_of = {
        "destination": export_destination_key(storage=storage, alias=STORAGE_ALIAS, output_dir=output_dir),
        "redacted": redact_pii,
    }
    if dry_run:
        window = export_window(full=full, since=since, until=until, **watermark_of)
        rows = export_rows(window).count()
        return ExportResult(window=window, rows=rows, dry_run=True, file_count=-(-rows // batch_size))
    with export_lock():
        window = export_window(full=full, since=since, until=until, **watermark_of)
        run, abandoned = export_run_open(window=window, **watermark_of)
        destination = export_destination(
            storage=storage,
            alias=STORAGE_ALIAS,
            output_dir=output_dir,
            run_dir=f"{window.end:%Y%m%dT%H%M%SZ}-run{run.pk:06d}",
        )
        ExportRun.objects.filter(pk=run.pk).update(location=destination.location)
        destination.remove_leftovers([previous.location for previous in abandoned])
        if on_total is not None:
            on_total(export_rows(window).count())
        try:
            result = _export_to(
                destination,
                window=window,
                run=run,
                batch_size=batch_size,
                compress=compress,
                redact_pii=redact_pii,
                on_rows=on_rows,
            )
        except BaseException as exc:  # a Ctrl-C or a task time limit too: never leave a half run behind
            destination.abort()
            export_run_fail(run=run, error=f"{type(exc).__name__}: {exc}")
            raise
        export_run_finish(run=run, location=result.location, rows=result.rows, files=result.files)
        return result


def _export_to(destination, *, window, run, batch_size, compress, redact_pii, on_rows) -> ExportResult:
    redacted = pii_fields() if redact_pii else []
    suffix = ".ndjson.gz" if compress else ".ndjson"
    result, versions = ExportResult(window=window, location=destination.location, run_id=run.pk), Counter()
    destination.open()
    # One transaction: one snapshot of the table, streamed (COPY, or a plain server-side cursor).
    with transaction.atomic(), _rows_and_line(window, redacted=redacted) as (rows, line):
        for number in count(1):
            first = next(rows, None)
            if first is None:
                break
            name = f"part-{number:05d}{suffix}"
            tmp_path = destination.part_path(name)
            stats = export_write_batch(
                path=tmp_path,
                rows=chain([first], islice(rows, batch_size - 1)),
                line=line,
                compress=compress,
                updated_before=window.start,
                version_index=ROW_VERSION,
                completed_index=ROW_COMPLETED_AT,
                on_rows=on_rows,
            )
            destination.publish_part(tmp_path, name)
            result.files.append(
                {
                    "name": name,
                    "rows": stats.rows,
                    "updated": stats.updated,
                    "bytes": stats.bytes,
                    "sha256": stats.sha256,
                }
            )
            result.rows, result.updated = result.rows + stats.rows, result.updated + stats.updated
            versions.update(stats.schema_versions)
    result.file_count = len(result.files)
    erased = _erased_write(destination, window=window)
    destination.publish_manifest(
        _manifest(result, run=run, compress=compress, redacted=redacted, versions=versions, erased=erased)
    )
    return result


@contextmanager
def _rows_and_line(window, *, redacted):
    """Yield the window's rows and their line builder (None: COPY rows, lines made by PostgreSQL).

    The rows are closed inside the caller's transaction, also when a write fails.
    """
    if connection.vendor == "postgresql" and not redacted:
        with connection.cursor() as cursor, closing(copy_rows(cursor, window)) as rows:
            yield rows, None
        return
    rows_query, line = export_rows_and_line(window, redacted=redacted)
    with closing(rows_query.iterator(chunk_size=FETCH_CHUNK)) as rows:
        yield rows, line


def _erased_write(destination, *, window) -> dict:
    """Write the window's erased sessions, one ``{"session_id", "user_id", "erased_at"}`` per line (if any)."""
    tombstones = ErasedSession.objects.filter(erased_at__lt=window.end)
    if window.start is not None:
        tombstones = tombstones.filter(erased_at__gte=window.start)
    rows = tombstones.order_by("erased_at", "session_id").values_list("session_id", "user_id", "erased_at")
    entry = {"name": None, "rows": 0, "sha256": None, "definition": ERASED_DEFINITION}
    tmp_path, digest = destination.part_path(ERASED_NAME), hashlib.sha256()
    with open(tmp_path, "wb") as out:
        for session_id, user_id, erased_at in rows.iterator(chunk_size=FETCH_CHUNK):
            line = json.dumps({"session_id": str(session_id), "user_id": user_id, "erased_at": erased_at.isoformat()})
            data = (line + "\n").encode()
            out.write(data)
            digest.update(data)
            entry["rows"] += 1
    if entry["rows"]:
        destination.publish_part(tmp_path, ERASED_NAME)
        entry.update(name=ERASED_NAME, sha256=digest.hexdigest())
    else:
        tmp_path.unlink(missing_ok=True)
    return entry


def _manifest(result: ExportResult, *, run, compress, redacted, versions, erased) -> bytes:
    window = result.window
    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": run.pk,
        "created_at": timezone.now().isoformat(),
        "window": {
            "start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat(),
            "full": window.full,
            "column": "ingested_at",
            "bounds": "start <= ingested_at < end",
        },
        "order": ["ingested_at", "session_id"],
        "compression": "gzip" if compress else None,
        "rows": result.rows,
        "updated": result.updated,
        "updated_definition": UPDATED_DEFINITION,
        "schema_versions": {str(version): n for version, n in sorted(versions.items())},
        "redacted_fields": [{"step": step, "field": name} for step, name in redacted],
        "files": result.files,
        "erased": erased,
    }
    return (json.dumps(manifest, indent=2) + "\n").encode()


__all__ = ["MANIFEST_NAME", "STORAGE_ALIAS", "ExportResult", "answers_export"]
