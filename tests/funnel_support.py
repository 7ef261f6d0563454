"""Helpers of the funnel tests: sessions and events at chosen times, and an independent funnel.

``expected_funnel`` computes the staff funnel the plain way, in Python from every session and
event, sharing nothing with ``aggregation.funnel`` but the page-flow rule of which steps a
session reached (``onboarding.flow.steps_reached`` over its manifest): the rollups must equal it.
"""

import statistics
from collections import Counter, defaultdict

from aggregation.funnel import BUCKET_ERROR
from onboarding.flow import steps_reached
from onboarding.manifest import STEP_KEYS
from onboarding.models import OnboardingEvent, OnboardingSession
from onboarding.selectors import manifest_of

from .factories import OnboardingSessionFactory

CAP = 10  # friction occurrences counted per session, step and figure at most
OCCURRENCE_NAMES = (
    "validation_failures_occurrences",
    "conflicts_occurrences",
    "retries_occurrences",
    "queued_saves_occurrences",
)

FRICTION = {
    "validation_failed": "validation_failures",
    "revision_conflict": "conflicts",
    "conflict_shown": "conflicts",
    "save_retried": "retries",
    "save_queued": "queued_saves",
}


def session_at(started_at, *, done=(), skipped=(), state="in_progress", flags=None, **kwargs) -> OnboardingSession:
    """Create a session started at ``started_at`` with steps done or skipped (and its flags)."""
    session = OnboardingSessionFactory(done_steps=tuple(done), skipped=tuple(skipped), state=state, **kwargs)
    if flags is not None:
        session.data["flags"] = flags
    OnboardingSession.objects.filter(pk=session.pk).update(started_at=started_at, data=session.data)
    session.refresh_from_db()
    return session


def event_at(session, name: str, step: str, at, *, duration_ms=None, source="api") -> OnboardingEvent:
    """Record an event of ``session`` created at ``at`` (created_at is stamped on insert, then moved)."""
    event = OnboardingEvent.objects.create(
        session=session, user_id=session.user_id, name=name, step=step, source=source, duration_ms=duration_ms
    )
    OnboardingEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def percentile(values: list, fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    values = sorted(values)
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def expected_funnel(*, started_after=None, started_before=None, flag="", arm="") -> dict[str, dict]:
    """Return per step the funnel of the counted sessions started in the window, computed plainly."""
    sessions = OnboardingSession.objects.exclude(state="superseded")
    if started_after is not None:
        sessions = sessions.filter(started_at__gte=started_after)
    if started_before is not None:
        sessions = sessions.filter(started_at__lt=started_before)
    if flag:
        sessions = [s for s in sessions if (s.data.get("flags") or {}).get(flag) is (arm == "on")]
    counts = {key: Counter() for key in STEP_KEYS}
    durations = defaultdict(list)
    for session in sessions:
        done, skipped = set(session.completed_steps), set(session.skipped_steps)
        steps = manifest_of(session).step_keys
        for key in steps_reached(done=done, skipped=skipped, completed=session.state == "completed", steps=steps):
            counts[key]["reached"] += 1
            counts[key]["completed" if key in done else "skipped" if key in skipped else "dropped"] += 1
        met = Counter()  # (step, figure) -> how often this session met it
        for event in OnboardingEvent.objects.filter(session=session, step__in=STEP_KEYS):
            if event.name in FRICTION:
                met[(event.step, FRICTION[event.name])] += 1
            if event.name in ("step_saved", "step_skipped") and event.duration_ms is not None:
                durations[event.step].append(event.duration_ms)
        for (step, figure), n in met.items():  # a session counts once per figure, and at most CAP times
            counts[step][figure] += 1
            counts[step][f"{figure}_occurrences"] += min(n, CAP)
    return {
        key: {
            **{
                name: counts[key][name]
                for name in (
                    "reached",
                    "completed",
                    "skipped",
                    "dropped",
                    "validation_failures",
                    "conflicts",
                    "retries",
                    "queued_saves",
                    *OCCURRENCE_NAMES,
                )
            },
            "median": statistics.median(durations[key]) if durations[key] else None,
            "p90": percentile(durations[key], 0.9) if durations[key] else None,
        }
        for key in STEP_KEYS
    }


def assert_funnel_equals_expected(steps, expected: dict) -> None:
    """Assert the selector's steps equal the plain computation: counts exactly, times within the bucket error."""
    for step in steps:
        want = expected[step.key]
        got = {
            name: getattr(step, name)
            for name in (
                "reached",
                "completed",
                "skipped",
                "dropped",
                "validation_failures",
                "conflicts",
                "retries",
                "queued_saves",
                *OCCURRENCE_NAMES,
            )
        }
        assert got == {name: want[name] for name in got}, step.key
        for value, exact in ((step.median_ms, want["median"]), (step.p90_ms, want["p90"])):
            if exact is None:
                assert value is None, step.key
            else:
                assert abs(value - exact) <= BUCKET_ERROR * exact + 0.5, (step.key, value, exact)
