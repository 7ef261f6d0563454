"""Upgrades of older answer shapes to the current one, applied at ingestion.

``UPGRADES[n]`` turns answers written under schema version ``n`` into version ``n + 1``;
``answers_upgrade`` chains them up to the manifest's ``ANSWER_SCHEMA_VERSION``. When the
manifest's answer shape changes, bump the version there and register one function here.

Version 0 (the first wizard, before the manifest) stored camelCase step keys, ``profile.name``
instead of ``full_name``, and a head count in ``workProfile.teamSize`` instead of a band::

    {"profile": {"name": "Ada", "role": "engineering"},
     "workProfile": {"teamSize": 7, "functions": ["data"], ...}, ...}
"""

import copy
from collections.abc import Callable

from onboarding.manifest import ANSWER_SCHEMA_VERSION, get_step, snake_key


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
