"""The answer rules every write shares: answers normalised to the manifest's fields, then validated by the step's form."""

from django.utils.translation import gettext as _

from ..errors import StepValidationError, issue
from ..manifest import Step, snake_key


def normalise_answers(step: Step, answers) -> dict:
    """Return answers with snake_case keys; reject unknown fields, non-JSON-scalar values, and two
    keys that name the same field (``full_name`` and ``fullName``: which one was meant is unknowable)."""
    if not isinstance(answers, dict):
        raise StepValidationError([issue(step.key, None, "invalid", _("Answers must be an object of field: value."))])
    normalised, issues, spelled = {}, [], {}
    for key, value in answers.items():
        name = snake_key(key)
        if name in spelled:
            issues.append(
                issue(
                    step.key,
                    name,
                    "duplicate_field",
                    _("“%(first)s” and “%(second)s” are the same field: send it once.")
                    % {"first": spelled[name], "second": str(key)[:80]},
                )
            )
            continue
        spelled[name] = str(key)[:80]
        if name not in step.kinds:
            issues.append(
                issue(
                    step.key,
                    str(key)[:80],
                    "unknown_field",
                    _("“%(field)s” is not a field of %(step)s.") % {"field": str(key)[:80], "step": step.key},
                )
            )
        elif not _is_plain_value(value):
            issues.append(issue(step.key, name, "invalid_type", _("Use text, a number, true/false or a list of text.")))
        else:
            normalised[name] = value
    if issues:
        raise StepValidationError(issues)
    return normalised


def _is_plain_value(value) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


def step_validate(*, step: Step, answers: dict, user) -> dict:
    """Validate a step's answers with its form and return the cleaned values."""
    form = step.form(data=answers, user=user)
    if form.is_valid():
        return {name: form.cleaned_data[name] for name in step.field_names}
    raise StepValidationError(
        [
            issue(step.key, None if name == "__all__" else name, error.code or "invalid", " ".join(error.messages))
            for name, errors in form.errors.as_data().items()
            for error in errors
        ]
    )


def answers_as_saved(step: Step, answers, user, *, every_field: bool = True) -> dict:
    """Return the submitted fields as a save would store them: cleaned where valid, else as sent.

    ``every_field``: a field left out counts as emptied (a save replaces the step); otherwise only
    the fields sent are returned (a draft changes those alone). Used to tell a real conflict from a
    change elsewhere that the submit agrees with.
    """
    try:
        sent = normalise_answers(step, answers)
    except StepValidationError:
        sent = {}
    form = step.form(data=sent, user=user)
    form.is_valid()
    names = step.field_names if every_field else [name for name in step.field_names if name in sent]
    return {name: form.cleaned_data[name] if name in form.cleaned_data else sent.get(name) for name in names}
