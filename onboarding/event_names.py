"""Telemetry names the admin filters by: ``OnboardingEvent``'s choices and all the browser reports.

CONTRACT §2b names four browser events (source ``browser``), all model choices now; the list
stays so the admin's filters name them even if a choice is ever renamed.
"""
from .models import OnboardingEvent

BROWSER_SOURCE = "browser"
BROWSER_EVENTS = ("save_retried", "save_queued", "save_replayed", "conflict_shown")


def event_name_choices() -> list[tuple[str, str]]:
    """Return every event name staff can filter by: the model's choices and the browser's names."""
    choices = dict(OnboardingEvent.Name.choices)
    for name in BROWSER_EVENTS:
        choices.setdefault(name, name.replace("_", " ").capitalize())
    return list(choices.items())


def event_source_choices() -> list[tuple[str, str]]:
    """Return every event source: the model's choices and the browser."""
    choices = dict(OnboardingEvent.Source.choices)
    choices.setdefault(BROWSER_SOURCE, "Browser")
    return list(choices.items())
