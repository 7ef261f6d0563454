"""The embedded default (no REDIS_URL): the same task runs in-process right after the commit."""

import pytest
from django.db import OperationalError

from aggregation.models import AnswerGroupTotal, AnswerSnapshot
from aggregation.tasks import ingest as tasks
from onboarding.models import OutboxMessage
from onboarding_project.celery import app

from .aggregation_support import celery_settings
from .conftest import complete_through_services
from .factories import UserFactory


@pytest.fixture
def eager_celery():
    """What the settings give without REDIS_URL (errors propagate here so a failure shows)."""
    with celery_settings(app, task_always_eager=True, task_eager_propagates=True):
        yield


@pytest.mark.smoke
def test_without_a_broker_the_completion_is_ingested_in_process_after_commit(
    db, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        session = complete_through_services(UserFactory())

    assert AnswerSnapshot.objects.filter(pk=session.pk, workspace_id=session.data["workspace_id"]).exists()
    assert AnswerGroupTotal.objects.get(step="profile", question="role", answer="engineering").count == 1
    assert OutboxMessage.objects.get(session=session).state == OutboxMessage.State.DELIVERED


def test_the_ingest_task_is_registered_in_a_web_process():
    assert "aggregation.ingest_completion_message" in app.tasks


def test_the_ingest_task_retries_a_database_error(monkeypatch):
    calls = []

    def flaky_ingest(*, message):
        calls.append(message)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return "created"

    monkeypatch.setattr(tasks, "snapshot_ingest", flaky_ingest)

    result = tasks.ingest_completion_message.apply(kwargs={"message": {"session_id": "x"}})

    assert result.successful() and result.result == "created" and len(calls) == 2
    assert tasks.ingest_completion_message.retry_jitter and tasks.ingest_completion_message.max_retries == 8
