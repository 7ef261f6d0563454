"""Decide a flag again for every onboarding session in progress (staff's re-decision), with progress."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onboarding.manifest import MANIFEST_FLAGS
from onboarding.models import OnboardingEvent
from onboarding.selectors import sessions_in_flight
from onboarding.services import flag_redecide_in_flight


class Command(BaseCommand):
    help = (
        "Decide a feature flag again for every in-progress onboarding session. A session whose decision "
        "changes is reset: it keeps the answers that still validate, shows a notice and records a reset event."
    )

    def add_arguments(self, parser):
        parser.add_argument("flag", help=f"A flag the onboarding manifest uses: {', '.join(MANIFEST_FLAGS)}.")
        parser.add_argument("--batch-size", type=int, default=200, help="Sessions read per query (default 200).")

    def handle(self, *args, flag, batch_size, **options):
        if flag not in MANIFEST_FLAGS:
            raise CommandError(f"{flag!r} is not a flag the onboarding manifest uses ({', '.join(MANIFEST_FLAGS)}).")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        total = sessions_in_flight().count()
        with tqdm(total=total, unit="session", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            summary = flag_redecide_in_flight(
                flag=flag,
                source=OnboardingEvent.Source.ADMIN,
                batch_size=batch_size,
                on_batch=bar.update,
            )
        self.stdout.write(
            f"{flag}: {summary['reset'] + summary['unchanged']} sessions in progress: "
            f"{summary['reset']} reset (decision changed), {summary['unchanged']} unchanged"
        )
