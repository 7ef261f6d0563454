"""Registering, listing, disabling and rotating webhook endpoints (commands and admin), and which addresses are refused."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from aggregation.signals import onboarding_erased
from webhooks import services
from webhooks.addresses import UnsafeWebhookURL, address_is_public, destination_resolve
from webhooks.events import EVENT_TYPES, ONBOARDING_COMPLETED, ONBOARDING_ERASED
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

from .test_webhooks_delivery import complete

ROOT = Path(__file__).resolve().parent.parent


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


@pytest.fixture
def private_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def test_add_webhook_endpoint_prints_its_json_as_the_last_line(db, private_allowed):
    document = json.loads(run("add_webhook_endpoint", "http://127.0.0.1:8123/hooks")[-1])
    assert set(document) == {"id", "url", "events", "secret"}
    assert document["events"] == list(EVENT_TYPES)
    assert document["secret"].startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(pk=document["id"])
    assert (endpoint.url, endpoint.secret) == ("http://127.0.0.1:8123/hooks", document["secret"])


def test_add_webhook_endpoint_takes_the_event_types_given(db, private_allowed):
    args = ("--event", "onboarding.erased", "--event", "onboarding.completed")
    document = json.loads(run("add_webhook_endpoint", "https://127.0.0.1/h", *args)[-1])
    assert document["events"] == ["onboarding.completed", "onboarding.erased"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hooks", "Only http:// and https://"),
        ("http://", "names no host"),
        ("http://exa mple.com/", "names no host"),
        ("http://example.com:99999/", "Malformed URL"),
        ("not a url", "Only http:// and https://"),
        ("http://user:pw@example.com/", "Credentials"),
    ],
)
def test_add_webhook_endpoint_refuses_a_bad_url(db, private_allowed, url, message):
    with pytest.raises(CommandError, match=message):
        run("add_webhook_endpoint", url)
    assert not WebhookEndpoint.objects.exists()


def test_add_webhook_endpoint_refuses_an_unknown_event_type(db, private_allowed):
    with pytest.raises(CommandError, match="Unknown event type onboarding.started"):
        run("add_webhook_endpoint", "http://127.0.0.1/h", "--event", "onboarding.started")


def test_add_webhook_endpoint_refuses_a_private_address_without_the_setting(db):
    with pytest.raises(CommandError, match="WEBHOOK_ALLOW_PRIVATE_NETWORKS"):
        run("add_webhook_endpoint", "http://localhost:8000/hooks")
    assert not WebhookEndpoint.objects.exists()


def test_a_refused_url_exits_with_status_1_and_one_clear_line(transactional_db):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "add_webhook_endpoint", "ftp://example.com/x"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: Only http:// and https:// URLs can receive webhooks."


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1"]
    + ["fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "100.100.100.200", "224.0.0.1"],
)
def test_private_loopback_link_local_and_metadata_addresses_are_not_public(address):
    assert not address_is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert address_is_public(address)


def test_the_destination_is_the_checked_address(settings):
    destination = destination_resolve("http://127.0.0.1:8080/a/b?c=d", allow_private=True)
    assert (destination.address, destination.port, destination.target) == ("127.0.0.1", 8080, "/a/b?c=d")
    with pytest.raises(UnsafeWebhookURL):
        destination_resolve("http://127.0.0.1:8080/", allow_private=False)


def test_list_webhook_endpoints_shows_no_secret(db, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    lines = run("list_webhook_endpoints", "--json")
    assert json.loads(lines[0])["state"] == "active"
    assert endpoint.secret not in "\n".join(lines + run("list_webhook_endpoints"))


def test_disable_webhook_endpoint_and_enable_it_again(db, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    run("disable_webhook_endpoint", str(endpoint.pk))
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "staff")
    run("disable_webhook_endpoint", str(endpoint.pk), "--enable")
    endpoint.refresh_from_db()
    assert endpoint.is_active
    with pytest.raises(CommandError, match="No webhook endpoint with id 999"):
        run("disable_webhook_endpoint", "999")


def test_rotate_webhook_secret_keeps_the_old_one_signing_for_the_overlap(db, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    document = json.loads(run("rotate_webhook_secret", str(endpoint.pk), "--overlap-hours", "12")[-1])
    endpoint.refresh_from_db()
    assert document["secret"] == endpoint.secret != endpoint.previous_secret
    assert endpoint.previous_secret_expires_at > timezone.now()


def test_the_admin_registers_an_endpoint_with_a_new_secret(staff, private_allowed):
    response = staff.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"url": "http://127.0.0.1:9/hooks", "description": "CRM", "events": ["onboarding.completed"]},
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.events == ["onboarding.completed"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "ftp://example.com/", "events": ["onboarding.completed"]}, "Only http:// and https://"),
        ({"url": "http://", "events": ["onboarding.completed"]}, "names no host"),
        ({"url": "http://127.0.0.1/", "events": ["onboarding.started"]}, "onboarding.started is not one of"),
    ],
)
def test_the_admin_refuses_bad_input_with_a_form_error(staff, private_allowed, data, message):
    response = staff.post("/admin/webhooks/webhookendpoint/add/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_admin_refuses_a_private_address_without_the_setting(staff):
    response = staff.post(
        "/admin/webhooks/webhookendpoint/add/", {"url": "http://127.0.0.1/", "events": ["onboarding.completed"]}
    )
    assert response.status_code == 200 and "WEBHOOK_ALLOW_PRIVATE_NETWORKS" in response.content.decode()


def test_the_admin_sends_a_test_event_and_redelivers_since_a_date(staff, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    changelist = "/admin/webhooks/webhookendpoint/"
    staff.post(changelist, {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert WebhookEvent.objects.get().type == "webhook.test"
    complete()
    WebhookDelivery.objects.update(state="delivered")
    page = staff.post(changelist, {"action": "redeliver_since", "_selected_action": [endpoint.pk]})
    assert page.status_code == 200 and 'name="since"' in page.content.decode()
    response = staff.post(
        changelist, {"action": "redeliver_since", "_selected_action": [endpoint.pk], "since": "2000-01-01"}
    )
    assert response.status_code == 302
    [again] = WebhookDelivery.objects.filter(state="pending")  # test events are not sent again
    assert again.event.type == ONBOARDING_COMPLETED


def test_the_admin_lists_deliveries_per_endpoint_and_redelivers_one(staff, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    complete()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state="failed")
    page = staff.get(f"/admin/webhooks/webhookdelivery/?endpoint__id__exact={endpoint.pk}&state__exact=failed")
    assert page.status_code == 200 and delivery.event.webhook_id in page.content.decode()
    assert staff.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").status_code == 200
    staff.post("/admin/webhooks/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.state == "pending"


def test_the_erasure_signal_scrubs_answers_and_records_an_erased_event(db, private_allowed):
    services.endpoint_register(url="http://127.0.0.1:9/h")
    completed = complete()
    user_id, session_id = completed.user_id, completed.payload["data"]["session_id"]
    with transaction.atomic():
        onboarding_erased.send(sender=None, user_id=user_id, session_ids=[session_id])
    completed.refresh_from_db()
    assert completed.payload["data"]["answers"] == {} and completed.payload["data"]["flattened"] == []
    assert completed.payload["data"]["session_id"] == session_id
    erased = WebhookEvent.objects.get(type=ONBOARDING_ERASED)
    assert erased.payload["data"] == {"user_id": user_id, "session_ids": [session_id]}
    assert erased.deliveries.count() == 1


def test_the_erasure_signal_writes_nothing_when_its_transaction_rolls_back(db, private_allowed):
    services.endpoint_register(url="http://127.0.0.1:9/h")
    completed = complete()
    with pytest.raises(RuntimeError), transaction.atomic():
        onboarding_erased.send(sender=None, user_id=completed.user_id, session_ids=[])
        raise RuntimeError("the erasure fails")
    completed.refresh_from_db()
    assert completed.payload["data"]["answers"]
    assert not WebhookEvent.objects.filter(type=ONBOARDING_ERASED).exists()
    assert WebhookEvent.objects.filter(type=ONBOARDING_COMPLETED).count() == 1


def test_the_admin_edits_an_endpoint_through_the_same_checks(staff, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    page = f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"
    refused = staff.post(page, {"url": "ftp://127.0.0.1/", "events": ["onboarding.erased"], "description": ""})
    assert refused.status_code == 200 and "Only http:// and https://" in refused.content.decode()
    staff.post(page, {"url": "http://127.0.0.1:9/new", "events": ["onboarding.erased"], "description": "CRM"})
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.description) == (
        "http://127.0.0.1:9/new",
        ["onboarding.erased"],
        "CRM",
    )


def test_the_admin_rotates_a_secret_with_an_overlap(staff, private_allowed):
    endpoint = services.endpoint_register(url="http://127.0.0.1:9/h")
    old = endpoint.secret
    staff.post("/admin/webhooks/webhookendpoint/", {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at > timezone.now()


def test_the_retention_run_deletes_old_delivery_attempts_in_batches(db, private_allowed, settings):
    from datetime import timedelta

    from aggregation.signals import retention_due
    from webhooks.models import WebhookAttempt

    settings.ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS = 30
    services.endpoint_register(url="http://127.0.0.1:9/h")
    delivery = complete().deliveries.get()
    now = timezone.now()
    for days in (40, 35, 31, 5):
        WebhookAttempt.objects.create(delivery=delivery, started_at=now - timedelta(days=days), duration_ms=1)
    retention_due.send(sender=None, now=now, batch=2)
    assert [a.started_at for a in WebhookAttempt.objects.all()] == [now - timedelta(days=5)]


def test_erasing_a_person_sends_onboarding_erased_and_scrubs_their_completion(db, private_allowed):
    services.endpoint_register(url="http://127.0.0.1:9/h")
    completed = complete()
    username = get_user_model().objects.get(pk=completed.user_id).username
    call_command("erase_onboarding_user", username, stdout=StringIO(), stderr=StringIO())
    completed.refresh_from_db()
    assert completed.payload["data"]["answers"] == {}
    erased = WebhookEvent.objects.get(type=ONBOARDING_ERASED)
    assert erased.payload["data"]["user_id"] == completed.user_id
