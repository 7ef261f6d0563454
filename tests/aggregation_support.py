"""Helpers for the aggregation tests: completion messages with varied answers, waiting."""

import contextlib
import random
import time
import uuid
from datetime import timedelta

from django.utils import timezone

from onboarding.manifest import ANSWER_SCHEMA_VERSION, STEP_KEYS

from .factories import valid_answers

ROLES = ("engineering", "design", "product", "data", "founder")
TEAM_SIZES = ("1", "2-10", "11-50", "51-200")
TOOLS = ("github", "gitlab", "jira", "linear", "slack", "notion", "figma")


def varied_answers(rng: random.Random) -> dict:
    """Return valid answers for every step, with the counted fields drawn from ``rng``."""
    answers = {step: valid_answers(step) for step in STEP_KEYS}
    answers["profile"]["role"] = rng.choice(ROLES)
    answers["work-profile"]["team_size"] = rng.choice(TEAM_SIZES)
    answers["tools"]["tools"] = rng.sample(TOOLS, rng.randint(0, 3))
    answers["preferences"]["product_updates"] = rng.random() < 0.5
    return answers


def completion_message_for(
    user, *, session_id=None, completed_at=None, answers=None, version=ANSWER_SCHEMA_VERSION, rng=None
) -> dict:
    """Return a completion message, shaped as the outbox sends it, for ``user``."""
    return {
        "user_id": user.pk,
        "session_id": str(session_id or uuid.uuid4()),
        "completed_at": (completed_at or timezone.now()).isoformat(),
        "answer_schema_version": version,
        "answers": answers if answers is not None else varied_answers(rng or random.Random()),
    }


def later(message: dict, *, seconds: float = 1, rng=None) -> dict:
    """Return a newer message for the same session, with other answers."""
    completed_at = timezone.datetime.fromisoformat(message["completed_at"]) + timedelta(seconds=seconds)
    return {**message, "completed_at": completed_at.isoformat(), "answers": varied_answers(rng or random.Random())}


def wait_for(condition, *, timeout: float = 15, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@contextlib.contextmanager
def celery_settings(app, **values):
    """Change Celery settings for a block (the app reads Django settings under the CELERY_ namespace).

    What is restored is the raw setting, not the value Celery resolves: an unset broker_write_url reads as
    broker_url, and restoring that would pin every later publisher to the broker of the moment.
    """
    keys = {name: f"CELERY_{name.upper()}" for name in values}
    saved = {key: app.conf.get(key) for key in keys.values()}
    try:
        for name, value in values.items():
            app.conf[keys[name]] = value
        yield
    finally:
        for key, value in saved.items():
            app.conf[key] = value
