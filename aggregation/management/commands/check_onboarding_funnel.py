"""Compare the funnel's rollups with a direct computation from sessions and events; report or repair drift."""

from django.core.management.base import BaseCommand, CommandError

from aggregation.funnel import SESSIONS, funnel_drift, funnel_rebuild, funnel_watermark

SHOWN = 50  # drift lines printed at most


class Command(BaseCommand):
    help = (
        "Compare the funnel's rollups (plus what is not folded yet) with a direct computation from the "
        "onboarding sessions and events; exit 1 on drift. --repair rebuilds them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Rebuild the rollups when they drifted.")

    def handle(self, *args, repair, **options):
        if funnel_watermark() is None and not repair:
            self.stdout.write(
                "No rollups yet: the funnel is computed directly until backfill_onboarding_funnel "
                "(or the beat task) builds them; --repair builds them now."
            )
            return
        drift = funnel_drift()
        for d in drift[:SHOWN]:
            step = "(sessions)" if d.step == SESSIONS else d.step
            self.stdout.write(
                f"{d.granularity} {d.period_start.isoformat()} {step}{f' [{d.flag}={d.arm}]' if d.flag else ''} "
                f"{d.figure}: stored {d.stored}, expected {d.expected}"
            )
        if len(drift) > SHOWN:
            self.stdout.write(f"… and {len(drift) - SHOWN} more")
        if not drift:
            self.stdout.write("The funnel's rollups match the sessions and events.")
        elif repair:
            outcome = funnel_rebuild()
            remaining = funnel_drift()
            if remaining:
                raise CommandError(
                    f"{len(remaining)} figures still differ after the rebuild (sessions written meanwhile?)"
                )
            self.stdout.write(
                f"Rebuilt the rollups ({outcome.events} events folded): {len(drift)} drifted figures repaired."
            )
        else:
            raise CommandError(f"{len(drift)} funnel figures drifted; run with --repair to rebuild the rollups.")
