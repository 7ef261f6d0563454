"""Lock-outs after repeated failed logins (CONTRACT §8), the sign-up throttle, and whose address counts."""

import time
from datetime import timedelta

import pytest
import redis
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from .conftest import PASSWORD
from .factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 5
TOKEN_URL = "/api/auth/token"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


def login_page(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def token(client, username, password, **extra):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json", **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_login_page_locks_an_account_and_refuses_even_the_right_password(client):
    user = UserFactory()
    for attempt in range(LIMIT - 1):
        assert login_page(client, user.username, f"wrong-{attempt}").status_code == 200  # the form again

    locking = login_page(client, user.username, "wrong-again")
    right = login_page(client, user.username, PASSWORD)

    assert locking.status_code == 429
    assert right.status_code == 429
    assert "Too many failed login attempts" in right.content.decode()
    assert int(right["Retry-After"]) == 15 * 60
    assert not signed_in(client)


def test_the_account_is_locked_from_any_address(client):
    user = UserFactory()
    for attempt in range(LIMIT):
        login_page(client, user.username, "wrong", REMOTE_ADDR=f"198.51.100.{attempt + 1}")

    response = login_page(client, user.username, PASSWORD, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 429
    assert not signed_in(client)


def test_an_address_is_locked_across_accounts(client):
    for attempt in range(LIMIT):
        login_page(client, f"guess{attempt}", "wrong", REMOTE_ADDR="198.51.100.7")
    other = UserFactory()

    from_there = login_page(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.7")
    elsewhere = login_page(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.8")

    assert from_there.status_code == 429
    assert elsewhere.status_code == 302  # the account itself is fine


def test_the_admin_login_locks_out_staff_accounts(client):
    staff = StaffFactory()
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": staff.username, "password": "wrong"})

    response = client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(client)


def test_the_token_endpoint_locks_out_with_a_429_body_even_for_the_right_password():
    client, user = APIClient(), UserFactory()
    failures = [token(client, user.username, "wrong").status_code for _ in range(LIMIT)]

    response = token(client, user.username, PASSWORD)

    assert failures == [401] * (LIMIT - 1) + [429]
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "locked_out" and "access" not in body
    assert body["retry_after"] == 15 * 60 and response["Retry-After"] == str(15 * 60)


def test_failures_on_one_surface_lock_the_others(client):
    user = UserFactory()
    for _ in range(LIMIT):
        login_page(client, user.username, "wrong")

    assert token(APIClient(), user.username, PASSWORD, REMOTE_ADDR="203.0.113.50").status_code == 429


def test_a_new_x_forwarded_for_per_try_does_not_escape_the_address_lock(client):
    for attempt in range(LIMIT):
        login_page(client, f"guess{attempt}", "wrong", HTTP_X_FORWARDED_FOR=f"10.9.8.{attempt}")
    other = UserFactory()

    response = login_page(client, other.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.8.200")

    assert response.status_code == 429


def test_behind_one_trusted_proxy_the_address_is_the_one_the_proxy_appended(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(LIMIT):  # the client forges the left part; the proxy appends the real address
        login_page(client, f"guess{attempt}", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}, 203.0.113.5")
    other = UserFactory()

    same_client = login_page(client, other.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.0.0.99, 203.0.113.5")
    another_client = login_page(client, other.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.6")

    assert same_client.status_code == 429
    assert another_client.status_code == 302


def test_the_token_throttle_counts_the_address_not_the_forwarded_header(settings):
    settings.API_TOKEN_THROTTLE_RATE = "3/min"
    client, user = APIClient(), UserFactory()

    statuses = [
        token(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR=f"10.1.1.{n}").status_code for n in range(4)
    ]

    assert statuses == [200, 200, 200, 429]


def test_the_lock_is_lifted_after_the_cool_off(client, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    user = UserFactory()
    for _ in range(LIMIT):
        login_page(client, user.username, "wrong")
    assert login_page(client, user.username, PASSWORD).status_code == 429

    time.sleep(1.2)

    assert login_page(client, user.username, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_counts_are_kept_in_the_shared_store(client, settings):
    user = UserFactory()
    login_page(client, user.username, "wrong")

    if settings.REDIS_URL:  # Redis: visible to every process, not only this one's memory
        keys = redis.Redis.from_url(settings.REDIS_URL).keys("onboarding:*axes*")
        assert keys, "axes' counters are in Redis"
    else:
        assert AccessAttempt.objects.filter(username=user.username, failures_since_start=1).exists()


def test_sign_up_is_throttled_per_address(client, settings):
    settings.ACCOUNT_SIGNUP_THROTTLE_RATE = "2/hour"

    def sign_up(name, **extra):
        return client.post(
            "/accounts/signup/",
            {
                "username": name,
                "email": f"{name}@example.org",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
            **extra,
        )

    first = sign_up("first")
    client.logout()
    second = sign_up("second", HTTP_X_FORWARDED_FOR="10.2.2.2")
    client.logout()
    third = sign_up("third", HTTP_X_FORWARDED_FOR="10.3.3.3")
    from_elsewhere = sign_up("fourth", REMOTE_ADDR="198.51.100.44")

    assert [first.status_code, second.status_code, third.status_code] == [302, 302, 429]
    assert "Too many sign-ups" in third.content.decode() and int(third["Retry-After"]) > 0
    assert from_elsewhere.status_code == 302
    assert set(get_user_model().objects.values_list("username", flat=True)) == {"first", "second", "fourth"}
