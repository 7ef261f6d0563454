"""The page-flow rules every surface follows, in one place.

Which step a user resumes at, whether a step may be opened yet, which steps a session has
reached, and where a user belongs (the dashboard once completed). The guard middleware, the
wizard, its storage, the services, the progress API and the staff funnel call them.
"""

from collections.abc import Collection

from django.urls import reverse

from .manifest import STEP_KEYS, step_index
from .models import OnboardingSession
from .selectors import manifest_of


def outstanding_step(
    *, done: Collection[str], skipped: Collection[str], steps: Collection[str] = STEP_KEYS
) -> str | None:
    """Return the first of ``steps`` (a session's step keys) neither done nor skipped, or None when all are marked."""
    return next((key for key in steps if key not in done and key not in skipped), None)


def first_outstanding_step(session: OnboardingSession) -> str | None:
    """Return the session's first step neither done nor skipped (None when all are, or once completed)."""
    if session.is_completed:
        return None
    return outstanding_step(
        done=session.completed_steps, skipped=session.skipped_steps, steps=manifest_of(session).step_keys
    )


def resume_step(session: OnboardingSession) -> str:
    """Return the step a user continues at: the first outstanding one, else the last (to Finish)."""
    return first_outstanding_step(session) or STEP_KEYS[-1]


def steps_reached(
    *, done: Collection[str], skipped: Collection[str], completed: bool, steps: Collection[str] = STEP_KEYS
) -> list[str]:
    """Return the steps a session has reached: marked ones and every step up to the first outstanding one.

    ``steps``: the session's step keys (a step its flags leave out is never reached).
    """
    outstanding = None if completed else outstanding_step(done=done, skipped=skipped, steps=steps)
    return [
        key
        for key in steps
        if key in done or key in skipped or outstanding is None or step_index(key) <= step_index(outstanding)
    ]


def step_is_reachable(session: OnboardingSession, step: str) -> bool:
    """Tell whether ``step`` may be opened yet: one of the session's steps, at or before the first outstanding one."""
    if step not in manifest_of(session):
        return False
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
