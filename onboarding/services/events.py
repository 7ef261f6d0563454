"""Telemetry: the one writer of OnboardingEvent rows and their structured log lines.

Each event's ``duration_ms`` is the time since the session's previous event (``last_event_at``).
A session write records its event through ``SessionWrite`` (write_protocol.py), which stamps
``last_event_at`` in the same UPDATE as the write; an event that is not part of a write
(started, resumed, a refused write) is recorded with ``event_record``, which stamps it itself.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import SessionAlreadyCompleted, StepValidationError, issue
from ..flow import steps_reached
from ..manifest import UnknownStep, canonical_step_key
from ..models import OnboardingEvent, OnboardingSession
from ..selectors import manifest_of, session_live_for_user

logger = logging.getLogger("onboarding.events")

RESUME_AFTER_SECONDS = 30 * 60


def event_insert(
    *,
    session: OnboardingSession,
    name: str,
    source: str,
    step: str = "",
    detail: dict | None = None,
    at: datetime,
    since: datetime | None,
) -> OnboardingEvent:
    """Insert one event that happened ``at``; its duration is the time since ``since`` (the event before it).

    The caller stamps the session's ``last_event_at`` with ``at`` (``event_record`` does, a session write does).
    """
    duration_ms = int((at - since).total_seconds() * 1000) if since else None
    event = OnboardingEvent.objects.create(
        session=session,
        user_id=session.user_id,
        name=name,
        step=step or "",
        source=source,
        duration_ms=duration_ms,
        detail=detail or {},
    )
    logger.info(
        "onboarding_event name=%s step=%s source=%s session=%s user=%s duration_ms=%s",
        name,
        step or "-",
        source,
        session.pk,
        session.user_id,
        duration_ms,
        extra={
            "event": name,
            "step": step,
            "source": source,
            "session_id": str(session.pk),
            "user_id": session.user_id,
            "duration_ms": duration_ms,
        },
    )
    return event


def event_record(
    *, session: OnboardingSession, name: str, source: str, step: str = "", detail: dict | None = None
) -> OnboardingEvent:
    """Record one event now, outside a session write, and stamp it as the session's last event."""
    now = timezone.now()
    event = event_insert(
        session=session, name=name, source=source, step=step, detail=detail, at=now, since=session.last_event_at
    )
    OnboardingSession.objects.filter(pk=session.pk).update(last_event_at=now)
    session.last_event_at = now
    return event


def resumed_event(session: OnboardingSession, *, force: bool = False) -> dict | None:
    """Return the "resumed" event a return after 30 minutes or more (or a new login) means, else None."""
    if session.is_completed or session.last_event_at is None:
        return None
    away = (timezone.now() - session.last_event_at).total_seconds()
    if not force and away < RESUME_AFTER_SECONDS:
        return None
    return {"name": OnboardingEvent.Name.RESUMED, "step": session.current_step, "detail": {"away_seconds": int(away)}}


def event_record_resumed_if_away(*, session: OnboardingSession, source: str, force: bool = False) -> None:
    """Record "resumed" when the user returns after 30 minutes or more (or on a new login)."""
    if resumed := resumed_event(session, force=force):
        event_record(session=session, source=source, **resumed)


BROWSER_EVENT_NAMES = (
    OnboardingEvent.Name.SAVE_RETRIED,
    OnboardingEvent.Name.CONFLICT_SHOWN,
    OnboardingEvent.Name.SAVE_QUEUED,
    OnboardingEvent.Name.SAVE_REPLAYED,
)


COMPLETED_NO_EVENTS = gettext_lazy("Onboarding is already complete: the browser's events are no longer recorded.")


def event_record_from_browser(*, user, name: str, step: str, detail: dict) -> OnboardingEvent | None:
    """Record friction the browser client saw on the user's live session (None: no session).

    Source ``browser``. Unlike the events of a write it has no duration and does not move the
    session's ``last_event_at``: step timings measure the user, not their network. Refused, so
    that nobody's own telemetry can inflate the staff figures: an event of a session completed
    more than ONBOARDING_BROWSER_EVENTS_GRACE_SECONDS ago (SessionAlreadyCompleted; the grace lets
    the report of a Finish kept on the device through), of a step the session never reached, or a
    ``waited_ms`` longer than the session has existed (StepValidationError).
    """
    if name not in BROWSER_EVENT_NAMES:
        raise ValueError(f"{name!r} is not an event the browser reports")
    try:
        step = canonical_step_key(step)
    except UnknownStep:
        raise StepValidationError(
            [
                issue(
                    str(step)[:80],
                    None,
                    "unknown_step",
                    _("“%(step)s” is not an onboarding step.") % {"step": str(step)[:80]},
                )
            ]
        ) from None
    session = session_live_for_user(user)
    if session is None:
        return None
    _browser_event_check(session, step=step, detail=detail)
    return event_insert(
        session=session,
        name=name,
        source=OnboardingEvent.Source.BROWSER,
        step=step,
        detail=detail,
        at=timezone.now(),
        since=None,
    )


def _browser_event_check(session: OnboardingSession, *, step: str, detail: dict) -> None:
    if session.is_completed:
        grace = timedelta(seconds=settings.ONBOARDING_BROWSER_EVENTS_GRACE_SECONDS)
        if session.completed_at is None or timezone.now() > session.completed_at + grace:
            raise SessionAlreadyCompleted(COMPLETED_NO_EVENTS)
    steps = manifest_of(session).step_keys
    reached = steps_reached(
        done=session.completed_steps, skipped=session.skipped_steps, completed=session.is_completed, steps=steps
    )
    if step not in reached:
        raise StepValidationError(
            [
                issue(
                    step,
                    None,
                    "step_not_reached",
                    _("The session has not reached “%(step)s”: no event is recorded for it.") % {"step": step},
                )
            ]
        )
    age_ms = (timezone.now() - session.started_at).total_seconds() * 1000
    if detail.get("waited_ms", 0) > age_ms + 1000:  # a second of clock skew between the device and us
        raise StepValidationError(
            [issue(step, "waited_ms", "out_of_range", _("waited_ms is longer than this onboarding has existed."))]
        )
