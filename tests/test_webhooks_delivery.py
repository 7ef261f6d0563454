"""Webhook deliveries to a real HTTP receiver on 127.0.0.1: signatures, retries, 410, time limits, redeliveries."""

import contextlib
import json
import random
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from aggregation.snapshots.backfill import answers_backfill
from aggregation.snapshots.services import snapshot_ingest
from webhooks import services
from webhooks.events import ONBOARDING_COMPLETED, WEBHOOK_TEST
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

from .aggregation_support import completion_message_for
from .conftest import complete_through_services
from .factories import UserFactory
from .webhook_support import receiving

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _receivers_on_this_machine(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def register(url, events=None):
    return services.endpoint_register(url=url, events=events)


def complete(user=None) -> WebhookEvent:
    """Store a completed session's snapshot through the live ingestion; return the event it recorded."""
    snapshot_ingest(message=completion_message_for(user or UserFactory(), rng=random.Random(1)))
    return WebhookEvent.objects.latest("created_at")


def attempt_all() -> list[str]:
    """Attempt every pending delivery that is due, as the worker would."""
    due = WebhookDelivery.objects.filter(state="pending", next_attempt_at__lte=timezone.now()).order_by("pk")
    return [services.delivery_attempt(delivery_id=pk) for pk in due.values_list("pk", flat=True)]


def test_a_stored_snapshot_writes_one_delivery_per_subscribed_endpoint(db):
    completed = register("http://127.0.0.1:9/a", events=[ONBOARDING_COMPLETED])
    register("http://127.0.0.1:9/b", events=[WEBHOOK_TEST])
    event = complete()
    assert event.type == ONBOARDING_COMPLETED
    assert [d.endpoint for d in event.deliveries.all()] == [completed]
    assert event.deliveries.get().state == "pending"


def test_the_delivery_rows_roll_back_with_the_snapshot(db):
    register("http://127.0.0.1:9/a")
    with pytest.raises(RuntimeError), transaction.atomic():
        snapshot_ingest(message=completion_message_for(UserFactory()))
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the cause's transaction fails")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_backfill_sends_no_webhooks(db):
    register("http://127.0.0.1:9/a")
    complete_through_services(UserFactory())  # the session only; its snapshot comes from the backfill
    assert answers_backfill()["created"] == 1
    assert not WebhookEvent.objects.exists()


def test_a_delivery_is_signed_per_the_standard_webhooks_specification(db):
    with receiving() as receiver:
        endpoint = register(receiver.url)
        receiver.secrets = [endpoint.secret]
        event = complete()
        assert attempt_all() == ["delivered"]
    [request] = receiver.received
    assert request.verified_with == [endpoint.secret]  # Webhook(secret).verify accepted it
    assert request.webhook_id == event.webhook_id
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert request.headers["content-type"] == "application/json"


def test_the_completed_data_is_the_snapshot_as_the_admin_api_shows_it(db, staff):
    with receiving() as receiver:
        register(receiver.url)
        complete()
        attempt_all()
    body = json.loads(receiver.received[0].body)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "onboarding.completed"
    [result] = staff.get("/api/admin/onboarding/answers").json()["results"]
    assert body["data"] == result


def test_a_receiver_answering_500_then_204_gets_the_same_webhook_id_twice(db):
    with receiving(answers=[500, 204]) as receiver, time_machine.travel(START, tick=True) as clock:
        register(receiver.url)
        event = complete()
        assert attempt_all() == ["retrying"]
        clock.shift(timedelta(minutes=1))
        assert attempt_all() == ["delivered"]
    assert receiver.webhook_ids == [event.webhook_id, event.webhook_id]
    delivery = event.deliveries.get()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert [a.status_code for a in WebhookAttempt.objects.order_by("started_at")] == [500, 204]


def test_failed_attempts_back_off_exponentially_with_jitter_for_at_least_24_hours(db, settings):
    with receiving(default=503) as receiver, time_machine.travel(START, tick=False) as clock:
        register(receiver.url)
        event = complete()
        delivery = event.deliveries.get()
        attempted_at = []
        while delivery.state == "pending":
            clock.move_to(delivery.next_attempt_at)
            attempted_at.append(timezone.now())
            attempt_all()
            delivery.refresh_from_db()
    waits = [(later - earlier).total_seconds() for earlier, later in zip(attempted_at, attempted_at[1:], strict=False)]
    for n, wait in enumerate(waits[:7], start=1):  # 30 s, 60 s, 120 s ... each within +-20 %
        assert 0.8 * 30 * 2 ** (n - 1) <= wait <= 1.2 * 30 * 2 ** (n - 1)
    assert all(0.8 * 3600 <= wait <= 1.2 * 3600 for wait in waits[8:])  # capped at an hour
    assert len(set(waits)) > len(waits) // 2  # jittered, not a fixed grid
    assert attempted_at[-1] - attempted_at[0] >= timedelta(hours=24)
    assert delivery.state == "failed" and delivery.attempts == len(attempted_at) == len(receiver.received)
    assert len(set(receiver.webhook_ids)) == 1


def test_a_410_disables_the_endpoint(db):
    with receiving(default=410) as receiver:
        endpoint = register(receiver.url)
        complete()
        assert attempt_all() == ["gone"]
        complete()  # a later event is not even written for a disabled endpoint
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "gone")
    assert WebhookDelivery.objects.get().state == "failed"
    assert len(receiver.received) == 1


