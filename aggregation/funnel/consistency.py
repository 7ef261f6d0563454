"""The rollups' check and rebuild: compare them with a direct computation, and build them again."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from ..models import FunnelRollup, FunnelSessionMarks
from .direct import funnel_direct
from .figures import COUNTERS, StepFigures
from .fold import (
    FoldOutcome,
    figures_by_period,
    fold_state_locked,
    funnel_delta,
    funnel_fold,
    funnel_watermark,
    rollup_figures,
    rollup_key,
)
from .window import one_snapshot


@dataclass(frozen=True)
class FunnelDrift:
    granularity: str
    period_start: datetime
    flag: str
    arm: str
    step: str
    figure: str  # a counter, or "durations[<bucket>]"
    stored: int
    expected: int


def funnel_drift() -> list[FunnelDrift]:
    """Return every rollup figure that differs from the direct computation, in key order.

    Stored means what a read sees: the rollup rows plus what is not folded yet. Both sides are
    read in one snapshot, so sessions written meanwhile cannot show as drift.
    """
    with one_snapshot():
        stored = {rollup_key(row): rollup_figures(row) for row in FunnelRollup.objects.all()}
        watermark = funnel_watermark()
        if watermark is not None:
            for key, figures in figures_by_period(funnel_delta(since=watermark, until=None).figures).items():
                stored.setdefault(key, StepFigures()).add(figures)
        expected = figures_by_period(funnel_direct(by_hour=True))
    drift = []
    for key in sorted(set(stored) | set(expected)):
        have, want = stored.get(key, StepFigures()), expected.get(key, StepFigures())
        for name in COUNTERS:
            if getattr(have, name) != getattr(want, name):
                drift.append(FunnelDrift(*key, figure=name, stored=getattr(have, name), expected=getattr(want, name)))
        for bucket in sorted(set(have.durations) | set(want.durations)):
            if have.durations.get(bucket, 0) != want.durations.get(bucket, 0):
                drift.append(
                    FunnelDrift(
                        *key,
                        figure=f"durations[{bucket}]",
                        stored=have.durations.get(bucket, 0),
                        expected=want.durations.get(bucket, 0),
                    )
                )
    return drift


def funnel_rebuild(*, progress: Callable[[FoldOutcome], None] | None = None) -> FoldOutcome:
    """Throw the rollups away and fold every event and session again from the beginning.

    Reads stay exact meanwhile: with the watermark reset they compute directly until the fold
    has caught up (``aggregation.funnel.window``).
    """
    with transaction.atomic():
        state = fold_state_locked(wait=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {FunnelRollup._meta.db_table}, {FunnelSessionMarks._meta.db_table}")
        else:
            FunnelRollup.objects.all().delete()
            FunnelSessionMarks.objects.all().delete()
        state.folded_until = state.folded_at = None
        state.save(update_fields=["folded_until", "folded_at"])
    return funnel_fold(progress=progress)
