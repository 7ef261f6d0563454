"""Reads of onboarding sessions: progress, the first outstanding step, checksums."""
import hashlib
import json

from .manifest import STEP_KEYS, STEPS, step_index
from .models import OnboardingSession


def answers_checksum(answers: dict) -> str:
    """Return a stable SHA-256 of answers (key order and whitespace do not matter)."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def first_outstanding_step(session: OnboardingSession) -> str | None:
    """Return the first step neither done nor skipped, or None when all are."""
    if session.is_completed:
        return None
    marked = set(session.completed_steps) | set(session.skipped_steps)
    return next((key for key in STEP_KEYS if key not in marked), None)


def step_is_reachable(session: OnboardingSession, step: str) -> bool:
    """Tell whether ``step`` is at or before the first outstanding step."""
    outstanding = first_outstanding_step(session)
    return outstanding is None or step_index(step) <= step_index(outstanding)


def step_status(session: OnboardingSession, step: str) -> str:
    if step in session.completed_steps:
        return "done"
    if step in session.skipped_steps:
        return "skipped"
    return "pending"


def session_live_for_user(user) -> OnboardingSession | None:
    """Return the user's live (in progress or completed) session, if any (``user``: anything with its pk)."""
    return OnboardingSession.objects.filter(user_id=user.pk).exclude(state=OnboardingSession.State.SUPERSEDED).first()


def session_progress(session: OnboardingSession) -> dict:
    """Return the progress document of the API contract."""
    answers = session.answers
    outstanding = first_outstanding_step(session)
    return {
        "session_id": str(session.id),
        "revision": session.revision,
        "version": session.version,
        "answer_schema_version": session.answer_schema_version,
        "state": session.state,
        "current_step": (session.current_step or outstanding) if not session.is_completed else None,
        "next_step": outstanding,
        "completed_steps": [key for key in STEP_KEYS if key in session.completed_steps],
        "skipped_steps": [key for key in STEP_KEYS if key in session.skipped_steps],
        "steps": [
            {"key": s.key, "title": s.title, "required": s.required, "skippable": s.skippable,
             "status": step_status(session, s.key)}
            for s in STEPS
        ],
        "answers": answers,
        "drafts": session.data.get("drafts", {}),
        "checksum": answers_checksum(answers),
        "started_at": _iso(session.started_at),
        "updated_at": _iso(session.updated_at),
        "completed_at": _iso(session.completed_at),
    }


def _iso(value):
    return value.isoformat() if value else None
