"""The fold: the worker adds new telemetry and session changes to the funnel's rollups, exactly once.

Nothing here runs in a user's request: the session writes keep their statements, and a beat
task (``aggregation.fold_onboarding_funnel``) folds in the background. Exactly once rests on the
committed horizon (``aggregation.horizon``, the export's rule): the watermark only moves to a time
before which every event and session is committed, so nothing committed late is ever skipped,
and every event is folded by exactly one chunk (``since <= created_at < until``).

What a chunk does, for every session it touches (an event of it in the chunk, or started in it):

- the session's *marks* (reached / completed / skipped per step) are read from its row now, and
  its *friction* (``figures.session_friction``: per step and figure, capped) is counted from all
  its friction events before the chunk's end; the difference from what ``FunnelSessionMarks`` says
  they added before goes into the rollups — back navigation un-marks, completion marks every step
  reached, a session meeting friction again on a step adds at most its cap;
- its timed events in the chunk add their durations;
- a session that stopped counting (superseded by a staff reset, deleted) takes everything it
  added out again: its marks and the events folded before; one seen for the first time (or whose
  start or flags changed) adds its whole history.

Lock order: the one ``FunnelFoldState`` row (FOR UPDATE), then marks and rollup rows, so two
folds (the beat task and the backfill command) take turns chunk by chunk.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from onboarding.models import OnboardingEvent, OnboardingSession

from ..horizon import committed_horizon
from ..models import FunnelFoldState, FunnelRollup, FunnelSessionMarks
from .figures import (
    COUNTERS,
    FRICTION_EVENTS,
    TIMED_EVENTS,
    Figures,
    StepFigures,
    add_event,
    add_friction,
    add_marks,
    duration_bucket,
    friction_from_json,
    friction_to_json,
    marks_from_bits,
    marks_to_bits,
    new_figures,
    session_arms,
    session_friction,
    session_marks,
    start_hour,
)

logger = logging.getLogger(__name__)

CHUNK_EVENTS = 20_000  # events per fold transaction
ID_BATCH = 5_000  # ids per IN (...) list


@dataclass
class FunnelDelta:
    """What the events and session changes since a watermark add to the rollups."""

    figures: Figures
    marks_written: list[FunnelSessionMarks] = field(default_factory=list)
    marks_deleted: list = field(default_factory=list)
    events: int = 0
    sessions: int = 0


@dataclass
class FoldOutcome:
    chunks: int = 0
    events: int = 0
    sessions: int = 0
    folded_until: datetime | None = None
    busy: bool = False  # another fold held the state row (only when not waiting)


def fold_horizon() -> datetime:
    """Return how far a fold may go now: the committed horizon, less the configured lag.

    The lag covers a writer that stamps ``created_at`` a moment before its transaction's first
    statement (an autocommit insert), which the horizon's skew margin alone might not. It
    costs no freshness: a read adds whatever is not folded yet (``funnel_delta``).
    """
    return committed_horizon() - timedelta(seconds=settings.ONBOARDING_FUNNEL_FOLD_LAG)


def funnel_fold(
    *,
    wait: bool = True,
    max_seconds: float | None = None,
    chunk_events: int = CHUNK_EVENTS,
    progress: Callable[[FoldOutcome], None] | None = None,
) -> FoldOutcome:
    """Fold everything committed before the horizon into the rollups, one transaction per chunk.

    ``wait=False`` gives up at once when another fold holds the state (the beat task); ``max_seconds``
    stops between chunks (the next run goes on from the watermark).
    """
    horizon, started, outcome = fold_horizon(), time.monotonic(), FoldOutcome()
    while True:
        with transaction.atomic():
            state = fold_state_locked(wait=wait)
            if state is None:
                outcome.busy = True
                return outcome
            since = outcome.folded_until = state.folded_until
            if since is not None and since >= horizon:
                return outcome
            until = _chunk_end(since, horizon, chunk_events)
            delta = funnel_delta(since=since, until=until)
            if since is None and not (delta.events or delta.sessions):
                return outcome  # nothing recorded yet: stay "never folded" and write nothing
            _apply(delta)
            state.folded_until, state.folded_at = until, timezone.now()
            state.save(update_fields=["folded_until", "folded_at"])
        outcome.chunks += 1
        outcome.events += delta.events
        outcome.sessions += delta.sessions
        outcome.folded_until = until
        if progress is not None:
            progress(outcome)
        if until >= horizon or (max_seconds is not None and time.monotonic() - started >= max_seconds):
            return outcome


def funnel_watermark() -> datetime | None:
    """Return the fold's watermark, or None when nothing was ever folded."""
    return FunnelFoldState.objects.filter(pk=1).values_list("folded_until", flat=True).first()


