"""Reads of onboarding sessions and workspaces (the page-flow rules are in ``onboarding.flow``)."""

from django.db import connection
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _

from .manifest import SessionManifest, session_manifest
from .models import Invitation, OnboardingSession, WorkspaceMembership

ARMS = ("on", "off")


def session_live_for_user(user) -> OnboardingSession | None:
    """Return the user's live (in progress or completed) session, if any."""
    return OnboardingSession.objects.filter(user_id=user.pk).exclude(state=OnboardingSession.State.SUPERSEDED).first()


def saved_preferences(user) -> dict:
    """Return the ``language`` and ``theme`` the user answered on the preferences step (None where unanswered).

    Only those two values leave the database (not the session's whole document): every page of a
    signed-in user reads them, the API's writes included.
    """
    row = (
        OnboardingSession.objects.filter(user_id=user.pk)
        .exclude(state=OnboardingSession.State.SUPERSEDED)
        .values("data__answers__preferences__language", "data__answers__preferences__theme")
        .first()
    )
    row = row or {}
    return {
        "language": row.get("data__answers__preferences__language"),
        "theme": row.get("data__answers__preferences__theme"),
    }


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


# --- The end of onboarding -----------------------------------------------------------------------

ROLE_LABELS = {"owner": _("Owner"), "admin": _("Admin"), "member": _("Member")}


def completion_summary(user) -> dict:
    """Return what onboarding set up for ``user``: the workspace and role, the invitations sent, when."""
    membership = (
        WorkspaceMembership.objects.filter(user=user).select_related("workspace").order_by("-joined_at").first()
    )
    session = session_live_for_user(user)
    invitations = (
        list(Invitation.objects.filter(workspace=membership.workspace, invited_by=user).order_by("created_at", "pk"))
        if membership
        else []
    )
    return {
        "membership": membership,
        "workspace": membership.workspace if membership else None,
        "role_label": ROLE_LABELS.get(membership.role, membership.role) if membership else "",
        "created": membership is not None and membership.role == "owner",
        "invitations": invitations,
        "completed_at": session.completed_at if session else None,
    }
