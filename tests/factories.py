"""factory_boy factories and valid answers for every step."""

import copy
import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from aggregation.snapshots.normalise import flatten_answers
from onboarding.manifest import ANSWER_SCHEMA_VERSION, MANIFEST_FLAGS, STEP_KEYS
from onboarding.models import OnboardingSession

VALID_ANSWERS = {
    "profile": {"full_name": "Ada Lovelace", "job_title": "Analyst", "role": "engineering"},
    "work-profile": {
        "team_name": "Engines",
        "team_size": "2-10",
        "timezone": "Europe/London",
        "functions": ["engineering", "data"],
        "intents": ["project_tracking", "reporting"],
        "experience": "advanced",
    },
    "tools": {"tools": ["github", "slack"], "other_tools": ["Babbage"]},
    "invites": {"emails": ["charles@example.com"], "invite_role": "member"},
    "preferences": {
        "theme": "dark",
        "email_digest": "weekly",
        "notifications": ["mentions"],
        "language": "en",
        "product_updates": True,
    },
    "workspace": {"mode": "create", "workspace_name": "Analytical Engines", "join_code": ""},
}


def valid_answers(step: str, **overrides) -> dict:
    """Return a fresh copy of valid answers for ``step``, with ``overrides`` applied."""
    return {**copy.deepcopy(VALID_ANSWERS[step]), **overrides}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct-horse-battery-staple")


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True
    username = factory.Sequence(lambda n: f"staff{n}")


def session_data(done_steps=(), skipped_steps=(), answers=None, flags=None) -> dict:
    """Build ``OnboardingSession.data`` with the given steps done (valid answers) or skipped.

    ``flags``: the flags turned on (every other manifest flag is decided off, as a session started now).
    """
    stored = {step: valid_answers(step) for step in done_steps}
    if answers:
        stored.update(copy.deepcopy(answers))
    return {
        "answers": stored,
        "completed_steps": list(done_steps),
        "skipped_steps": list(skipped_steps),
        "drafts": {},
        "history": [],
        "flags": {name: name in (flags or ()) for name in MANIFEST_FLAGS},
    }


class OnboardingSessionFactory(factory.django.DjangoModelFactory):
    """A session; pass ``done_steps=("profile", ...)`` to pre-answer steps."""

    class Meta:
        model = OnboardingSession
        exclude = ("done_steps", "skipped", "flags_on")

    id = factory.LazyFunction(uuid.uuid4)
    user = factory.SubFactory(UserFactory)
    version = 1
    answer_schema_version = ANSWER_SCHEMA_VERSION
    done_steps = ()
    skipped = ()
    flags_on = ()
    data = factory.LazyAttribute(lambda o: session_data(o.done_steps, o.skipped, flags=o.flags_on))
    current_step = factory.LazyAttribute(
        lambda o: next((k for k in STEP_KEYS if k not in o.done_steps and k not in o.skipped), "")
    )


class CompletedSessionFactory(OnboardingSessionFactory):
    """A completed session (no workspace side effects; use the service for those)."""

    done_steps = tuple(STEP_KEYS)
    state = OnboardingSession.State.COMPLETED
    current_step = ""
    completed_at = factory.LazyFunction(timezone.now)


def _default_snapshot_answers():
    return {step: valid_answers(step) for step in STEP_KEYS}


class AnswerSnapshotFactory(factory.django.DjangoModelFactory):
    """A snapshot as the ingestion would write it (answers canonical, flattened derived)."""

    class Meta:
        model = "aggregation.AnswerSnapshot"

    session_id = factory.LazyFunction(uuid.uuid4)
    user = factory.SubFactory(UserFactory)
    workspace = None
    answers = factory.LazyFunction(_default_snapshot_answers)
    role = factory.LazyAttribute(lambda o: o.answers.get("profile", {}).get("role", ""))
    answer_schema_version = ANSWER_SCHEMA_VERSION
    completed_at = factory.LazyFunction(timezone.now)
    ingested_at = factory.LazyFunction(timezone.now)
    flattened = factory.LazyAttribute(lambda o: flatten_answers(o.answers))
