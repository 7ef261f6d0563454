"""Reads of onboarding sessions, and the page-flow rules every surface follows.

The page-flow rules live here once: which step a user resumes at, whether a step may be opened
yet, which steps a session has reached, and where a user belongs (the dashboard once completed).
The guard middleware, the wizard, its storage, the services and the staff funnel call them.
"""
import hashlib
import json
from collections.abc import Collection

from django.urls import reverse

from .manifest import STEP_KEYS, step_index
from .models import OnboardingSession


def answers_checksum(answers: dict) -> str:
    """Return a stable SHA-256 of answers (key order and whitespace do not matter)."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def session_live_for_user(user) -> OnboardingSession | None:
    """Return the user's live (in progress or completed) session, if any."""
    return OnboardingSession.objects.filter(user_id=user.pk).exclude(state=OnboardingSession.State.SUPERSEDED).first()


# --- Page flow -----------------------------------------------------------------------------------

def outstanding_step(*, done: Collection[str], skipped: Collection[str]) -> str | None:
    """Return the first step neither done nor skipped, or None when all are marked."""
    return next((key for key in STEP_KEYS if key not in done and key not in skipped), None)


def first_outstanding_step(session: OnboardingSession) -> str | None:
    """Return the session's first step neither done nor skipped (None when all are, or once completed)."""
    if session.is_completed:
        return None
    return outstanding_step(done=session.completed_steps, skipped=session.skipped_steps)


def resume_step(session: OnboardingSession) -> str:
    """Return the step a user continues at: the first outstanding one, else the last (to Finish)."""
    return first_outstanding_step(session) or STEP_KEYS[-1]


def steps_reached(*, done: Collection[str], skipped: Collection[str], completed: bool) -> list[str]:
    """Return the steps a session has reached: marked ones and every step up to the first outstanding one."""
    outstanding = None if completed else outstanding_step(done=done, skipped=skipped)
    return [
        key for key in STEP_KEYS
        if key in done or key in skipped or outstanding is None or step_index(key) <= step_index(outstanding)
    ]


def step_is_reachable(session: OnboardingSession, step: str) -> bool:
    """Tell whether ``step`` may be opened yet: at or before the first outstanding step (earlier ones stay open)."""
    outstanding = first_outstanding_step(session)
    return outstanding is None or step_index(step) <= step_index(outstanding)


def onboarding_url(session: OnboardingSession | None) -> str:
    """Return where a signed-in user belongs: the dashboard once completed, else the step to resume."""
    if session is None:
        return reverse("onboarding:start")
    if session.is_completed:
        return reverse("onboarding:dashboard")
    return reverse("onboarding:step", kwargs={"step": resume_step(session)})


def step_status(session: OnboardingSession, step: str) -> str:
    if step in session.completed_steps:
        return "done"
    if step in session.skipped_steps:
        return "skipped"
    return "pending"


def workspace_id_for(value: str) -> int | None:
    """Return the id of the workspace named by ``value`` (an id or a slug), or None if none is.

    Digits name an id first, then a slug (a slug may be all digits, like "2026"). The staff API's
    ``workspace`` filter and the snapshot admin's workspace filter both use this one rule.
    """
    from .models import Workspace

    if value.isdigit() and Workspace.objects.filter(pk=int(value)).exists():
        return int(value)
    return Workspace.objects.filter(slug=value).values_list("id", flat=True).first()
