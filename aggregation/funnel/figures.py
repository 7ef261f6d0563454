"""The funnel's rules, each once: a session's marks, its arms, which events count, duration buckets.

Every path that produces funnel figures (the direct computation, the fold into rollups, the
not-yet-folded tail a read adds) goes through these functions, so they cannot disagree.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from django.db.models import Case, FloatField, IntegerField, Value, When
from django.db.models.functions import Cast, Floor, Ln

from onboarding.flow import steps_reached
from onboarding.manifest import STEP_KEYS, session_manifest, step_index
from onboarding.models import OnboardingEvent, OnboardingSession

Name = OnboardingEvent.Name

# Friction per step, by event name. The browser's events (source "browser") are counted by their
# names. A friction figure counts the *sessions* that met it on the step, so that no single session
# can inflate it; its ``*_occurrences`` twin says how often, each session counting at most
# FRICTION_CAP_PER_SESSION times per step and figure. Changing the cap needs
# ``backfill_onboarding_funnel --rebuild`` (the rollups hold capped counts).
FRICTION_CAP_PER_SESSION = 10
FRICTION_COUNTERS = {
    Name.VALIDATION_FAILED: "validation_failures",
    Name.REVISION_CONFLICT: "conflicts",
    Name.CONFLICT_SHOWN: "conflicts",
    Name.SAVE_RETRIED: "retries",
    Name.SAVE_QUEUED: "queued_saves",
}
# The end of a step: its duration_ms is the time spent on the step.
TIMED_EVENTS = frozenset({Name.STEP_SAVED, Name.STEP_SKIPPED})
FRICTION_EVENTS = frozenset(FRICTION_COUNTERS)
COUNTED_EVENTS = FRICTION_EVENTS | TIMED_EVENTS
MARKS = ("reached", "completed", "skipped")
FRICTION = ("validation_failures", "conflicts", "retries", "queued_saves")
OCCURRENCES = {name: f"{name}_occurrences" for name in FRICTION}
COUNTERS = MARKS + FRICTION + tuple(OCCURRENCES.values())
_STEPS = frozenset(STEP_KEYS)
# The figures (and rollup rows) of step "" count the sessions themselves: ``reached`` every counted
# session, ``completed`` those that completed onboarding (the experiment readout's sample sizes).
SESSIONS = ""

# The duration histogram: bucket 0 holds durations under 1 ms, bucket k >= 1 holds
# [BASE^(k-1), BASE^k) ms. A percentile is read as the geometric middle of its bucket, BASE^(k-1/2),
# so it is within BUCKET_ERROR of the exact value (relative), plus 0.5 ms of rounding.
BUCKET_BASE = 1.1
BUCKET_ERROR = math.sqrt(BUCKET_BASE) - 1  # 4.88 %


def duration_bucket():
    """Return the histogram bucket of an event's ``duration_ms`` as an expression the database computes.

    One definition for every query that buckets durations (null when there is no duration).
    """
    return Case(
        When(duration_ms__isnull=True, then=Value(None)),
        When(duration_ms__lt=1, then=Value(0)),
        default=Cast(Floor(Ln(Cast("duration_ms", FloatField())) / Value(math.log(BUCKET_BASE))), IntegerField()) + 1,
        output_field=IntegerField(),
    )


def bucket_value(bucket: int) -> float:
    """Return the value a bucket stands for: the geometric middle of its range."""
    return 0.0 if bucket <= 0 else BUCKET_BASE ** (bucket - 0.5)


def histogram_percentile(durations: dict, fraction: float) -> int | None:
    """Return the ``fraction`` percentile (0.5: the median) of a histogram, as ``percentile_cont`` interpolates."""
    buckets = sorted((int(bucket), n) for bucket, n in durations.items() if n > 0)
    total = sum(n for _, n in buckets)
    if not total:
        return None
    position = (total - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    low, high = _value_at_rank(buckets, lower), _value_at_rank(buckets, upper)
    return round(low + (high - low) * (position - lower))


def _value_at_rank(buckets: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for bucket, n in buckets:
        seen += n
        if rank < seen:
            return bucket_value(bucket)
    return bucket_value(buckets[-1][0])


@dataclass
class StepFigures:
    """The funnel's figures of one step over some sessions; added and subtracted as sessions change."""

    reached: int = 0
    completed: int = 0
    skipped: int = 0
    validation_failures: int = 0
    conflicts: int = 0
    retries: int = 0
    queued_saves: int = 0
    validation_failures_occurrences: int = 0
    conflicts_occurrences: int = 0
    retries_occurrences: int = 0
    queued_saves_occurrences: int = 0
    durations: Counter = field(default_factory=Counter)  # {bucket: events}

    def add(self, other: "StepFigures", sign: int = 1) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        for bucket, n in other.durations.items():
            self.durations[int(bucket)] += sign * n

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in COUNTERS) and not any(self.durations.values())

    @property
    def dropped(self) -> int:
        return max(self.reached - self.completed - self.skipped, 0)

    @property
    def median_ms(self) -> int | None:
        return histogram_percentile(self.durations, 0.5)

    @property
    def p90_ms(self) -> int | None:
        return histogram_percentile(self.durations, 0.9)


# Figures keyed by (start hour or None, flag, arm, step): the unit every path adds up.
Figures = dict[tuple[datetime | None, str, str, str], StepFigures]