def test_an_endpoint_failing_for_three_days_is_disabled_and_shown_on_the_admin_index(db, staff, settings):
    settings.WEBHOOK_RETRY_FOR_HOURS = 1
    with receiving(default=500) as receiver, time_machine.travel(START, tick=False) as clock:
        endpoint = register(receiver.url)
        complete()
        for day in range(4):
            clock.move_to(START + timedelta(days=day))
            if day:
                complete()
            attempt_all()
        endpoint.refresh_from_db()
        assert (endpoint.is_active, endpoint.disabled_reason) == (False, "failing")
        page = staff.get("/admin/").content.decode()
    assert 'id="webhook-disabled-notice"' in page and receiver.url in page


def test_a_success_resets_the_failing_clock(db):
    with receiving(answers=[500, 204]) as receiver, time_machine.travel(START, tick=True) as clock:
        endpoint = register(receiver.url)
        complete()
        attempt_all()
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None
        clock.shift(timedelta(minutes=2))
        attempt_all()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


def test_no_answer_within_the_time_limit_is_a_failed_attempt(db, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with receiving(hang=True) as receiver:
        register(receiver.url)
        complete()
        assert attempt_all() == ["retrying"]
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "no answer within 0.5 s" in attempt.error
    assert 400 <= attempt.duration_ms < 2000


def test_a_redirect_is_not_followed(db):
    with receiving(answers=[302]) as receiver:
        register(receiver.url)
        complete()
        assert attempt_all() == ["retrying"]
    assert len(receiver.received) == 1
    assert WebhookAttempt.objects.get().status_code == 302


def test_the_answer_is_kept_up_to_its_first_kilobyte(db):
    with receiving(answers=[500], body=b"x" * 100_000) as receiver:
        register(receiver.url)
        complete()
        attempt_all()
    assert WebhookAttempt.objects.get().response_excerpt == "x" * 1024


def test_a_receiver_down_for_a_while_then_back_gets_every_event(db):
    with receiving() as receiver:
        endpoint = register(receiver.url)
        receiver.secrets = [endpoint.secret]
    # The receiver is gone: its port refuses connections.
    with time_machine.travel(START, tick=True) as clock:
        events = [complete() for _ in range(5)]
        for _ in range(3):
            assert set(attempt_all()) <= {"retrying"}
            clock.shift(timedelta(minutes=10))
        with receiving(port=receiver.port, secrets=[endpoint.secret]) as back:
            assert attempt_all() == ["delivered"] * 5
    assert sorted(back.webhook_ids) == sorted(event.webhook_id for event in events)
    assert all(request.verified_with for request in back.received)


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new_one(db):
    with receiving() as receiver, time_machine.travel(START, tick=True) as clock:
        endpoint = register(receiver.url)
        old = endpoint.secret
        endpoint = services.endpoint_rotate_secret(endpoint=endpoint, overlap=timedelta(hours=24))
        receiver.secrets = [old, endpoint.secret]
        complete()
        attempt_all()
        clock.shift(timedelta(hours=25))
        complete()
        attempt_all()
    during, after = receiver.received
    assert len(during.signatures) == 2 and during.verified_with == [old, endpoint.secret]
    assert len(after.signatures) == 1 and after.verified_with == [endpoint.secret]


def test_redelivering_a_delivered_event_keeps_its_webhook_id(db):
    with receiving() as receiver:
        register(receiver.url)
        event = complete()
        attempt_all()
        services.deliveries_redeliver(deliveries=event.deliveries.all())
        attempt_all()
    assert receiver.webhook_ids == [event.webhook_id, event.webhook_id]


def test_every_failed_delivery_is_sent_again_on_request(db, settings):
    settings.WEBHOOK_RETRY_FOR_HOURS = 0
    with receiving(answers=[500, 500]) as receiver:
        endpoint = register(receiver.url)
        events = [complete(), complete()]
        assert attempt_all() == ["gave_up", "gave_up"]
        assert services.deliveries_redeliver_failed(endpoint=endpoint) == 2
        assert attempt_all() == ["delivered", "delivered"]
    assert receiver.webhook_ids == [e.webhook_id for e in events] * 2


def test_every_event_since_a_date_reaches_an_endpoint_added_later(db):
    early = register("http://127.0.0.1:9/first")
    with time_machine.travel(START, tick=True) as clock:
        old = complete()
        clock.shift(timedelta(days=2))
        recent = [complete(), complete()]
    with receiving() as receiver:
        late = register(receiver.url)
        assert services.events_redeliver_since(endpoint=late, since=START + timedelta(days=1)) == 2
        attempt_all()
    assert sorted(receiver.webhook_ids) == sorted(e.webhook_id for e in recent)
    assert not old.deliveries.filter(endpoint=late).exists()
    assert early.deliveries.count() == 3


def test_a_test_event_carries_a_sample_completed_document(db, staff):
    with receiving() as receiver:
        endpoint = register(receiver.url, events=[ONBOARDING_COMPLETED])
        services.endpoint_send_test(endpoint=endpoint)
        attempt_all()
    body = json.loads(receiver.received[0].body)
    assert body["type"] == "webhook.test"
    assert set(body["data"]) == {
        "session_id",
        "user_id",
        "workspace_id",
        "role",
        "answer_schema_version",
        "completed_at",
        "answers",
        "flattened",
        "flags",
    }
    assert body["data"]["answers"]["profile"]["role"] == "engineering"
    assert {"step": "work-profile", "question": "team_size", "value": "2-10"} in body["data"]["flattened"]


def test_a_disabled_endpoint_gets_nothing_and_its_waiting_deliveries_fail(db):
    endpoint = register("http://127.0.0.1:9/a")
    complete()
    services.endpoint_disable(endpoint=endpoint)
    assert WebhookDelivery.objects.get().state == "failed"
    complete()
    assert WebhookDelivery.objects.count() == 1


def test_a_private_address_is_refused_at_delivery_without_the_setting(db, settings):
    with receiving() as receiver:
        register(receiver.url)  # allowed when registered ...
        complete()
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # ... no longer when delivered
        assert attempt_all() == ["retrying"]
    assert receiver.received == []
    assert "private, loopback" in WebhookAttempt.objects.get().error


def test_secrets_are_never_logged(db, caplog):
    caplog.set_level("DEBUG")
    with receiving(answers=[500, 410]) as receiver, time_machine.travel(START, tick=True) as clock:
        endpoint = register(receiver.url)
        complete()
        attempt_all()
        clock.shift(timedelta(minutes=5))
        attempt_all()
    assert WebhookEndpoint.objects.get().disabled_reason == "gone"
    assert endpoint.secret not in caplog.text and endpoint.secret.removeprefix("whsec_") not in caplog.text


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_time_limit(db, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with dripping_receiver() as url:
        register(url)
        complete()
        assert attempt_all() == ["retrying"]
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "no answer within 0.5 s" in attempt.error
    assert attempt.duration_ms < 1500  # every byte came within the socket timeout, the whole answer did not


@contextlib.contextmanager
def dripping_receiver():
    """A receiver that reads the request, then sends its answer one byte every 0.1 s."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = server.accept()
        connection.recv(65536)
        for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"x" * 100:
            if stop.is_set():
                break
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                break
            stop.wait(0.1)
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_hand_over_the_broker_refuses_leaves_the_delivery_to_the_sweep(db, settings):
    from onboarding_project.celery import app

    from .aggregation_support import celery_settings
    from .test_aggregation_pipeline import CLOSED_PORT_BROKER, publisher_reset

    if app.conf.task_always_eager:
        pytest.skip("the embedded default has no broker to lose")
    register("http://127.0.0.1:9/a")
    delivery = complete().deliveries.get()
    with celery_settings(app, broker_write_url=CLOSED_PORT_BROKER):
        publisher_reset()
        try:
            assert services.deliveries_dispatch(delivery_ids=[delivery.pk]) == 0
        finally:
            publisher_reset()
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.dispatched_at is None
    due = WebhookDelivery.objects.filter(
        state="pending", dispatched_at__isnull=True, next_attempt_at__lte=timezone.now()
    )
    assert list(due) == [delivery]  # what beat's sweep hands over next


def test_a_batch_sends_its_due_deliveries_and_skips_the_others(db):
    with receiving() as receiver:
        register(receiver.url)
        ids = [complete().deliveries.get().pk for _ in range(3)]
        services.delivery_attempt(delivery_id=ids[0])
        assert services.deliveries_attempt(delivery_ids=ids) == {"delivered": 2, "not_due": 1}
    assert len(receiver.received) == 3
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_task_for_one_delivery_also_sends_the_other_due_ones_once(db):
    with receiving() as receiver:
        register(receiver.url)
        events = [complete() for _ in range(3)]
        ids = [event.deliveries.get().pk for event in events]
        assert services.deliveries_attempt(delivery_ids=[ids[1]]) == {"delivered": 3}
        assert services.deliveries_attempt(delivery_ids=[ids[0]]) == {"not_due": 1}  # its own task comes later
    assert sorted(receiver.webhook_ids) == sorted(event.webhook_id for event in events)
    assert list(WebhookDelivery.objects.values_list("state", "attempts").distinct()) == [("delivered", 1)]


def test_a_task_whose_delivery_was_sent_already_leaves_the_others_to_their_own_tasks(db):
    with receiving() as receiver:
        register(receiver.url)
        ids = [complete().deliveries.get().pk for _ in range(3)]
        services.delivery_attempt(delivery_id=ids[0])
        assert services.deliveries_attempt(delivery_ids=[ids[0]]) == {"not_due": 1}
    assert len(receiver.received) == 1
    assert list(WebhookDelivery.objects.filter(pk__in=ids[1:]).values_list("state", "attempts")) == [("pending", 0)] * 2


def test_a_task_leaves_a_failing_endpoints_due_retries_to_their_own_dispatch(db):
    with receiving() as receiver:
        failing = register("http://127.0.0.1:9/down")
        WebhookEndpoint.objects.filter(pk=failing.pk).update(failing_since=timezone.now())
        retry = complete().deliveries.get()
        healthy = register(receiver.url)
        live = complete().deliveries.get(endpoint=healthy)
        assert services.deliveries_attempt(delivery_ids=[live.pk]) == {"delivered": 1}
    retry.refresh_from_db()
    assert (retry.state, retry.attempts, retry.leased_until) == ("pending", 0, None)


def test_a_batch_past_its_time_budget_hands_the_rest_back(db, settings):
    from onboarding_project.celery import app

    if app.conf.task_always_eager:
        pytest.skip("in the embedded default a hand-back runs at once, in-process")
    settings.WEBHOOK_BATCH_SECONDS = 0
    with receiving() as receiver:
        register(receiver.url)
        ids = [complete().deliveries.get().pk for _ in range(3)]
        assert services.deliveries_attempt(delivery_ids=ids) == {"delivered": 1}
    rest = WebhookDelivery.objects.filter(pk__in=ids[1:])
    assert [(d.state, d.attempts, d.leased_until) for d in rest] == [("pending", 0, None)] * 2
    assert len(receiver.received) == 1


def test_a_success_in_a_batch_clears_the_failing_clock_a_failure_in_it_started(db):
    with receiving(answers=[500, 204]) as receiver:
        endpoint = register(receiver.url)
        ids = [complete().deliveries.get().pk for _ in range(2)]
        assert services.deliveries_attempt(delivery_ids=ids) == {"retrying": 1, "delivered": 1}
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
