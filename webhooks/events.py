"""The event types and the bodies sent for them: ``{"type", "timestamp", "data"}``."""

import uuid
from datetime import UTC, datetime

from django.utils.translation import gettext_lazy as _

from aggregation.models import AnswerSnapshot
from aggregation.snapshots.documents import snapshot_document
from aggregation.snapshots.normalise import completion_from_message
from aggregation.snapshots.services import snapshot_build
from onboarding.manifest import ANSWER_SCHEMA_VERSION
from onboarding.services.outbox import COMPLETION_MESSAGE_VERSION

ONBOARDING_COMPLETED = "onboarding.completed"
ONBOARDING_ERASED = "onboarding.erased"
WEBHOOK_TEST = "webhook.test"
EVENT_TYPES = (ONBOARDING_COMPLETED, ONBOARDING_ERASED, WEBHOOK_TEST)
EVENT_TYPE_CHOICES = [
    (ONBOARDING_COMPLETED, _("Onboarding completed")),
    (ONBOARDING_ERASED, _("Onboarding data erased")),
    (WEBHOOK_TEST, _("Test event")),
]

# A test event carries what an onboarding.completed event carries, for a person who does not exist:
# receivers can check their parsing against the real shape without anybody's answers.
SAMPLE_SESSION_ID = uuid.UUID("00000000-0000-4000-8000-000000000000")
SAMPLE_ANSWERS = {
    "profile": {"full_name": "Sample Person", "job_title": "Analyst", "role": "engineering"},
    "work-profile": {
        "team_name": "Sample team",
        "team_size": "2-10",
        "timezone": "Europe/London",
        "functions": ["engineering", "data"],
        "intents": ["project_tracking", "reporting"],
        "experience": "intermediate",
    },
    "tools": {"tools": ["github", "slack"], "other_tools": []},
    "invites": {"emails": [], "invite_role": "member"},
    "preferences": {
        "theme": "system",
        "email_digest": "weekly",
        "notifications": ["mentions"],
        "language": "en",
        "product_updates": False,
    },
    "workspace": {"mode": "create", "workspace_name": "Sample workspace", "join_code": ""},
}


def event_body(*, event_type: str, data: dict, at: datetime) -> dict:
    """Return the body of an event: its type, when it happened (ISO 8601) and its data."""
    return {"type": event_type, "timestamp": at.astimezone(UTC).isoformat(), "data": data}


def completed_data(snapshot: AnswerSnapshot) -> dict:
    """Return an onboarding.completed event's data: the snapshot exactly as the admin API shows it."""
    return snapshot_document(snapshot)


def erased_data(*, user_id: int, session_ids: list[str]) -> dict:
    return {"user_id": user_id, "session_ids": [str(session_id) for session_id in session_ids]}


def sample_completed_data(*, at: datetime) -> dict:
    """Return an onboarding.completed data document for a sample person, built as a real one is."""
    completion = completion_from_message(
        {
            "message_version": COMPLETION_MESSAGE_VERSION,
            "user_id": 0,
            "workspace_id": None,
            "session_id": str(SAMPLE_SESSION_ID),
            "completed_at": at.isoformat(),
            "answer_schema_version": ANSWER_SCHEMA_VERSION,
            "answers": SAMPLE_ANSWERS,
            "flags": {},
        }
    )
    snapshot = snapshot_build(completion, workspace_id=None)
    return completed_data(snapshot)


def scrubbed_completed_data(data: dict) -> dict:
    """Return an onboarding.completed data document without the person's answers (after an erasure)."""
    return {**data, "answers": {}, "flattened": []}