def new_figures() -> Figures:
    return defaultdict(StepFigures)


def start_hour(started_at: datetime) -> datetime:
    """Return the (UTC) hour a session started in: the key of its rollup rows."""
    return started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def session_arms(flags) -> tuple[tuple[str, str], ...]:
    """Return the (flag, arm) rows a session counts in: ("", "") for all, and one per flag it carries."""
    arms = [("", "")]
    if isinstance(flags, dict):
        arms += [(name, "on" if value else "off") for name, value in sorted(flags.items()) if isinstance(value, bool)]
    return tuple(arms)


def session_marks(state: str, completed_steps, skipped_steps, flags) -> tuple[tuple, tuple, tuple, bool] | None:
    """Return the steps a session (reached, completed, skipped) and whether it completed onboarding.

    None when the funnel ignores it: a superseded session (a staff reset). Reached is
    ``onboarding.flow.steps_reached`` over the session's own steps (a step its flags leave out
    is never reached; a completed session reached every other); a step both done and skipped counts as done.
    """
    if state == OnboardingSession.State.SUPERSEDED:
        return None
    steps = session_manifest(flags if isinstance(flags, dict) else None).step_keys
    return _marks(
        state == OnboardingSession.State.COMPLETED, tuple(completed_steps or ()), tuple(skipped_steps or ()), steps
    )


@lru_cache(maxsize=4096)  # a few hundred shapes of progress cover millions of sessions
def _marks(completed_session: bool, done: tuple, skipped: tuple, steps: tuple) -> tuple[tuple, tuple, tuple, bool]:
    done, skipped = set(done), set(skipped)
    reached = tuple(steps_reached(done=done, skipped=skipped, completed=completed_session, steps=steps))
    return (
        reached,
        tuple(key for key in reached if key in done),
        tuple(key for key in reached if key in skipped and key not in done),
        completed_session,
    )


def marks_to_bits(marks: tuple[tuple, tuple, tuple, bool]) -> tuple[int, int, int, bool]:
    """Return (reached, completed, skipped) as bit sets over the manifest's steps (bit i: STEP_KEYS[i]), and finished."""
    return (*(sum(1 << step_index(step) for step in steps) for steps in marks[:3]), marks[3])


@lru_cache(maxsize=4096)
def marks_from_bits(reached: int, completed: int, skipped: int, finished: bool) -> tuple[tuple, tuple, tuple, bool]:
    """Return the marks stored as bit sets by ``marks_to_bits``."""
    steps = tuple(
        tuple(key for i, key in enumerate(STEP_KEYS) if bits >> i & 1) for bits in (reached, completed, skipped)
    )
    return (*steps, finished)


def add_marks(figures: Figures, *, hour, arms, marks, sign: int = 1, n: int = 1) -> None:
    """Add (or, with sign -1, take away) ``n`` sessions' marks, and the sessions themselves (step "")."""
    for flag, arm in arms:
        for counter, steps in zip(MARKS, marks, strict=False):
            for step in steps:
                target = figures[(hour, flag, arm, step)]
                setattr(target, counter, getattr(target, counter) + sign * n)
        sessions = figures[(hour, flag, arm, SESSIONS)]
        sessions.reached += sign * n
        if marks[3]:
            sessions.completed += sign * n


def add_event(figures: Figures, *, hour, arms, name: str, step: str, bucket, sign: int = 1, n: int = 1) -> None:
    """Add (or take away) ``n`` timed events of one name on one step: their duration. Friction is per session."""
    if step not in _STEPS or bucket is None or name not in TIMED_EVENTS:
        return
    for flag, arm in arms:
        figures[(hour, flag, arm, step)].durations[bucket] += sign * n


# One session's friction: ((step, counter), capped count) pairs, sorted; () when it met none.
Friction = tuple[tuple[tuple[str, str], int], ...]


def session_friction(counts) -> Friction:
    """Return a session's friction from its friction events, given as (name, step, n) triples."""
    met: Counter = Counter()
    for name, step, n in counts:
        counter = FRICTION_COUNTERS.get(name)
        if counter is not None and step in _STEPS:
            met[(step, counter)] += n
    return tuple(sorted((key, min(n, FRICTION_CAP_PER_SESSION)) for key, n in met.items() if n > 0))


def friction_to_json(friction: Friction) -> dict:
    """Return a session's friction as stored in its marks row: ``{step: {counter: capped count}}``."""
    stored: dict = {}
    for (step, counter), n in friction:
        stored.setdefault(step, {})[counter] = n
    return stored


def friction_from_json(stored) -> Friction:
    """Return the friction stored by ``friction_to_json``."""
    if not isinstance(stored, dict):
        return ()
    return tuple(sorted(((step, counter), n) for step, counters in stored.items() for counter, n in counters.items()))


def add_friction(figures: Figures, *, hour, arms, friction: Friction, sign: int = 1) -> None:
    """Add (or take away) one session's friction: one session per figure it met, and its capped count."""
    for flag, arm in arms:
        for (step, counter), n in friction:
            target = figures[(hour, flag, arm, step)]
            setattr(target, counter, getattr(target, counter) + sign)
            occurrences = OCCURRENCES[counter]
            setattr(target, occurrences, getattr(target, occurrences) + sign * n)
