"""Recompute the answer totals from the snapshots; report or repair any drift."""

from django.core.management.base import BaseCommand, CommandError

from aggregation.snapshots.consistency import totals_drift, totals_repair


class Command(BaseCommand):
    help = (
        "Compare onboarding_answer_group_totals and onboarding_answer_arm_totals with a recomputation "
        "from the snapshots (exit 1 on drift)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Set drifted totals to the recomputed counts.")

    def handle(self, *args, repair, **options):
        drift = totals_repair() if repair else totals_drift()
        for d in drift:
            self.stdout.write(str(d))
        if not drift:
            self.stdout.write("Totals match the snapshots.")
        elif repair:
            self.stdout.write(f"Repaired {len(drift)} drifted totals.")
        else:
            raise CommandError(f"{len(drift)} totals drifted from the snapshots; run with --repair to fix them.")
