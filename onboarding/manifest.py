"""The step manifest: the one definition of each onboarding step.

The wizard renders these forms, the API validates with them, the aggregation reads the
field kinds from them. Nothing else keeps a list of steps, fields or choices.

Experiments live here too: a step (``flag=``) or a field (``field_flags=``) may sit behind a
django-waffle flag. A session's flags are decided once, when it starts, and ``session_manifest``
turns the manifest and those flags into the steps and fields that session sees. Everything a
session touches (wizard, API validation, completion, the manifest endpoint) goes through it;
the answer schema is the whole manifest, so flipping a flag never changes its version.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import forms as step_forms

ANSWER_SCHEMA_VERSION = 1
CATEGORICAL_KINDS = frozenset({"choice", "multi", "bool"})
KINDS = frozenset({"choice", "multi", "bool", "text", "pii"})


class UnknownStep(LookupError):
    """Raised for a step key that is not in the manifest."""


@dataclass(frozen=True)
class Step:
    key: str
    title: str  # translatable (lazy): str() gives it in the active language
    form_class: type
    required: bool
    skippable: bool
    flag: str | None = None  # shown only to sessions whose flags turn this on
    field_flags: Mapping[str, str] = field(default_factory=dict, hash=False)  # field -> the flag it needs

    @property
    def kinds(self) -> dict[str, str]:
        return self.form_class.kinds

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.form_class.base_fields)

    def form(self, *args, **kwargs):
        return self.form_class(*args, **kwargs)

    def without_fields(self, names: frozenset[str]) -> "Step":
        """Return this step with the fields ``names`` removed from its form (and its kinds)."""
        if not names & set(self.field_names):
            return self
        return replace(
            self,
            form_class=_form_without(self.form_class, names),
            field_flags={name: flag for name, flag in self.field_flags.items() if name not in names},
        )


def _form_without(form_class: type, names: frozenset[str]) -> type:
    """Subclass a step form without ``names`` (a form field set to None is removed by Django)."""
    return type(
        form_class.__name__,
        (form_class,),
        {
            "__module__": form_class.__module__,
            "__doc__": form_class.__doc__,
            "kinds": {name: kind for name, kind in form_class.kinds.items() if name not in names},
            **{name: None for name in names},
        },
    )


AI_QUESTION_FLAG = "onboarding-ai-question"

STEPS: tuple[Step, ...] = (
    Step("profile", _("Profile basics"), step_forms.ProfileForm, required=True, skippable=False),
    Step(
        "work-profile",
        _("Work profile"),
        step_forms.WorkProfileForm,
        required=True,
        skippable=False,
        field_flags={"ai_usage": AI_QUESTION_FLAG},
    ),
    Step("tools", _("Tools"), step_forms.ToolsForm, required=False, skippable=True),
    Step("invites", _("Invite teammates"), step_forms.InvitesForm, required=False, skippable=True),
    Step("preferences", _("Preferences"), step_forms.PreferencesForm, required=True, skippable=False),
    Step("workspace", _("Workspace"), step_forms.WorkspaceForm, required=True, skippable=False),
)
STEP_KEYS: tuple[str, ...] = tuple(step.key for step in STEPS)
_BY_KEY = {step.key: step for step in STEPS}

for _step in STEPS:  # a form and its declared kinds must never drift apart
    assert set(_step.kinds) == set(_step.field_names), _step.key
    assert set(_step.kinds.values()) <= KINDS, _step.key
    assert set(_step.field_flags) <= set(_step.field_names), _step.key
# Every session starts at the first step and completes on the last (the workspace): never behind a flag.
assert STEPS[0].flag is None and STEPS[-1].flag is None

# Every flag the manifest references: a session decides all of them when it starts.
MANIFEST_FLAGS: tuple[str, ...] = tuple(
    sorted({step.flag for step in STEPS if step.flag} | {flag for step in STEPS for flag in step.field_flags.values()})
)

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


@dataclass(frozen=True)
class SessionManifest:
    """The steps, and the fields of each, that one session's flags turn on, in manifest order."""

    flags: Mapping[str, bool] = field(hash=False)  # every manifest flag, decided: name -> on
    steps: tuple[Step, ...]

    @property
    def step_keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)

    def __contains__(self, key: str) -> bool:
        return key in self.step_keys

    def get_step(self, key: str) -> Step:
        """Return the session's version of the step named ``key`` in any case style, or raise UnknownStep."""
        canonical = canonical_step_key(key)
        for step in self.steps:
            if step.key == canonical:
                return step
        raise UnknownStep(key)

    def previous_step(self, key: str) -> str | None:
        """Return the key of the step before ``key`` in this session, or None for the first."""
        index = self.step_keys.index(key)
        return self.step_keys[index - 1] if index else None


def session_manifest(flags: Mapping[str, bool] | None) -> SessionManifest:
    """Return what a session with ``flags`` sees: flagged steps and fields only when their flag is on.

    A flag the session never decided (it started before the manifest referenced it) is off.
    """
    return _manifest_with(frozenset(name for name in MANIFEST_FLAGS if (flags or {}).get(name) is True))


@functools.cache
def _manifest_with(on: frozenset[str]) -> SessionManifest:
    steps = tuple(
        step.without_fields(frozenset(name for name, flag in step.field_flags.items() if flag not in on))
        for step in STEPS
        if step.flag is None or step.flag in on
    )
    return SessionManifest(flags={name: name in on for name in MANIFEST_FLAGS}, steps=steps)


def field_kind(step_key: str, field: str) -> str:
    """Return the kind of a field; raise KeyError for a field the step does not have."""
    return get_step(step_key).kinds[snake_key(field)]


def widget_name(form_field) -> str:
    """Name the control the wizard renders for a field (the offline wizard renders the same one)."""
    widget = form_field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.RadioSelect):
        return "radio"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Textarea):
        return "textarea"
    return "text"


def field_definition(name: str, form_field) -> dict:
    """Describe one form field for API clients (label, kind, rules, choices, the control it is)."""
    choices = getattr(form_field, "choices", None)
    return {
        "name": name,
        "label": str(form_field.label),
        "required": form_field.required,
        "help_text": str(form_field.help_text or ""),
        "max_length": getattr(form_field, "max_length", None),
        "max_items": getattr(form_field, "max_items", None),
        "choices": [{"value": v, "label": str(lbl)} for v, lbl in choices] if choices else None,
        "default": getattr(form_field, "default", form_field.initial if form_field.initial is not None else None),
        "widget": widget_name(form_field),
    }


def step_definition(step: Step) -> dict:
    """Describe a step and its fields for API clients (``flag``: the flag that shows it, if any)."""
    return {
        "key": step.key,
        "title": str(step.title),
        "required": step.required,
        "skippable": step.skippable,
        "flag": step.flag,
        "fields": [
            {**field_definition(name, form_field), "kind": step.kinds[name], "flag": step.field_flags.get(name)}
            for name, form_field in step.form_class.base_fields.items()
        ],
    }


def display_value(step_key: str, field: str, value) -> str:
    """Return an answer as a person reads it: choice labels, Yes/No, lists joined (the wizard and the admin)."""
    if value is None or value == "" or value == []:
        return gettext("(empty)")
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    form_field = get_step(step_key).form_class.base_fields.get(field)
    choices = dict(getattr(form_field, "choices", None) or [])
    if isinstance(value, (list, tuple)):
        return ", ".join(str(choices.get(item, item)) for item in value)
    return str(choices.get(value, value))
