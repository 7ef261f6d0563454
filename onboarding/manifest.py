"""The step manifest: the one definition of each onboarding step.

The wizard renders these forms, the API validates with them, the aggregation reads the
field kinds from them. Nothing else keeps a list of steps, fields or choices.
"""
import re
from dataclasses import dataclass

from . import forms as step_forms

ANSWER_SCHEMA_VERSION = 1
CATEGORICAL_KINDS = frozenset({"choice", "multi", "bool"})
KINDS = frozenset({"choice", "multi", "bool", "text", "pii"})


class UnknownStep(LookupError):
    """Raised for a step key that is not in the manifest."""


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    form_class: type
    required: bool
    skippable: bool

    @property
    def kinds(self) -> dict[str, str]:
        return self.form_class.kinds

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.form_class.base_fields)

    def form(self, *args, **kwargs):
        return self.form_class(*args, **kwargs)


STEPS: tuple[Step, ...] = (
    Step("profile", "Profile basics", step_forms.ProfileForm, required=True, skippable=False),
    Step("work-profile", "Work profile", step_forms.WorkProfileForm, required=True, skippable=False),
    Step("tools", "Tools", step_forms.ToolsForm, required=False, skippable=True),
    Step("invites", "Invite teammates", step_forms.InvitesForm, required=False, skippable=True),
    Step("preferences", "Preferences", step_forms.PreferencesForm, required=True, skippable=False),
    Step("workspace", "Workspace", step_forms.WorkspaceForm, required=True, skippable=False),
)
STEP_KEYS: tuple[str, ...] = tuple(step.key for step in STEPS)
_BY_KEY = {step.key: step for step in STEPS}

for _step in STEPS:  # a form and its declared kinds must never drift apart
    assert set(_step.kinds) == set(_step.field_names), _step.key
    assert set(_step.kinds.values()) <= KINDS, _step.key

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_key(key: str) -> str:
    """Return ``key`` (camelCase, kebab-case or snake_case) in snake_case."""
    return _CAMEL_BOUNDARY.sub("_", str(key)).replace("-", "_").lower()


def canonical_step_key(key: str) -> str:
    """Return the manifest key for a step named in any case style, or raise UnknownStep."""
    canonical = snake_key(key).replace("_", "-")
    if canonical not in _BY_KEY:
        raise UnknownStep(key)
    return canonical


def get_step(key: str) -> Step:
    """Return the step named ``key`` in any case style, or raise UnknownStep."""
    return _BY_KEY[canonical_step_key(key)]


def step_index(key: str) -> int:
    return STEP_KEYS.index(key)


def field_kind(step_key: str, field: str) -> str:
    """Return the kind of a field; raise KeyError for a field the step does not have."""
    return get_step(step_key).kinds[snake_key(field)]


def field_definition(name: str, field) -> dict:
    """Describe one form field for API clients (label, kind, rules, choices)."""
    choices = getattr(field, "choices", None)
    return {
        "name": name,
        "label": str(field.label),
        "required": field.required,
        "help_text": str(field.help_text or ""),
        "max_length": getattr(field, "max_length", None),
        "max_items": getattr(field, "max_items", None),
        "choices": [{"value": v, "label": str(lbl)} for v, lbl in choices] if choices else None,
        "default": getattr(field, "default", field.initial if field.initial is not None else None),
    }


def step_definition(step: Step) -> dict:
    """Describe a step and its fields for API clients."""
    return {
        "key": step.key,
        "title": step.title,
        "required": step.required,
        "skippable": step.skippable,
        "fields": [
            {**field_definition(name, field), "kind": step.kinds[name]}
            for name, field in step.form_class.base_fields.items()
        ],
    }


def display_value(step_key: str, field: str, value) -> str:
    """Return an answer as a person reads it: choice labels, Yes/No, lists joined (the wizard and the admin)."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    form_field = get_step(step_key).form_class.base_fields.get(field)
    choices = dict(getattr(form_field, "choices", None) or [])
    if isinstance(value, (list, tuple)):
        return ", ".join(str(choices.get(item, item)) for item in value)
    return str(choices.get(value, value))
