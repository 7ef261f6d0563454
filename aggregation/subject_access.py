"""Subject access: everything stored about one person's onboarding, as one JSON document.

Read-only (a selector); the command ``export_onboarding_user`` and the admin action print or
download it, each recording the access (``onboarding.services.answers_access_record``).
"""

from django.utils import timezone

from onboarding.models import Invitation, OnboardingEvent, OnboardingSession, WorkspaceMembership

from .models import AnswerSnapshot

DOCUMENT_FORMAT = 1


def onboarding_subject_document(*, user) -> dict:
    """Return the subject access document of ``user``: account, sessions, events, snapshots, workspaces, invitations."""
    return {
        "format": DOCUMENT_FORMAT,
        "generated_at": _iso(timezone.now()),
        "account": {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "is_active": user.is_active,
        },
        "sessions": [
            _session(session) for session in OnboardingSession.objects.filter(user=user).order_by("started_at")
        ],
        "events": [
            {**event, "session_id": str(event["session_id"]), "created_at": _iso(event["created_at"])}
            # By session (index onb_event_session_time): every event of every session of theirs.
            for event in OnboardingEvent.objects.filter(session__user=user)
            .order_by("created_at", "pk")
            .values("session_id", "name", "step", "source", "duration_ms", "detail", "created_at")
        ],
        "snapshots": [
            {
                "session_id": str(snapshot.session_id),
                "workspace_id": snapshot.workspace_id,
                "role": snapshot.role,
                "answer_schema_version": snapshot.answer_schema_version,
                "completed_at": _iso(snapshot.completed_at),
                "answers": snapshot.answers,
                "flags": snapshot.flags,
            }
            for snapshot in AnswerSnapshot.objects.filter(user=user).order_by("completed_at")
        ],
        "workspaces": [
            {
                "id": membership.workspace_id,
                "name": membership.workspace.name,
                "slug": membership.workspace.slug,
                "role": membership.role,
                "joined_at": _iso(membership.joined_at),
                "created_by_you": membership.workspace.created_by_id == user.pk,
            }
            for membership in WorkspaceMembership.objects.filter(user=user).select_related("workspace").order_by("pk")
        ],
        "invitations_sent": [
            {"workspace_id": invitation.workspace_id, "email": invitation.email, "role": invitation.role}
            | {"created_at": _iso(invitation.created_at)}
            for invitation in Invitation.objects.filter(invited_by=user).order_by("created_at", "pk")
        ],
    }


def _session(session: OnboardingSession) -> dict:
    data = session.data
    return {
        "id": str(session.pk),
        "state": session.state,
        "version": session.version,
        "answer_schema_version": session.answer_schema_version,
        "current_step": session.current_step,
        "started_at": _iso(session.started_at),
        "updated_at": _iso(session.updated_at),
        "completed_at": _iso(session.completed_at),
        "answers": data.get("answers", {}),
        "completed_steps": data.get("completed_steps", []),
        "skipped_steps": data.get("skipped_steps", []),
        "drafts": data.get("drafts", {}),
        "history": data.get("history", []),
        "flags": data.get("flags", {}),
        "workspace_id": data.get("workspace_id"),
    }


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
