"""Completion: validate every step, create or join the workspace, invite, announce. Once."""

import logging

from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ..errors import StepValidationError, issue
from ..forms import JOIN_CODE_UNKNOWN, WORKSPACE_NAME_TAKEN
from ..models import Invitation, OnboardingEvent, OnboardingSession, Workspace, WorkspaceMembership
from ..selectors import manifest_of
from .answer_rules import step_validate
from .outbox import outbox_add_completion
from .sessions import session_locked

logger = logging.getLogger(__name__)
INVITATION_SUBJECT_TEMPLATE = "onboarding/email/invitation_subject.txt"
INVITATION_BODY_TEMPLATE = "onboarding/email/invitation_body.txt"


def completion_issues(session: OnboardingSession, *, user) -> list[dict]:
    """Return every issue that blocks completion, in step order (empty when it may complete).

    The session's own steps and fields count (its flags, decided when it started).
    """
    issues = []
    for step in manifest_of(session).steps:
        if step.key in session.skipped_steps and step.skippable:
            continue
        if step.key not in session.completed_steps:
            if step.required:
                issues.append(
                    issue(step.key, None, "step_incomplete", _("Complete “%(step)s” first.") % {"step": step.title})
                )
            continue
        try:
            step_validate(step=step, answers=session.answers.get(step.key, {}), user=user)
        except StepValidationError as exc:
            issues.extend(exc.issues)
    return issues


def session_complete(*, user, revision: str | None, source: str) -> OnboardingSession:
    """Complete the session once: validate, apply the workspace and invites, publish the outbox message."""
    with session_locked(user=user, revision=revision, source=source, step="workspace", completed_ok=True) as unit:
        session = unit.session
        if session.is_completed:  # a double submit or a retry: the same result, nothing new
            return session
        issues = completion_issues(session, user=user)
        if issues:
            raise StepValidationError(issues)
        workspace = _apply_workspace(session, user=user)
        _invite_teammates(session, workspace, user=user)
        session.state = OnboardingSession.State.COMPLETED
        session.completed_at = timezone.now()
        session.data["workspace_id"] = workspace.pk
        unit.record(OnboardingEvent.Name.COMPLETED, step="workspace", detail={"workspace_id": workspace.pk})
        outbox_add_completion(session=session)  # in the write's transaction: announced if, and only if, it commits
    return session


def _apply_workspace(session: OnboardingSession, *, user) -> Workspace:
    answers = session.answers["workspace"]
    if answers["mode"] == "create":
        try:
            with transaction.atomic():
                workspace = Workspace.objects.create(
                    name=answers["workspace_name"], slug=slugify(answers["workspace_name"]), created_by=user
                )
        except IntegrityError:  # taken between the check and now by a concurrent completion
            raise StepValidationError(
                [issue("workspace", "workspace_name", "slug_taken", WORKSPACE_NAME_TAKEN)]
            ) from None
        role = WorkspaceMembership.Role.OWNER
    else:
        workspace = Workspace.objects.filter(join_code=answers["join_code"], joinable=True).first()
        if workspace is None:
            raise StepValidationError([issue("workspace", "join_code", "invalid_code", JOIN_CODE_UNKNOWN)])
        role = WorkspaceMembership.Role.MEMBER
    WorkspaceMembership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
    return workspace


def _invite_teammates(session: OnboardingSession, workspace: Workspace, *, user) -> None:
    if "invites" not in session.completed_steps:
        return
    invites = session.answers.get("invites", {})
    created = []
    for email in invites.get("emails", []):
        invitation, new = Invitation.objects.get_or_create(
            workspace=workspace,
            email=email.lower(),
            defaults={"role": invites.get("invite_role", "member"), "invited_by": user},
        )
        if new:
            created.append(invitation.email)
    if created:
        # Sent after the commit, in the inviter's language as this request chose it (the invitee's is unknown).
        language = translation.get_language()
        transaction.on_commit(
            lambda: _send_invitations(workspace=workspace, inviter=user, emails=created, language=language)
        )


def _send_invitations(*, workspace: Workspace, inviter, emails: list[str], language: str | None) -> None:
    context = {"workspace_name": workspace.name, "join_code": workspace.join_code, "inviter": inviter.get_username()}
    with translation.override(language):
        subject = " ".join(render_to_string(INVITATION_SUBJECT_TEMPLATE, context).split())
        body = render_to_string(INVITATION_BODY_TEMPLATE, context)
    try:
        send_mass_mail([(subject, body, None, [email]) for email in emails], fail_silently=False)
    except Exception:  # the completion stands; the invitations are stored and can be re-sent
        logger.exception("sending %d invitation e-mails failed", len(emails))
