"""Fold every event and session not in the funnel's rollups yet (all of them the first time)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aggregation.funnel import funnel_fold, funnel_rebuild, funnel_watermark
from aggregation.funnel.fold import CHUNK_EVENTS, funnel_events_since
from onboarding.models import OnboardingEvent


class Command(BaseCommand):
    help = (
        "Fold the onboarding telemetry not folded yet into the funnel's rollups (from the beginning the first "
        "time: the backfill for old data); --rebuild throws the rollups away first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Delete the rollups and fold everything again.")
        parser.add_argument(
            "--chunk-size", type=int, default=CHUNK_EVENTS, help=f"Events per transaction (default {CHUNK_EVENTS:,})."
        )

    def handle(self, *args, rebuild, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        watermark = None if rebuild else funnel_watermark()
        pending = OnboardingEvent.objects.count() if watermark is None else funnel_events_since(watermark, limit=10**12)
        started = time.monotonic()
        with tqdm(total=pending, unit="event", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            report = _Progress(bar, self.stderr, started)
            if rebuild:
                outcome = funnel_rebuild(progress=report)
            else:
                outcome = funnel_fold(chunk_events=chunk_size, progress=report)
        until = outcome.folded_until.isoformat() if outcome.folded_until else "—"
        self.stdout.write(
            f"Folded {outcome.events} events of {outcome.sessions} session changes in {outcome.chunks} chunks "
            f"({time.monotonic() - started:.1f} s); the rollups hold everything committed before {until}."
        )


class _Progress:
    """Advance the bar on a terminal; elsewhere write a line every 10 seconds."""

    def __init__(self, bar, stderr, started: float):
        self.bar, self.stderr, self.last, self.done = bar, stderr, started, 0

    def __call__(self, outcome) -> None:
        self.bar.update(outcome.events - self.done)
        self.done = outcome.events
        if self.bar.disable and time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            self.stderr.write(f"folded {outcome.events} events so far, up to {outcome.folded_until.isoformat()}")
