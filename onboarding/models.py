"""Onboarding sessions, the workspaces they create or join, telemetry and the outbox."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_revision() -> str:
    """Return a fresh opaque revision token."""
    return secrets.token_hex(10)


def new_join_code() -> str:
    return secrets.token_urlsafe(9)


class Workspace(models.Model):
    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=60, unique=True)
    join_code = models.CharField(max_length=64, unique=True, default=new_join_code)
    joinable = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_workspaces"

    def __str__(self):
        return self.name


class WorkspaceMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_workspace_memberships"
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="uniq_workspace_member")]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"


class Invitation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, default="member")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_invitations"
        constraints = [models.UniqueConstraint(fields=["workspace", "email"], name="uniq_workspace_invite")]

    def __str__(self):
        return f"{self.email} → {self.workspace}"


class OnboardingSession(models.Model):
    """One onboarding attempt. ``data`` holds answers, step marks, drafts and a short write history.

    data = {
        "answers": {step: {field: value}},       # validated answers, by step (a skipped step has none)
        "completed_steps": [step, ...],
        "skipped_steps": [step, ...],
        "drafts": {step: {field: raw value}},    # unvalidated autosave, cleared when the step is saved or skipped
        "history": [                             # one entry per write, the last 50, newest last
            {"from": <revision it replaced>, "before": {step: {field: value before, or None if unset}}},
        ],
        "notice": "...",                         # a one-off message for the user (version reset), until the next write
        "workspace_id": 42,                      # once completed: the workspace created or joined
        "flags": {flag: true | false},           # decided once, at the start: every flag the manifest references
    }
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        SUPERSEDED = "superseded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboarding_sessions")
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    revision = models.CharField(max_length=40, default=new_revision)
    version = models.PositiveIntegerField()
    answer_schema_version = models.PositiveIntegerField()
    current_step = models.CharField(max_length=40, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the session's latest telemetry event happened: the next event's duration_ms is measured
    # from it. Not part of the answers: an event recorded on its own does not change the revision.
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "onboarding_sessions"
        constraints = [
            # A user has at most one live session (in progress or completed); older ones are superseded.
            models.UniqueConstraint(
                fields=["user"], condition=~Q(state="superseded"), name="uniq_live_onboarding_session"
            ),
        ]
        indexes = [
            # The admin's sessions list: filtered by state, newest activity first.
            models.Index(fields=["state", "updated_at"], name="onb_session_state_updated"),
            # Backfill: completed sessions in completion order.
            models.Index(fields=["completed_at", "id"], name="onb_session_completed"),
            # The staff funnel over a window of start times.
            models.Index(fields=["started_at"], name="onb_session_started"),
            # Not declared here: onb_session_flags, a GIN index on data->'flags' serving the experiment
            # readout (funnel?flag=, ``selectors.sessions_in_arm``). GIN is PostgreSQL's alone, and an index
            # in Meta would be re-created by SQLite's table rebuilds, so migration 0004 creates it on
            # PostgreSQL only.
        ]

    def __str__(self):
        return f"{self.user} · {self.state} · {self.current_step or '—'}"

    @property
    def answers(self) -> dict:
        return self.data.get("answers", {})

    @property
    def completed_steps(self) -> list:
        return self.data.get("completed_steps", [])

    @property
    def skipped_steps(self) -> list:
        return self.data.get("skipped_steps", [])

    @property
    def flags(self) -> dict:
        return self.data.get("flags", {})

    @property
    def is_completed(self) -> bool:
        return self.state == self.State.COMPLETED

    @property
    def completed_workspace_id(self) -> int | None:
        """The workspace the completion created or joined (None before completion)."""
        return self.data.get("workspace_id")


class OnboardingEvent(models.Model):
    """Telemetry: one row per thing that happened to a session."""

    class Name(models.TextChoices):
        STARTED = "started"
        RESUMED = "resumed"
        STEP_SAVED = "step_saved"
        STEP_SKIPPED = "step_skipped"
        STEP_BACK = "step_back"
        DRAFT_SAVED = "draft_saved"
        VALIDATION_FAILED = "validation_failed"
        REVISION_CONFLICT = "revision_conflict"
        RESET = "reset"
        COMPLETED = "completed"
        # Reported by the browser client (source "browser"): friction the server cannot see.
        SAVE_RETRIED = "save_retried"
        CONFLICT_SHOWN = "conflict_shown"
        SAVE_QUEUED = "save_queued"  # kept on the device while the server could not be reached
        SAVE_REPLAYED = "save_replayed"  # ... and sent later; detail: waited_ms

    class Source(models.TextChoices):
        WIZARD = "wizard"
        API = "api"
        ADMIN = "admin"
        SYSTEM = "system"
        BROWSER = "browser"

    # No database FK: its check would take a KEY SHARE lock on the session row, which queues
    # behind writers waiting for that row and deadlocks under contention. Telemetry is append-only.
    session = models.ForeignKey(
        OnboardingSession, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    name = models.CharField(max_length=30, choices=Name.choices)
    step = models.CharField(max_length=40, blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices)
    duration_ms = models.BigIntegerField(null=True, blank=True, help_text="Time since the session's previous event.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_events"
        indexes = [
            # The funnel's per-step timings of the sessions it counts; one session's events.
            models.Index(fields=["session", "created_at"], name="onb_event_session_time"),
            # The admin's events list: newest first, drilled down by date, filtered by name.
            models.Index(fields=["created_at", "name"], name="onb_event_time_name"),
        ]

    def __str__(self):
        return f"{self.name} {self.step} ({self.source})"


class OutboxMessage(models.Model):
    """A message written in the same transaction as the change it announces."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    TOPIC_SESSION_COMPLETED = "onboarding.session_completed"

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=60)
    session = models.ForeignKey(OnboardingSession, on_delete=models.CASCADE, related_name="outbox_messages")
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "onboarding_outbox"
        constraints = [
            # One "completed" message per session, however often completion is retried.
            models.UniqueConstraint(fields=["topic", "session"], name="uniq_outbox_topic_session"),
        ]
        indexes = [
            # The re-dispatch sweep: pending messages dispatched longest ago.
            models.Index(fields=["state", "dispatched_at"], name="onb_outbox_state_dispatched"),
            # The readiness probe: the oldest pending message (/readyz, every few seconds).
            models.Index(fields=["state", "created_at"], name="onb_outbox_state_created"),
        ]

    def __str__(self):
        return f"{self.topic} {self.session_id} ({self.state})"


class IdempotencyKey(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key``, kept so a repeat gets it again.

    Written in the same transaction as the session write it answers (services/idempotency.py),
    per user: two users never share a key. Kept for ONBOARDING_IDEMPOTENCY_TTL_SECONDS (24 h);
    older rows are ignored and purged by the beat task ``onboarding.idempotency_keys_purge``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request: a reused key must repeat it.")
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "onboarding_idempotency_keys"
        constraints = [
            # The lookup of a repeat, and one answer per key and user.
            models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_user_key"),
        ]
        indexes = [
            # The purge of expired keys.
            models.Index(fields=["created_at"], name="onb_idempotency_created"),
        ]

    def __str__(self):
        return f"{self.key} ({self.user_id}, {self.status})"


class AnswersAccess(models.Model):
    """One staff view of one person's onboarding answers: who looked, at whose, when, where from, on which surface.

    Written by ``services.answers_access_record`` from every surface that shows one person's answers
    (the session and snapshot admin pages, the staff API's answers/<user_id>, the subject export).
    Neither user is a database foreign key: the record outlives both accounts (it is the evidence).
    """

    class Surface(models.TextChoices):
        SESSION_ADMIN = "session_admin", "Session admin page"
        SNAPSHOT_ADMIN = "snapshot_admin", "Snapshot admin page"
        STAFF_API = "staff_api", "Staff API answers/<user_id>"
        SUBJECT_EXPORT = "subject_export", "Subject access export"

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    viewer_username = models.CharField(max_length=150, help_text="The viewer's username at the time (kept if deleted).")
    subject_user_id = models.BigIntegerField(help_text="Whose answers were shown (a user id).")
    surface = models.CharField(max_length=20, choices=Surface.choices)
    object_ref = models.CharField(max_length=64, blank=True, default="", help_text="The session id shown, if one.")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    accessed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_answers_access_log"
        indexes = [
            # The admin's list: newest first; and "who looked at this person" (search by subject).
            models.Index(fields=["-accessed_at"], name="onb_access_time"),
            models.Index(fields=["subject_user_id", "-accessed_at"], name="onb_access_subject"),
        ]

    def __str__(self):
        return f"{self.viewer_username} viewed {self.subject_user_id} ({self.surface})"