def funnel_events_since(since: datetime, *, limit: int) -> int:
    """Return how many events were created since ``since``, counting no further than ``limit``."""
    return OnboardingEvent.objects.filter(created_at__gte=since)[:limit].count()


def funnel_delta(*, since: datetime | None, until: datetime | None) -> FunnelDelta:
    """Return what the events created and the sessions started in ``[since, until)`` add to the rollups.

    ``until=None`` is "up to now": what a read adds to the rollups, computed but not stored.
    """
    events = OnboardingEvent.objects.order_by()
    started = OnboardingSession.objects.order_by()
    if since is not None:
        events, started = events.filter(created_at__gte=since), started.filter(started_at__gte=since)
    if until is not None:
        events, started = events.filter(created_at__lt=until), started.filter(started_at__lt=until)
    rows = list(events.values_list("session_id", "name", "step", duration_bucket()))
    touched = {row[0] for row in rows} | set(started.values_list("id", flat=True))
    delta = FunnelDelta(figures=new_figures(), events=len(rows), sessions=len(touched))
    contributions = {}  # session id -> (hour, arms) its new events count under, if it counts
    history = {}  # session id -> [(hour, arms, sign)]: its events before ``since``, moved between keys
    for session_id, now, before in _session_changes(touched, until=until):
        contributions[session_id] = _session_delta(delta, session_id, now, before, history)
    for session_id, name, step, bucket in rows:
        key = contributions.get(session_id)
        if key is not None:
            add_event(delta.figures, hour=key[0], arms=key[1], name=name, step=step, bucket=bucket)
    if since is not None and history:
        _history_delta(delta.figures, history, before=since)
    return delta


def _session_delta(delta: FunnelDelta, session_id, now: dict | None, before: dict | None, history: dict):
    """Add one touched session's change of marks and friction; return the key its new events count under, if any."""
    old_marks = marks_from_bits(*before["marks"]) if before is not None else None
    old_friction = before["friction"] if before is not None else ()
    new_friction = now["friction"] if now is not None else ()
    old_key = (start_hour(before["started_at"]), session_arms(before["flags"])) if before is not None else None
    new_marks = (
        session_marks(now["state"], now["completed_steps"], now["skipped_steps"], now["flags"])
        if now is not None
        else None
    )
    new_key = (start_hour(now["started_at"]), session_arms(now["flags"])) if new_marks is not None else None
    if old_key == new_key:  # counted before and now under the same key (or neither): marks may differ
        if new_key is not None and (new_marks, new_friction) != (old_marks, old_friction):
            add_marks(delta.figures, hour=new_key[0], arms=new_key[1], marks=old_marks, sign=-1)
            add_friction(delta.figures, hour=new_key[0], arms=new_key[1], friction=old_friction, sign=-1)
            add_marks(delta.figures, hour=new_key[0], arms=new_key[1], marks=new_marks)
            add_friction(delta.figures, hour=new_key[0], arms=new_key[1], friction=new_friction)
            delta.marks_written.append(_marks_row(session_id, now, new_marks))
        return new_key
    if old_key is not None:  # stopped counting (superseded, deleted) or moved: take out all it added
        add_marks(delta.figures, hour=old_key[0], arms=old_key[1], marks=old_marks, sign=-1)
        add_friction(delta.figures, hour=old_key[0], arms=old_key[1], friction=old_friction, sign=-1)
        history.setdefault(session_id, []).append((*old_key, -1))
        if new_key is None:
            delta.marks_deleted.append(session_id)
    if new_key is not None:  # seen for the first time, or moved: add all of it
        add_marks(delta.figures, hour=new_key[0], arms=new_key[1], marks=new_marks)
        add_friction(delta.figures, hour=new_key[0], arms=new_key[1], friction=new_friction)
        history.setdefault(session_id, []).append((*new_key, 1))
        delta.marks_written.append(_marks_row(session_id, now, new_marks))
    return new_key


