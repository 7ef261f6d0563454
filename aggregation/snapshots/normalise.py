"""Normalisation of completion answers: one module for the live path and the backfill.

Field kinds come from the step manifest: only ``choice``/``multi``/``bool`` answers are counted.
"""

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from onboarding.manifest import CATEGORICAL_KINDS, STEPS, UnknownStep, canonical_step_key, snake_key
from onboarding.services import COMPLETION_MESSAGE_VERSION

from .upgrades import UnsupportedSchemaVersion, answers_upgrade, completions_upgrade

_KINDS = {step.key: step.kinds for step in STEPS}
_FIELD_ORDER = {step.key: step.field_names for step in STEPS}


@functools.lru_cache(maxsize=1024)
def _step_key(raw: str) -> str | None:
    try:
        return canonical_step_key(raw)
    except UnknownStep:
        return None


_field_key = functools.lru_cache(maxsize=4096)(snake_key)  # the backfill normalises ~25 names per session


def canonical_answers(answers: dict) -> dict:
    """Return answers keyed by manifest step keys and snake_case fields, in manifest order.

    Steps or fields the manifest does not know are dropped: they were never valid answers
    (the upgrade registry turns older shapes into the current one before this runs).
    """
    by_step = {}
    for raw_step, fields in (answers or {}).items():
        if step := _step_key(raw_step):
            by_step[step] = {_field_key(name): value for name, value in (fields or {}).items()}
    ordered = {}
    for step, names in _FIELD_ORDER.items():
        if step in by_step:
            ordered[step] = {name: by_step[step][name] for name in names if name in by_step[step]}
    return ordered


def flatten_answers(answers: dict) -> list[dict]:
    """Return ``{"step", "question", "value"}`` rows: one per scalar, one per item of a list."""
    rows = []
    for step, fields in answers.items():
        for question, value in fields.items():
            values = value if isinstance(value, list) else [value]
            rows.extend({"step": step, "question": question, "value": item} for item in values if item != "")
    return rows


def counted_answers(answers: dict) -> list[tuple[str, str, str]]:
    """Return the (step, question, answer) keys a completion adds to the totals, sorted."""
    keys = set()
    for step, fields in answers.items():
        kinds = _KINDS.get(step, {})
        for question, value in fields.items():
            if kinds.get(question) in CATEGORICAL_KINDS:
                values = value if isinstance(value, list) else [value]
                keys.update((step, question, answer_label(item)) for item in values if item != "")
    return sorted(keys)


def arm_counted_answers(answers: dict, flags: dict) -> list[tuple[str, str, str, str, str]]:
    """Return the (flag, arm, step, question, answer) keys a completion adds to the totals by arm, sorted."""
    counted = counted_answers(answers)
    return sorted((flag, "on" if on else "off", *key) for flag, on in (flags or {}).items() for key in counted)


def answer_label(value) -> str:
    """Return the totals' text form of an answer value (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def extract_role(answers: dict) -> str:
    """Return the role answered in the profile step (the admin list's filter), or ""."""
    return str(answers.get("profile", {}).get("role", ""))


class InvalidCompletionMessage(ValueError):
    """Raised for a completion message that can never be ingested (missing keys, bad values)."""


@dataclass(frozen=True)
class Completion:
    """A completion message normalised for the analytics store.

    ``answers`` are canonical and in the current schema's shape; ``answer_schema_version`` is the
    version the user answered under, as stamped on the session and the message; ``flags`` the
    session's flags (``{}`` in messages from before flags existed); ``workspace_id`` the workspace
    the completion created or joined, as the message says (from ``message_version`` 2 on; the
    upgrade of an older message derives it).
    """

    session_id: uuid.UUID
    user_id: int
    completed_at: datetime
    answer_schema_version: int
    answers: dict
    flattened: list
    counted: tuple
    flags: dict
    arm_counted: tuple
    role: str
    message_version: int
    workspace_id: int | None

    @property
    def order_key(self) -> tuple:
        """Which of two messages for one session is newer: completion time, then schema version."""
        return (self.completed_at, self.answer_schema_version)


def completions_from_messages(messages: list[dict]) -> list[Completion]:
    """Validate, upgrade and normalise completion messages, in order (older message versions in one batch)."""
    return completions_upgrade([completion_from_message(message) for message in messages])


def completion_from_message(message: dict) -> Completion:
    """Validate and normalise one completion message, its answers upgraded (no database access).

    A message older than COMPLETION_MESSAGE_VERSION comes back with its ``message_version``:
    ``completions_from_messages`` upgrades it.
    """
    try:
        message_version = int(message.get("message_version", 1))
        workspace_id = message["workspace_id"] if message_version >= 2 else None
        version = int(message["answer_schema_version"])
        completed_at = parse_datetime(str(message["completed_at"]))
        session_id, user_id = uuid.UUID(str(message["session_id"])), int(message["user_id"])
        raw_answers = message["answers"]
        flags = message.get("flags") or {}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidCompletionMessage(f"malformed completion message: {exc!r}") from exc
    if completed_at is None or timezone.is_naive(completed_at) or not isinstance(raw_answers, dict):
        raise InvalidCompletionMessage("completed_at must be an aware ISO 8601 time and answers an object")
    if not isinstance(flags, dict) or not all(isinstance(k, str) and isinstance(v, bool) for k, v in flags.items()):
        raise InvalidCompletionMessage("flags must be an object of flag name: true/false")
    if not 1 <= message_version <= COMPLETION_MESSAGE_VERSION:
        raise InvalidCompletionMessage(f"unknown completion message version {message_version}")
    if workspace_id is not None and (isinstance(workspace_id, bool) or not isinstance(workspace_id, int)):
        raise InvalidCompletionMessage("workspace_id must be an integer or null")
    try:
        answers = canonical_answers(answers_upgrade(raw_answers, from_version=version))
    except UnsupportedSchemaVersion as exc:
        raise InvalidCompletionMessage(str(exc)) from exc
    return Completion(
        session_id=session_id,
        user_id=user_id,
        completed_at=completed_at,
        answer_schema_version=version,
        answers=answers,
        flattened=flatten_answers(answers),
        counted=tuple(counted_answers(answers)),
        flags=flags,
        arm_counted=tuple(arm_counted_answers(answers, flags)),
        role=extract_role(answers),
        message_version=message_version,
        workspace_id=workspace_id,
    )
