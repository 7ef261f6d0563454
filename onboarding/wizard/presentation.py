"""How the wizard shows answers and issues: readable values, form binding, progress."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import QueryDict
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ..flow import step_is_reachable, step_status
from ..manifest import display_value, get_step
from ..selectors import manifest_of

STATUS_LABELS = {"done": _("done"), "skipped": _("skipped"), "pending": _("to do")}


def step_initial(step_key: str, stored: dict | None) -> dict:
    """What a step's form shows before the user types: the stored answers, and for an unanswered
    language the one the pages are in now (the switcher's or the browser's), not the first choice."""
    initial = stored or {}
    if step_key == "preferences" and not initial.get("language"):
        initial = {**initial, "language": translation.get_language()}
    return initial


def form_for_display(form):
    """Prepare a step form for the page: labels exactly the manifest's, no answer chosen for the user.

    A required drop-down without an answer gets an empty first choice ("Choose…"), or Continue
    would answer for the user with its first option.
    """
    form.label_suffix = ""
    for name, field in form.fields.items():
        unanswered = form.get_initial_for_field(field, name) in (None, "")
        if type(field.widget) is forms.Select and field.required and unanswered:
            field.choices = [("", _("Choose…")), *field.choices]
    return form


def typed_answers(form) -> dict:
    """Return what the user submitted for each field of a bound step form (raw widget values)."""
    answers = {}
    for name in form.fields:
        value = form[name].data
        if value is not None:
            answers[name] = value
    return answers


def form_data_for(form, values: dict) -> QueryDict:
    """Encode field → value as the POST data the form's widgets would send."""
    data = QueryDict(mutable=True)
    for name, value in values.items():
        if name not in form.fields:
            continue
        prepared = form.fields[name].prepare_value(value)
        key = form.add_prefix(name)
        if isinstance(prepared, (list, tuple)):
            data.setlist(key, [str(item) for item in prepared])
        elif prepared is True:
            data[key] = "on"
        elif prepared not in (None, False):
            data[key] = str(prepared)
    return data


def form_add_issues(form, issues: list[dict]) -> None:
    """Show service issues on the form, skipping those its own validation already reports."""
    for item in issues:
        field = item.get("field") if item.get("field") in form.fields else None
        shown = form.errors.get(field or NON_FIELD_ERRORS, [])
        if item["message"] not in shown:
            form.add_error(field, item["message"])


def field_label(step_key: str, field: str | None) -> str:
    """Return a field's visible label (or the step's title when no field is named)."""
    step = get_step(step_key)
    form_field = step.form_class.base_fields.get(field or "")
    return str(form_field.label) if form_field is not None else step.title


def changed_fields_display(
    session, changed_fields: list[dict], *, mine: dict | None = None, choices: dict | None = None
) -> list[dict]:
    """Describe fields changed elsewhere with their labels and current values.

    ``mine`` (field → value of the submitted step, as a save would store it) adds what the user
    submitted; ``choices`` (field → "mine" or "theirs") what they already chose for each field.
    """
    rows = []
    for item in changed_fields:
        step_key, field = item["step"], item["field"]
        row = {
            "step": step_key,
            "field": field,
            "step_title": get_step(step_key).title,
            "label": field_label(step_key, field),
            "value": display_value(step_key, field, session.answers.get(step_key, {}).get(field)),
        }
        if mine is not None:
            row["mine"] = display_value(step_key, field, mine.get(field))
            row["choice"] = (choices or {}).get(field, "")
        rows.append(row)
    return rows


def progress_steps(session, current: str) -> list[dict]:
    """Return every step of the session with its status, for the progress indicator.

    ``url``: a step answered or skipped, other than the current one, links back to itself.
    """
    rows = []
    for step in manifest_of(session).steps:
        status = step_status(session, step.key)
        linked = status != "pending" and step.key != current and step_is_reachable(session, step.key)
        rows.append(
            {
                "key": step.key,
                "title": step.title,
                "status": status,
                "status_label": STATUS_LABELS[status],
                "current": step.key == current,
                "url": reverse("onboarding:step", kwargs={"step": step.key}) if linked else "",
            }
        )
    return rows
