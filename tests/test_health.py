"""GET /healthz and GET /readyz: no credentials, never cached, honest about dependencies."""

import os
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from onboarding.models import OutboxMessage

from .conftest import complete_through_services
from .factories import StaffFactory, UserFactory
from .outage_support import hung_tcp_server

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def assert_never_cached(response):
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


@pytest.fixture
def closed_port_url():
    with socket.socket() as probe:  # a port nobody listens on: bind, read it, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_healthz_answers_ok_to_anybody_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_never_cached(response)


def test_readyz_checks_the_database_the_broker_and_the_outbox(client, settings):
    settings.REDIS_URL = REDIS_URL
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "outbox": "ok",
    }
    assert_never_cached(response)


def test_readyz_has_no_broker_check_without_redis_url(client, settings):
    settings.REDIS_URL = None
    body = client.get("/readyz").json()
    assert set(body["checks"]) == {"database", "outbox"}


def test_readyz_is_503_when_the_broker_cannot_be_reached(client, settings, closed_port_url):
    settings.REDIS_URL = closed_port_url
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "fail"}, "outbox": {"status": "ok"}},
    }
    assert_never_cached(response)


def test_readyz_answers_within_3_seconds_with_the_broker_hung(client, settings):
    with hung_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started

    assert response.status_code == 503 and response.json()["checks"]["broker"] == {"status": "fail"}
    assert elapsed < 3, elapsed


def test_a_check_slower_than_the_readyz_timeout_fails_as_timed_out(client, settings):
    settings.READYZ_TIMEOUT = 0.3
    with hung_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # its ping gives up after 1 s: later than 0.3
        client.force_login(StaffFactory())
        started = time.monotonic()
        body = client.get("/readyz").json()
        elapsed = time.monotonic() - started

    assert body["checks"]["broker"] == {"status": "fail", "error": "timed out after 0.3 s"}
    assert elapsed < 1, elapsed


def test_anonymous_callers_learn_nothing_but_ok_or_fail(client, settings, closed_port_url, caplog):
    settings.REDIS_URL = closed_port_url
    port = closed_port_url.rsplit(":", 1)[1].split("/")[0]

    response = client.get("/readyz")

    assert port not in response.content.decode() and "error" not in response.content.decode()
    assert any(port in record.getMessage() for record in caplog.records), "the details are in the log"


def test_a_signed_in_non_staff_user_gets_only_ok_or_fail_too(client, settings, closed_port_url):
    settings.REDIS_URL = closed_port_url
    client.force_login(UserFactory())

    body = client.get("/readyz").json()

    assert body["checks"]["broker"] == {"status": "fail"} and "cache" not in body


def test_staff_get_the_error_texts_the_outbox_age_and_the_cache_figures(client, settings, closed_port_url):
    settings.REDIS_URL = closed_port_url
    client.force_login(StaffFactory())

    body = client.get("/readyz").json()

    port = closed_port_url.rsplit(":", 1)[1].split("/")[0]
    assert body["checks"]["broker"]["status"] == "fail" and port in body["checks"]["broker"]["error"]
    assert body["checks"]["outbox"]["oldest_pending_seconds"] == 0
    assert set(body["cache"]) == {"fallbacks", "failing_open", "last_error", "last_failure_at"}


def test_staff_with_a_bearer_token_get_the_details(settings, closed_port_url, as_user):
    settings.REDIS_URL = closed_port_url

    body = as_user(StaffFactory()).get("/readyz").json()

    assert "error" in body["checks"]["broker"]


def test_a_bad_bearer_token_is_an_anonymous_caller(client, settings):
    settings.REDIS_URL = None

    response = client.get("/readyz", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200 and response.json()["checks"]["database"] == {"status": "ok"}


@pytest.mark.django_db(transaction=True)  # the probe reads on its own connection, as a prober's request would
def test_readyz_is_503_when_a_completion_message_waits_longer_than_the_alert_age(client, settings):
    settings.REDIS_URL = None
    client.force_login(StaffFactory())
    settings.ONBOARDING_OUTBOX_ALERT_AFTER = 900
    session = complete_through_services(UserFactory())  # its message stays pending: no commit, no publish
    message = OutboxMessage.objects.get(session=session)
    assert message.state == OutboxMessage.State.PENDING

    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=600))
    fresh = client.get("/readyz")
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=1000))
    stale = client.get("/readyz")

    assert fresh.status_code == 200 and fresh.json()["checks"]["outbox"]["oldest_pending_seconds"] == 600
    assert stale.status_code == 503
    assert stale.json()["checks"]["outbox"]["status"] == "fail"
    assert "1000 s old" in stale.json()["checks"]["outbox"]["error"]


def test_the_probes_answer_plain_http_by_ip_address_under_production_settings(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["onboarding.example.com"]
    settings.REDIS_URL = None

    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # the rest still checks


def test_a_signed_in_user_in_the_middle_of_onboarding_is_not_redirected(client, halfway_user, settings):
    settings.REDIS_URL = None
    client.force_login(halfway_user)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
