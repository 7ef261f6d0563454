"""Drive the server-rendered wizard with Django's test Client, as a browser would post it."""

import re

from onboarding.manifest import get_step

MANAGEMENT_FIELD = "onboarding_wizard_view-current_step"
ACTION_BUTTONS = {"continue": "wizard_continue", "skip": "wizard_skip", "back": "wizard_goto_step"}
_REVISION = re.compile(r'name="revision" value="([^"]*)"')


def revision_on(response) -> str:
    """Return the revision carried by the step form of a rendered wizard page."""
    return _REVISION.search(response.content.decode()).group(1)


def step_form_data(step: str, answers: dict | None = None, *, revision: str, action: str = "continue") -> dict:
    """Encode answers as the step form posts them: prefixed names, lists as repeated values."""
    data = {MANAGEMENT_FIELD: step, "revision": revision, ACTION_BUTTONS[action]: "1"}
    form_fields = get_step(step).form_class.base_fields
    for name, value in (answers or {}).items():
        widget_takes_list = getattr(form_fields[name].widget, "allow_multiple_selected", False)
        if isinstance(value, list) and not widget_takes_list:
            value = ", ".join(value)  # list fields are typed as comma-separated text
        if value is True:
            value = "on"
        if value is False or value is None:
            continue
        data[f"{step}-{name}"] = value
    return data


def submit_step(client, step: str, answers: dict | None = None, *, action: str = "continue", revision=None):
    """Open ``/o/<step>/`` and submit it (with the page's revision unless one is given)."""
    if revision is None:
        page = client.get(f"/o/{step}/")
        assert page.status_code == 200, (step, page.status_code, page.get("Location"))
        revision = revision_on(page)
    return client.post(f"/o/{step}/", step_form_data(step, answers, revision=revision, action=action))
