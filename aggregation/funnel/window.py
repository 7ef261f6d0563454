"""Read the funnel of a start window: rollup rows for whole days and hours, computed edges, the tail.

A window ``[started_after, started_before)`` is cut into

- whole UTC days: one rollup row per day and step (30 days: 180 rows);
- whole hours between the window's edges and the first/last whole day: hour rows (at most 46
  per step);
- the partial hours at its very edges (a window from 10:30): computed from those sessions
  directly (``funnel_direct``), which costs what one hour of sessions costs.

The rollups hold what the fold has folded (before its watermark); the events created and the
sessions started since are added by computing the fold's delta without storing it. So a read
is exact at the moment it runs, however far behind the worker is — as long as it is not
behind by more than ``ONBOARDING_FUNNEL_PENDING_MAX`` events; then (or when nothing was ever
folded) the window is computed directly, correct and slow, and a warning is logged.
"""

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from ..models import FunnelRollup
from .direct import funnel_direct
from .figures import COUNTERS, StepFigures
from .fold import funnel_delta, funnel_events_since, funnel_watermark

logger = logging.getLogger(__name__)

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@dataclass(frozen=True)
class WindowParts:
    """A start window cut into rollup-sized pieces; None bounds are open."""

    days: tuple[datetime | None, datetime | None] | None = None
    hours: tuple[tuple[datetime, datetime], ...] = ()
    direct: tuple[tuple[datetime | None, datetime | None], ...] = field(default=())

    def covers_hour(self, hour: datetime) -> bool:
        """Tell whether sessions started in ``hour`` are read from rollups (not computed directly)."""
        if self.days is not None and _within(hour, *self.days):
            return True
        return any(start <= hour < end for start, end in self.hours)


def window_parts(started_after: datetime | None, started_before: datetime | None) -> WindowParts:
    """Cut ``[started_after, started_before)`` into whole days, whole hours and partial-hour edges."""
    try:
        return _window_parts(started_after, started_before)
    except OverflowError:  # the calendar's last day has no next hour: that window is computed directly
        return WindowParts(direct=((started_after, started_before),))


def _window_parts(started_after: datetime | None, started_before: datetime | None) -> WindowParts:
    first_hour = _ceil(started_after, HOUR) if started_after is not None else None
    last_hour = _floor(started_before, HOUR) if started_before is not None else None
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return WindowParts(direct=((started_after, started_before),))  # no whole hour inside
    direct = []
    if started_after is not None and started_after != first_hour:
        direct.append((started_after, first_hour))
    if started_before is not None and started_before != last_hour:
        direct.append((last_hour, started_before))
    first_day = _ceil(first_hour, DAY) if first_hour is not None else None
    last_day = _floor(last_hour, DAY) if last_hour is not None else None
    if first_day is not None and last_day is not None and first_day >= last_day:
        return WindowParts(hours=((first_hour, last_hour),), direct=tuple(direct))  # no whole day inside
    hours = []
    if first_hour is not None and first_hour != first_day:
        hours.append((first_hour, first_day))
    if last_hour is not None and last_hour != last_day:
        hours.append((last_day, last_hour))
    return WindowParts(days=(first_day, last_day), hours=tuple(hours), direct=tuple(direct))


def funnel_figures(
    *, started_after: datetime | None = None, started_before: datetime | None = None, flag: str = "", arm: str = ""
) -> dict[str, StepFigures]:
    """Return, per step key, the funnel figures of the counted sessions started in the window.

    ``flag``/``arm`` ("" for every session) select an experiment arm's sessions.
    """
    totals: dict[str, StepFigures] = {}

    def add(step: str, figures: StepFigures) -> None:
        totals.setdefault(step, StepFigures()).add(figures)

    with one_snapshot():
        watermark = funnel_watermark()
        behind = (
            watermark is not None
            and funnel_events_since(watermark, limit=settings.ONBOARDING_FUNNEL_PENDING_MAX + 1)
            > settings.ONBOARDING_FUNNEL_PENDING_MAX
        )
        if watermark is None or behind:
            if behind:
                logger.warning(
                    "the funnel's rollups are more than %s events behind: computing the window directly",
                    settings.ONBOARDING_FUNNEL_PENDING_MAX,
                )
            parts = WindowParts(direct=((started_after, started_before),))
        else:
            parts = window_parts(started_after, started_before)
            for step, figures in _rollups_by_step(parts, flag=flag, arm=arm).items():
                add(step, figures)
            for (hour, row_flag, row_arm, step), figures in funnel_delta(since=watermark, until=None).figures.items():
                if (row_flag, row_arm) == (flag, arm) and parts.covers_hour(hour):
                    add(step, figures)
        for after, before in parts.direct:
            direct = funnel_direct(started_after=after, started_before=before, flag=flag, arm=arm)
            for (_, row_flag, row_arm, step), figures in direct.items():
                if (row_flag, row_arm) == (flag, arm):
                    add(step, figures)
    return totals


def _rollups_by_step(parts: WindowParts, *, flag: str, arm: str) -> dict[str, StepFigures]:
    """Add up the window's day and hour rows per step (index uniq_funnel_rollup; ~6 rows a day)."""
    periods = Q()
    if parts.days is not None:
        periods |= Q(granularity=FunnelRollup.Granularity.DAY, **_range(*parts.days))
    for start, end in parts.hours:
        periods |= Q(granularity=FunnelRollup.Granularity.HOUR, **_range(start, end))
    if not periods:
        return {}
    rows = FunnelRollup.objects.filter(periods, flag=flag, arm=arm).values_list("step", "durations", *COUNTERS)
    counters: dict[str, list[int]] = {}
    durations: dict[str, Counter] = {}
    for step, histogram, *values in rows:
        sums = counters.setdefault(step, [0] * len(COUNTERS))
        for i, value in enumerate(values):
            sums[i] += value
        merged = durations.setdefault(step, Counter())
        for bucket, n in histogram.items():
            merged[bucket] += n
    return {
        step: StepFigures(
            **dict(zip(COUNTERS, sums, strict=False)),
            durations=Counter({int(b): n for b, n in durations[step].items()}),
        )
        for step, sums in counters.items()
    }


@contextmanager
def one_snapshot():
    """Run the block's reads in one snapshot, so a fold committing meanwhile is not seen half-way.

    PostgreSQL: a REPEATABLE READ transaction; inside an enclosing transaction, that one as it is.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _range(start: datetime | None, end: datetime | None) -> dict:
    lookups = {}
    if start is not None:
        lookups["period_start__gte"] = start
    if end is not None:
        lookups["period_start__lt"] = end
    return lookups


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def _floor(moment: datetime, unit: timedelta) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit
