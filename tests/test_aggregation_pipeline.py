"""End to end: completion → outbox → Redis → a real Celery worker → snapshot and totals."""

import os
import random
from collections import Counter
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from aggregation.models import AnswerGroupTotal, AnswerSnapshot
from aggregation.snapshots.consistency import totals_drift
from aggregation.snapshots.normalise import completion_from_message
from aggregation.snapshots.services import snapshot_ingest
from onboarding.models import OutboxMessage
from onboarding.services import INGEST_TASK_NAME, outbox_redispatch_stale
from onboarding.tasks import outbox_redispatch_stale_task  # noqa: F401 (registers the beat task)
from onboarding_project.celery import app

from .aggregation_support import celery_settings, completion_message_for, later, wait_for
from .conftest import complete_through_services
from .factories import UserFactory

CLOSED_PORT_BROKER = "redis://127.0.0.1:6390/0"


def worker_broker_url() -> str | None:
    """Redis DB 4 on the REDIS_URL server: the worker tests' own queue (AGGREGATION_WORKER_REDIS_URL overrides)."""
    if url := os.environ.get("AGGREGATION_WORKER_REDIS_URL"):
        return url
    if base := os.environ.get("REDIS_URL"):
        return base.rsplit("/", 1)[0] + "/4" if base.count("/") >= 3 else base.rstrip("/") + "/4"
    return None


def publisher_reset():
    """Forget cached broker connections so the next publish uses the current broker settings."""
    app._pool = None
    app.amqp._producer_pool = None


def close_thread_connections(**kwargs):
    connections.close_all()  # the worker thread's connections, so the test database can be dropped


@pytest.fixture(scope="module")
def celery_worker():
    """A real worker in a thread, consuming a Redis database of its own."""
    url = worker_broker_url()
    if not url:
        pytest.skip("the worker tests need REDIS_URL")
    redis.Redis.from_url(url).flushdb()  # nothing left over from an earlier run
    task_postrun.connect(close_thread_connections, weak=False)
    try:
        with celery_settings(app, broker_url=url, task_always_eager=False):
            publisher_reset()
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15) as worker:
                yield worker
    finally:
        task_postrun.disconnect(close_thread_connections)
        publisher_reset()


@pytest.fixture
def broker_down():
    """Point the publisher (not the running worker) at a port where no Redis listens."""
    with celery_settings(app, broker_write_url=CLOSED_PORT_BROKER):
        publisher_reset()
        yield
    publisher_reset()


def totals() -> Counter:
    return Counter({(t.step, t.question, t.answer): t.count for t in AnswerGroupTotal.objects.filter(count__gt=0)})


def delivered(message: OutboxMessage) -> bool:
    message.refresh_from_db()
    return message.state == OutboxMessage.State.DELIVERED


def test_a_completion_lands_in_the_snapshot_and_the_totals(celery_worker, transactional_db):
    session = complete_through_services(UserFactory())

    message = OutboxMessage.objects.get(session=session)
    wait_for(lambda: delivered(message))
    snapshot = AnswerSnapshot.objects.get(pk=session.pk)
    assert snapshot.user_id == session.user_id and snapshot.workspace_id == session.data["workspace_id"]
    assert snapshot.completed_at == session.completed_at
    assert totals() == Counter(completion_from_message(message.payload).counted)
    assert message.attempts == 1 and message.delivered_at is not None


def test_with_the_broker_down_completion_succeeds_and_the_sweep_delivers_later(
    celery_worker, transactional_db, broker_down, settings
):
    session = complete_through_services(UserFactory())

    message = OutboxMessage.objects.get(session=session)
    assert session.is_completed
    assert message.state == OutboxMessage.State.PENDING and message.attempts == 1
    assert "6390" in message.last_error
    assert not AnswerSnapshot.objects.exists()
    assert outbox_redispatch_stale(older_than=timedelta(0)) == 0  # still down: still pending
    message.refresh_from_db()
    assert message.state == OutboxMessage.State.PENDING and message.attempts == 2

    app.conf["CELERY_BROKER_WRITE_URL"] = None  # the broker is back
    publisher_reset()
    assert outbox_redispatch_stale(older_than=timedelta(seconds=300)) == 0  # not stale yet
    settings.ONBOARDING_OUTBOX_REDISPATCH_AFTER = 0
    app.signature("onboarding.outbox_redispatch_stale").apply_async()  # what beat sends every 60 s

    wait_for(lambda: delivered(message))
    assert AnswerSnapshot.objects.filter(pk=session.pk).exists()
    assert message.attempts == 3


def test_messages_delivered_three_times_in_shuffled_order_through_the_worker_give_exact_totals(
    celery_worker, transactional_db
):
    rng = random.Random(21)
    firsts = [completion_message_for(UserFactory(), rng=rng) for _ in range(6)]
    finals = [later(message, rng=rng) if index % 2 else message for index, message in enumerate(firsts)]
    deliveries = (firsts + finals[1::2]) * 3
    rng.shuffle(deliveries)
    done = []
    task_postrun.connect(lambda **kwargs: done.append(kwargs["retval"]), weak=False, dispatch_uid="count")

    try:
        for message in deliveries:
            app.signature(INGEST_TASK_NAME, kwargs={"message": message}).apply_async()
        wait_for(lambda: len(done) == len(deliveries))
    finally:
        task_postrun.disconnect(dispatch_uid="count")

    assert Counter(done)["created"] == 6
    assert totals() == sum((Counter(completion_from_message(m).counted) for m in finals), Counter())
    assert totals_drift() == []


def test_a_message_the_consumer_can_never_apply_is_parked_as_failed(celery_worker, transactional_db):
    session = complete_through_services(UserFactory())
    message = OutboxMessage.objects.get(session=session)
    wait_for(lambda: delivered(message))
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxMessage.State.PENDING, payload={**message.payload, "answer_schema_version": 99}
    )

    assert outbox_redispatch_stale(older_than=timedelta(0)) == 1

    wait_for(lambda: OutboxMessage.objects.filter(pk=message.pk, state=OutboxMessage.State.FAILED).exists())
    message.refresh_from_db()
    assert "99" in message.last_error


def test_a_worker_that_died_after_ingesting_but_before_acknowledging_counts_once(
    celery_worker, transactional_db, broker_down
):
    session = complete_through_services(UserFactory())
    message = OutboxMessage.objects.get(session=session)
    assert snapshot_ingest(message=message.payload) == "created"  # committed, then the worker died: no ack
    app.conf["CELERY_BROKER_WRITE_URL"] = None
    publisher_reset()

    assert outbox_redispatch_stale(older_than=timedelta(0)) == 1

    wait_for(lambda: delivered(message))
    assert totals() == Counter(completion_from_message(message.payload).counted)
    assert AnswerSnapshot.objects.count() == 1
