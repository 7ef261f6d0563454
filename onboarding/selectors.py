"""Reads of onboarding sessions, and the page-flow rules every surface follows.

The page-flow rules live here once: which step a user resumes at, whether a step may be opened
yet, which steps a session has reached, and where a user belongs (the dashboard once completed).
The guard middleware, the wizard, its storage, the services and the staff funnel call them.
"""

import hashlib
import json
from collections.abc import Collection

from django.db import connection
from django.db.models.fields.json import KeyTransform
from django.urls import reverse

from .manifest import STEP_KEYS, SessionManifest, session_manifest, step_index
from .models import OnboardingSession

ARMS = ("on", "off")


def json_digest(value) -> str:
    """Return a stable SHA-256 of a JSON value (key order and whitespace do not matter)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def answers_checksum(answers: dict) -> str:
    """Return the progress document's checksum of the answers."""
    return json_digest(answers)


def session_live_for_user(user) -> OnboardingSession | None:
    """Return the user's live (in progress or completed) session, if any."""
    return OnboardingSession.objects.filter(user_id=user.pk).exclude(state=OnboardingSession.State.SUPERSEDED).first()


def sessions_in_flight():
    """Return the in-progress sessions (those a staff re-decision of a flag may change)."""
    return OnboardingSession.objects.filter(state=OnboardingSession.State.IN_PROGRESS)


def manifest_of(session: OnboardingSession) -> SessionManifest:
    """Return the steps and fields this session sees (its flags, decided when it started)."""
    return session_manifest(session.flags)


def sessions_in_arm(sessions, *, flag: str, arm: str):
    """Filter ``sessions`` to those that decided ``flag`` on (``arm="on"``) or off; undecided ones are in neither.

    On PostgreSQL this is ``data->'flags' @> '{"<flag>": true}'``, which the GIN index
    onb_session_flags serves (migration 0004); other databases compare the key without an index.
    """
    on = arm == "on"
    if connection.vendor == "postgresql":
        return sessions.filter(data__flags__contains={flag: on})
    return sessions.alias(flag_value=KeyTransform(flag, KeyTransform("flags", "data"))).filter(flag_value=on)


# --- Page flow -----------------------------------------------------------------------------------


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


def workspace_id_for(value: str) -> int | None:
    """Return the id of the workspace named by ``value`` (an id or a slug), or None if none is.

    Digits name an id first, then a slug (a slug may be all digits, like "2026"). The staff API's
    ``workspace`` filter and the snapshot admin's workspace filter both use this one rule.
    """
    from .models import Workspace

    if value.isdigit() and Workspace.objects.filter(pk=int(value)).exists():
        return int(value)
    return Workspace.objects.filter(slug=value).values_list("id", flat=True).first()
