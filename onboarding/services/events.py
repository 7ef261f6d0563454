"""Telemetry: the one writer of OnboardingEvent rows and their structured log lines."""
import logging

from django.utils import timezone

from ..models import OnboardingEvent, OnboardingSession

logger = logging.getLogger("onboarding.events")

RESUME_AFTER_SECONDS = 30 * 60
_UNSET = object()


def event_record(
    *, session: OnboardingSession, name: str, source: str, step: str = "", detail: dict | None = None
) -> OnboardingEvent:
    """Record one telemetry event with the time since the session's previous event."""
    now = timezone.now()
    stamped_by_write = getattr(session, "previous_event_at", _UNSET) is not _UNSET
    previous = session.previous_event_at if stamped_by_write else session.last_event_at
    duration_ms = int((now - previous).total_seconds() * 1000) if previous else None
    event = OnboardingEvent.objects.create(
        session=session, user_id=session.user_id, name=name, step=step or "", source=source,
        duration_ms=duration_ms, detail=detail or {},
    )
    if stamped_by_write:  # commit_write already set last_event_at in its UPDATE
        del session.previous_event_at
    else:
        OnboardingSession.objects.filter(pk=session.pk).update(last_event_at=now)
        session.last_event_at = now
    logger.info(
        "onboarding_event name=%s step=%s source=%s session=%s user=%s duration_ms=%s",
        name, step or "-", source, session.pk, session.user_id, duration_ms,
        extra={"event": name, "step": step, "source": source, "session_id": str(session.pk),
               "user_id": session.user_id, "duration_ms": duration_ms},
    )
    return event


def event_record_resumed_if_away(*, session: OnboardingSession, source: str, force: bool = False) -> None:
    """Record "resumed" when the user returns after 30 minutes or more (or on a new login)."""
    if session.is_completed or session.last_event_at is None:
        return
    away = (timezone.now() - session.last_event_at).total_seconds()
    if force or away >= RESUME_AFTER_SECONDS:
        event_record(session=session, name=OnboardingEvent.Name.RESUMED, source=source,
                     step=session.current_step, detail={"away_seconds": int(away)})
