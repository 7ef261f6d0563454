"""Reads of onboarding sessions and workspaces (the page-flow rules are in ``onboarding.flow``)."""

from django.db import connection
from django.db.models.fields.json import KeyTransform

from .manifest import SessionManifest, session_manifest
from .models import OnboardingSession

ARMS = ("on", "off")


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


def workspace_id_for(value: str) -> int | None:
    """Return the id of the workspace named by ``value`` (an id or a slug), or None if none is.

    Digits name an id first, then a slug (a slug may be all digits, like "2026"). The staff API's
    ``workspace`` filter and the snapshot admin's workspace filter both use this one rule.
    """
    from .models import Workspace

    if value.isdigit() and Workspace.objects.filter(pk=int(value)).exists():
        return int(value)
    return Workspace.objects.filter(slug=value).values_list("id", flat=True).first()
