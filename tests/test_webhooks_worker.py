"""Webhooks through real Celery worker processes: a completion reaches the receiver; a killed worker loses nothing."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.utils import timezone

from webhooks import services
from webhooks.models import WebhookDelivery

from .aggregation_support import wait_for
from .conftest import complete_through_services
from .factories import UserFactory
from .webhook_support import receiving

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_env(transactional_db, settings, tmp_path):
    """The environment of a worker process on the test database and this run's Redis database."""
    broker = os.environ.get("REDIS_URL")
    if not broker or connection.vendor != "postgresql":
        pytest.skip("the worker tests need REDIS_URL and PostgreSQL")
    redis.Redis.from_url(broker).flushdb()  # no task left over from an earlier test
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "DATABASE_POOL_MAX_SIZE": "2",
        "REDIS_URL": broker,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_TIMEOUT_SECONDS": "1",
    }


class Worker:
    """``celery worker`` in a process group of its own (solo pool: the task runs in that process)."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            [str(CELERY), "-A", "onboarding_project", "worker", "--pool", "solo", "-l", "info"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: " ready." in log.read_text(), timeout=60)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def start_worker(worker_env, tmp_path):
    workers = []

    def _start() -> Worker:
        workers.append(Worker(worker_env, tmp_path / f"worker{len(workers)}.log"))
        return workers[-1]

    yield _start
    for worker in workers:
        worker.stop()


def test_a_completion_reaches_the_receiver_from_the_worker(start_worker):
    start_worker()
    with receiving() as receiver:
        endpoint = services.endpoint_register(url=receiver.url)
        receiver.secrets = [endpoint.secret]
        complete_through_services(UserFactory())  # outbox -> worker ingests -> delivery row -> worker sends
        wait_for(lambda: receiver.received, timeout=30)
    [request] = receiver.received
    assert request.verified_with == [endpoint.secret]
    delivery = WebhookDelivery.objects.get()
    wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == "delivered", timeout=10)


def test_a_worker_killed_mid_delivery_loses_nothing(start_worker, settings):
    settings.WEBHOOK_REDISPATCH_AFTER = 0
    first = start_worker()
    with receiving(hang=True) as receiver:
        endpoint = services.endpoint_register(url=receiver.url)
        complete_through_services(UserFactory())
        assert receiver.arrived.wait(30)  # the worker is sending: the receiver holds the request open
        first.kill()
        receiver.hang.clear()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.state == "pending" and delivery.leased_until is not None
        start_worker()
        # The dead worker's lease lapses; beat's sweep (its service, called here) hands the delivery over again.
        wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).leased_until < timezone.now(), timeout=15)
        assert services.deliveries_dispatch_due() == 1
        wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == "delivered", timeout=30)
    assert len(receiver.received) == 2
    assert receiver.webhook_ids[0] == receiver.webhook_ids[1] == delivery.event.webhook_id
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.attempt_log.get().status_code == 204