def _marks_row(session_id, now: dict, marks: tuple) -> FunnelSessionMarks:
    reached, completed, skipped, finished = marks_to_bits(marks)
    return FunnelSessionMarks(
        session_id=session_id,
        started_at=now["started_at"],
        flags=now["flags"] or {},
        reached=reached,
        completed=completed,
        skipped=skipped,
        finished=finished,
        friction=friction_to_json(now["friction"]),
    )


def funnel_forget(*, session_ids: list) -> int:
    """Take sessions about to be deleted out of the rollups: what their marks and folded events added.

    The caller owns the transaction and deletes the sessions and their events in it, after this
    (``aggregation.erasure``): the fold state is held until then, so no fold sees them half-gone,
    and their events not folded yet are deleted before any fold reaches them. Returns how many
    sessions had been counted.
    """
    state = fold_state_locked(wait=True)
    if state.folded_until is None or not session_ids:
        return 0
    delta, history = FunnelDelta(figures=new_figures()), {}
    for session_id, _now, before in _session_changes(set(session_ids), until=None):
        if before is not None:
            _session_delta(delta, session_id, None, before, history)
    _history_delta(delta.figures, history, before=state.folded_until)
    _apply(delta)
    return len(delta.marks_deleted)


def _session_changes(touched: set, *, until: datetime | None):
    """Yield (id, the session's row now or None if deleted, what its marks added or None) per touched session.

    The row now carries the session's friction, counted from its friction events created before ``until``.
    """
    ids = list(touched)
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start : start + ID_BATCH]
        rows = OnboardingSession.objects.filter(pk__in=batch).values(
            "id",
            "state",
            "started_at",
            completed_steps=F("data__completed_steps"),
            skipped_steps=F("data__skipped_steps"),
            flags=F("data__flags"),
        )
        now = {row["id"]: {**row, "friction": ()} for row in rows}
        for session_id, friction in _sessions_friction(list(now), until=until).items():
            now[session_id]["friction"] = friction
        stored = FunnelSessionMarks.objects.filter(session_id__in=batch).values_list(
            "session_id", "started_at", "flags", "friction", "reached", "completed", "skipped", "finished"
        )
        before = {
            row[0]: {"started_at": row[1], "flags": row[2], "friction": friction_from_json(row[3]), "marks": row[4:]}
            for row in stored
        }
        for session_id in batch:
            yield session_id, now.get(session_id), before.get(session_id)


def _sessions_friction(ids: list, *, until: datetime | None) -> dict:
    """Return each session's friction from its friction events created before ``until`` (index onb_event_session_time)."""
    events = OnboardingEvent.objects.filter(session_id__in=ids, name__in=FRICTION_EVENTS).order_by()
    if until is not None:
        events = events.filter(created_at__lt=until)
    counts: dict = {}
    for session_id, name, step, n in events.values_list("session_id", "name", "step").annotate(n=Count("id")):
        counts.setdefault(session_id, []).append((name, step, n))
    return {session_id: session_friction(rows) for session_id, rows in counts.items()}


def _history_delta(figures: Figures, history: dict, *, before: datetime) -> None:
    """Move the timed events folded before ``before`` of the sessions whose key changed (out, in, or both).

    Their friction moves with their marks (``_session_delta``): it is stored per session.
    """
    ids = list(history)
    for start in range(0, len(ids), ID_BATCH):
        events = OnboardingEvent.objects.filter(
            session_id__in=ids[start : start + ID_BATCH], created_at__lt=before, name__in=TIMED_EVENTS
        )
        for session_id, name, step, bucket in events.order_by().values_list(
            "session_id", "name", "step", duration_bucket()
        ):
            for hour, arms, sign in history[session_id]:
                add_event(figures, hour=hour, arms=arms, name=name, step=step, bucket=bucket, sign=sign)


def fold_state_locked(*, wait: bool) -> FunnelFoldState | None:
    """Return the fold state row locked FOR UPDATE (creating it once), or None if busy and not waiting.

    The caller owns the transaction; holding this row is what makes a fold (or a rebuild) the only one.
    """
    FunnelFoldState.objects.bulk_create([FunnelFoldState(pk=1)], ignore_conflicts=True)
    return FunnelFoldState.objects.select_for_update(skip_locked=not wait).filter(pk=1).first()


