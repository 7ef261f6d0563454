"""Export answer snapshots to NDJSON batch files with a manifest (incremental by default)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aggregation.export import DEFAULT_BATCH_SIZE, ExportAlreadyRunning, InvalidExportWindow, answers_export
from aggregation.management.datetimes import aware_datetime


def iso_datetime(option: str, value: str | None):
    """Parse an ISO 8601 date or date-time (naive means UTC), or raise CommandError naming ``option``."""
    if value is None:
        return None
    try:
        return aware_datetime(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None


class Command(BaseCommand):
    help = (
        "Export onboarding answer snapshots as NDJSON batch files plus manifest.json, from the last "
        "successful run's watermark to now (or the window given)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Export every snapshot, ignoring the watermark.")
        parser.add_argument("--since", help="Export snapshots ingested at or after this ISO 8601 time.")
        parser.add_argument("--until", help="Export snapshots ingested before this ISO 8601 time (default: now).")
        parser.add_argument("--output", metavar="DIR", help="Write into this directory instead of the export storage.")
        parser.add_argument("--gzip", action="store_true", help="Compress the part files (.ndjson.gz).")
        parser.add_argument("--redact-pii", action="store_true", help="Drop the fields of kind pii from every line.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be exported; write nothing.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Lines per file at most (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, full, since, until, output, gzip, redact_pii, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        since, until = iso_datetime("--since", since), iso_datetime("--until", until)
        bar = tqdm(unit="row", unit_scale=True, file=sys.stderr, disable=None)
        try:
            result = answers_export(
                full=full,
                since=since,
                until=until,
                batch_size=batch_size,
                compress=gzip,
                redact_pii=redact_pii,
                dry_run=dry_run,
                output_dir=output,
                on_total=lambda total: bar.reset(total=total),
                on_rows=bar.update,
            )
        except ExportAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        except InvalidExportWindow as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(result.summary())
