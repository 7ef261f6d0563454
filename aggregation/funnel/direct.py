"""The funnel computed straight from sessions and events: the reference the rollups must equal.

It serves the partial hours at a window's edges (few sessions), the check command (every
session, by hour) and a database whose rollups were never built. Three grouped queries: the
sessions by shape of progress, their timed events by step and duration bucket, and their
friction events by session (friction counts sessions, each capped: ``figures.session_friction``).
"""

from datetime import UTC, datetime

from django.db.models import Count, F, Q
from django.db.models.functions import Trunc

from onboarding.manifest import STEP_KEYS
from onboarding.models import OnboardingEvent, OnboardingSession
from onboarding.selectors import sessions_in_arm

from .figures import (
    FRICTION_EVENTS,
    TIMED_EVENTS,
    Figures,
    add_event,
    add_friction,
    add_marks,
    duration_bucket,
    new_figures,
    session_arms,
    session_friction,
    session_marks,
)

SUPERSEDED = OnboardingSession.State.SUPERSEDED


def counted_sessions(*, started_after: datetime | None = None, started_before: datetime | None = None):
    """Return the sessions the funnel counts: not superseded, started in the window (index onb_session_started)."""
    return OnboardingSession.objects.exclude(state=SUPERSEDED).filter(
        **_window("started_at", started_after, started_before)
    )


def funnel_direct(
    *,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    by_hour: bool = False,
    flag: str = "",
    arm: str = "",
) -> Figures:
    """Return the figures of the counted sessions started in the window, keyed by start hour if ``by_hour``.

    With ``flag``: only that arm's sessions, found through ``onboarding.selectors.sessions_in_arm``
    (index onb_session_flags), so the figures of (flag, arm) are right and no others are asked for.
    """
    figures = new_figures()
    sessions = counted_sessions(started_after=started_after, started_before=started_before).order_by()
    if flag:
        sessions = sessions_in_arm(sessions, flag=flag, arm=arm)
    hour = {"hour": Trunc("started_at", "hour", tzinfo=UTC)} if by_hour else {}
    shapes = sessions.values(
        "state",
        "data__completed_steps",
        "data__skipped_steps",
        flags=F("data__flags"),
        **hour,
    ).annotate(n=Count("id"))
    for shape in shapes:
        marks = session_marks(
            shape["state"], shape["data__completed_steps"], shape["data__skipped_steps"], shape["flags"]
        )
        add_marks(figures, hour=shape.get("hour"), arms=session_arms(shape["flags"]), marks=marks, n=shape["n"])
    events = OnboardingEvent.objects.filter(step__in=STEP_KEYS).order_by()
    if flag:
        events = events.filter(session_id__in=sessions.values("id"))
    else:
        events = events.filter(
            ~Q(session__state=SUPERSEDED), **_window("session__started_at", started_after, started_before)
        )
    hour = {"hour": Trunc("session__started_at", "hour", tzinfo=UTC)} if by_hour else {}
    timed = events.filter(name__in=TIMED_EVENTS).values(
        "name", "step", flags=F("session__data__flags"), bucket=duration_bucket(), **hour
    )
    for row in timed.annotate(n=Count("id")):
        add_event(
            figures,
            hour=row.get("hour"),
            arms=session_arms(row["flags"]),
            name=row["name"],
            step=row["step"],
            bucket=row["bucket"],
            n=row["n"],
        )
    _add_sessions_friction(figures, events.filter(name__in=FRICTION_EVENTS), hour=hour)
    return figures


def _add_sessions_friction(figures: Figures, events, *, hour: dict) -> None:
    """Add each session's friction (sessions that met it, capped counts): its events grouped by session."""
    grouped = events.values("session_id", "name", "step", flags=F("session__data__flags"), **hour)
    sessions: dict = {}
    for row in grouped.annotate(n=Count("id")):
        entry = sessions.setdefault(row["session_id"], (row.get("hour"), row["flags"], []))
        entry[2].append((row["name"], row["step"], row["n"]))
    for session_hour, flags, counts in sessions.values():
        add_friction(figures, hour=session_hour, arms=session_arms(flags), friction=session_friction(counts))


def _window(field: str, after, before) -> dict:
    """Return the lookups of a start window: ``after`` inclusive, ``before`` exclusive."""
    lookups = {}
    if after is not None:
        lookups[f"{field}__gte"] = after
    if before is not None:
        lookups[f"{field}__lt"] = before
    return lookups
