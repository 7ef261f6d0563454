"""A broker that accepts connections but never answers must not hang POST /api/onboarding/complete."""

import time

import pytest

from onboarding.models import OutboxMessage
from onboarding_project.celery import app

from .aggregation_support import celery_settings
from .factories import OnboardingSessionFactory, UserFactory
from .outage_support import hung_tcp_server
from .test_aggregation_pipeline import publisher_reset

URL = "/api/onboarding/complete"
ALL_STEPS = ("profile", "work-profile", "tools", "invites", "preferences", "workspace")


@pytest.fixture
def hung_broker():
    """A real TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""
    accepted = []
    with hung_tcp_server(accepted) as port, celery_settings(app, task_always_eager=False):
        # Not through celery_settings: reading broker_write_url gives broker_url when it is unset, and
        # restoring that value would pin later publishers to it. None is "unset".
        app.conf["CELERY_BROKER_WRITE_URL"] = f"redis://127.0.0.1:{port}/0"
        publisher_reset()
        try:
            yield accepted
        finally:
            app.conf["CELERY_BROKER_WRITE_URL"] = None
            publisher_reset()


@pytest.mark.django_db
def test_completion_answers_within_about_a_second_and_leaves_the_message_pending(
    as_user, hung_broker, django_capture_on_commit_callbacks
):
    session = OnboardingSessionFactory(user=UserFactory(), done_steps=ALL_STEPS)

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):  # the publish runs after commit, in the request
        response = as_user(session.user).post(URL, {"revision": session.revision}, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 200 and response.json()["state"] == "completed"
    assert hung_broker, "the publish did reach the hung broker"
    assert elapsed < 3, f"completion took {elapsed:.1f} s with a hung broker"
    message = OutboxMessage.objects.get(session=session)
    assert message.state == OutboxMessage.State.PENDING and message.attempts == 1
    assert "timeout" in message.last_error.lower()
