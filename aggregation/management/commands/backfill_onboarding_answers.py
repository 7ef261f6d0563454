"""Replay completed onboarding sessions into snapshots and totals, idempotently."""

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aggregation.management.datetimes import aware_datetime
from aggregation.snapshots.backfill import answers_backfill, completed_sessions


def since_argument(value: str):
    """Parse --since (argparse turns the error into a command error naming the option)."""
    try:
        return aware_datetime(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = "Replay completed onboarding sessions into answer snapshots and totals (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Sessions per transaction (default 1000).")
        parser.add_argument("--since", type=since_argument, help="Only sessions completed at or after this time.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, batch_size, since, dry_run, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        total = completed_sessions(since=since).count()
        with tqdm(total=total, unit="session", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            summary = answers_backfill(batch_size=batch_size, since=since, dry_run=dry_run, on_batch=bar.update)
        prefix = "Dry run (nothing written): " if dry_run else ""
        self.stdout.write(
            f"{prefix}{sum(summary.values())} sessions: {summary['created']} created, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {summary['stale']} stale"
        )