def _chunk_end(since: datetime | None, horizon: datetime, size: int) -> datetime:
    """Return where the next chunk ends: after about ``size`` events, and never past ``horizon``."""
    events = OnboardingEvent.objects.filter(created_at__lt=horizon)
    if since is not None:
        events = events.filter(created_at__gte=since)
    cut = events.order_by("created_at").values_list("created_at", flat=True)[size : size + 1].first()
    if cut is None:
        return horizon
    if since is not None and cut <= since:  # more than ``size`` events at one instant: take them all
        cut = events.filter(created_at__gt=since).order_by("created_at").values_list("created_at", flat=True).first()
    return cut or horizon


def _apply(delta: FunnelDelta) -> None:
    """Store a delta: the sessions' marks, then the hour and day rollup rows it changes."""
    if delta.marks_written:
        FunnelSessionMarks.objects.bulk_create(
            delta.marks_written,
            update_conflicts=True,
            unique_fields=["session_id"],
            update_fields=["started_at", "flags", "reached", "completed", "skipped", "finished", "friction"],
            batch_size=2000,
        )
    for start in range(0, len(delta.marks_deleted), ID_BATCH):
        FunnelSessionMarks.objects.filter(session_id__in=delta.marks_deleted[start : start + ID_BATCH]).delete()
    rollups_add(delta.figures)


def figures_by_period(figures: Figures) -> dict[tuple, StepFigures]:
    """Return hour-keyed figures added up by rollup row: (granularity, period start, flag, arm, step).

    Each hour's figures go to its hour row and to the row of its UTC day.
    """
    rows: dict[tuple, StepFigures] = {}
    for (hour, flag, arm, step), figure in figures.items():
        if figure.is_empty():
            continue
        for granularity, start in (
            (FunnelRollup.Granularity.HOUR, hour),
            (FunnelRollup.Granularity.DAY, hour.replace(hour=0)),
        ):
            rows.setdefault((granularity, start, flag, arm, step), StepFigures()).add(figure)
    return rows


def rollup_key(row: FunnelRollup) -> tuple:
    return row.granularity, row.period_start, row.flag, row.arm, row.step


def rollups_add(figures: Figures) -> None:
    """Add hour-keyed figures to their hour and day rollup rows (the caller holds the fold state)."""
    changes = figures_by_period(figures)
    if not changes:
        return
    stored = {rollup_key(row): row for row in _rollup_rows(changes)}
    write, remove = [], []
    for key, change in changes.items():
        total = rollup_figures(stored[key]) if key in stored else StepFigures()
        total.add(change)
        if total.is_empty():
            if key in stored:
                remove.append(stored[key].pk)
            continue
        if any(getattr(total, name) < 0 for name in COUNTERS) or any(n < 0 for n in total.durations.values()):
            logger.warning("funnel rollup %s went below zero: run check_onboarding_funnel", key)
        granularity, start, flag, arm, step = key
        write.append(
            FunnelRollup(
                granularity=granularity,
                period_start=start,
                flag=flag,
                arm=arm,
                step=step,
                durations={str(bucket): n for bucket, n in sorted(total.durations.items()) if n},
                **{name: getattr(total, name) for name in COUNTERS},
            )
        )
    FunnelRollup.objects.filter(pk__in=remove).delete()
    FunnelRollup.objects.bulk_create(
        write,
        update_conflicts=True,
        unique_fields=["flag", "arm", "granularity", "period_start", "step"],
        update_fields=[*COUNTERS, "durations"],
        batch_size=1000,
    )


def _rollup_rows(keys) -> list[FunnelRollup]:
    """Return the stored rollup rows of ``keys``, looked up through index uniq_funnel_rollup."""
    starts: dict[tuple, set] = {}
    for granularity, start, flag, arm, _ in keys:
        starts.setdefault((flag, arm, granularity), set()).add(start)
    lookup = Q()
    for (flag, arm, granularity), periods in starts.items():
        lookup |= Q(flag=flag, arm=arm, granularity=granularity, period_start__in=periods)
    return list(FunnelRollup.objects.filter(lookup))


def rollup_figures(row: FunnelRollup) -> StepFigures:
    """Return a rollup row's figures."""
    figures = StepFigures(**{name: getattr(row, name) for name in COUNTERS})
    figures.durations.update({int(bucket): n for bucket, n in row.durations.items()})
    return figures
