"""Upgrades of older completion messages and answer shapes to the current ones, applied at ingestion.

Messages: ``completions_upgrade`` brings completions of an older ``message_version`` to
``COMPLETION_MESSAGE_VERSION``. Version 1 carried no workspace: its upgrade derives the workspace
id once, from the answers (the slug of the workspace created, or the join code), else the user's
most recently joined workspace.

Answers: ``UPGRADES[n]`` turns answers written under schema version ``n`` into version ``n + 1``;
``answers_upgrade`` chains them up to the manifest's ``ANSWER_SCHEMA_VERSION``. When the
manifest's answer shape changes, bump the version there and register one function here.

Version 0 (the first wizard, before the manifest) stored camelCase step keys, ``profile.name``
instead of ``full_name``, and a head count in ``workProfile.teamSize`` instead of a band::

    {"profile": {"name": "Ada", "role": "engineering"},
     "workProfile": {"teamSize": 7, "functions": ["data"], ...}, ...}
"""

import copy
import dataclasses
import uuid
from collections.abc import Callable

from django.utils.text import slugify

from onboarding.manifest import ANSWER_SCHEMA_VERSION, get_step, snake_key
from onboarding.models import Workspace, WorkspaceMembership
from onboarding.services import COMPLETION_MESSAGE_VERSION


class UnsupportedSchemaVersion(ValueError):
    """Raised for answers of a version with no upgrade path to the current one."""


def _team_size_band(head_count) -> str:
    """Return the manifest's team-size choice that contains ``head_count`` ("2-10", "1000+", ...)."""
    if isinstance(head_count, str) and not head_count.isdigit():
        return head_count  # already a band
    count = int(head_count)
    for value, _label in get_step("work-profile").form_class.base_fields["team_size"].choices:
        low, _, high = value.rstrip("+").partition("-")
        if int(low) <= count and (value.endswith("+") or count <= int(high or low)):
            return value
    raise UnsupportedSchemaVersion(f"team size {head_count!r} fits no band")


def _upgrade_0_to_1(answers: dict) -> dict:
    upgraded = {}
    for raw_step, fields in answers.items():
        step = snake_key(raw_step).replace("_", "-")
        fields = {snake_key(name): value for name, value in (fields or {}).items()}
        if step == "profile" and "name" in fields:
            fields["full_name"] = fields.pop("name")
        if step == "work-profile" and "team_size" in fields:
            fields["team_size"] = _team_size_band(fields["team_size"])
        upgraded[step] = fields
    return upgraded


UPGRADES: dict[int, Callable[[dict], dict]] = {
    0: _upgrade_0_to_1,
}


def answers_upgrade(answers: dict, *, from_version: int) -> dict:
    """Return ``answers`` of ``from_version`` in the current schema's shape (never modifying ``answers``)."""
    if from_version > ANSWER_SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(f"answer schema {from_version} is newer than {ANSWER_SCHEMA_VERSION}")
    if from_version == ANSWER_SCHEMA_VERSION:
        return answers or {}
    answers = copy.deepcopy(answers or {})
    for version in range(from_version, ANSWER_SCHEMA_VERSION):
        if version not in UPGRADES:
            raise UnsupportedSchemaVersion(f"no upgrade registered from answer schema {version}")
        answers = UPGRADES[version](answers)
    return answers


def completions_upgrade(completions: list) -> list:
    """Return ``completions`` (``normalise.Completion``) in the current message version, in order.

    Version 1 gets the workspace id its answers name (three queries for any number of completions).
    """
    old = [c for c in completions if c.message_version < COMPLETION_MESSAGE_VERSION]
    if not old:
        return completions
    derived = _workspace_ids_derived(old)
    return [
        dataclasses.replace(c, message_version=COMPLETION_MESSAGE_VERSION, workspace_id=derived[c.session_id])
        if c.message_version < COMPLETION_MESSAGE_VERSION
        else c
        for c in completions
    ]


def _named_workspace(answers: dict) -> tuple[str, str]:
    fields = answers.get("workspace", {})
    if fields.get("mode") == "create" and fields.get("workspace_name"):
        return ("create", slugify(fields["workspace_name"]))  # the slug completion gave the workspace
    if fields.get("mode") == "join" and fields.get("join_code"):
        return ("join", fields["join_code"])
    return ("", "")


def _workspace_ids_derived(completions: list) -> dict[uuid.UUID, int | None]:
    """Return each completion's workspace id: the one its answers name, else the user's latest membership."""
    named = {c.session_id: _named_workspace(c.answers) for c in completions}
    slugs = {name for mode, name in named.values() if mode == "create"}
    codes = {name for mode, name in named.values() if mode == "join"}
    found = {("create", slug): pk for slug, pk in Workspace.objects.filter(slug__in=slugs).values_list("slug", "pk")}
    found.update(
        {
            ("join", code): pk
            for code, pk in Workspace.objects.filter(join_code__in=codes).values_list("join_code", "pk")
        }
    )
    result = {c.session_id: found.get(named[c.session_id]) for c in completions}
    orphans = {c.user_id for c in completions if result[c.session_id] is None}
    latest = {}
    memberships = WorkspaceMembership.objects.filter(user_id__in=orphans).order_by("user_id", "-joined_at", "-pk")
    for user_id, workspace_id in memberships.values_list("user_id", "workspace_id"):
        latest.setdefault(user_id, workspace_id)
    for c in completions:
        if result[c.session_id] is None:
            result[c.session_id] = latest.get(c.user_id)
    return result
