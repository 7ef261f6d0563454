"""Lock-outs after repeated failed logins, the sign-up throttle, and whose address counts."""

import io
from datetime import timedelta

import pytest
import redis
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from .conftest import PASSWORD
from .factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 5  # one account from one address
ACCOUNT_LIMIT = 12  # one account from every address
ADDRESS_LIMIT = 10  # one address across accounts
TOKEN_URL = "/api/auth/token"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = ACCOUNT_LIMIT
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = ADDRESS_LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def clock(settings):
    """A stopped clock that moves only when shifted, and a lock-out store that follows it.

    A lock-out is its counters' expiry. Redis expires keys on its own clock, which no test can move;
    the per-process cache (the embedded default) expires them by ``time.time``, which time_machine
    moves. The handler's rules (the expiry it sets, refused attempts not renewing it) are the same
    on both; test_the_counts_are_kept_in_the_shared_store covers Redis.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "clock"}}
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


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


def test_the_lock_out_page_links_to_the_password_reset(client):
    user = UserFactory()
    for _ in range(LIMIT):
        response = login_page(client, user.username, "wrong")

    assert response.status_code == 429
    assert 'href="/accounts/password_reset/"' in response.content.decode()


def test_attempts_during_a_lock_out_do_not_extend_it(client, settings, clock):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=3)
    user = UserFactory()
    for _ in range(LIMIT):
        login_page(client, user.username, "wrong")
    clock.shift(1)
    during = [login_page(client, user.username, password).status_code for password in ("wrong", PASSWORD)]

    clock.shift(2.3)  # 3.3 s after the locking failure; renewed by the attempts, the lock would last until 4 s
    after = login_page(client, user.username, PASSWORD)

    assert during == [429, 429]
    assert after.status_code == 302 and signed_in(client)


def test_failures_from_other_addresses_lock_the_account_only_at_the_account_limit(client):
    user = UserFactory()
    for attempt in range(ACCOUNT_LIMIT - 1):
        login_page(client, user.username, "wrong", REMOTE_ADDR=f"198.51.100.{attempt + 1}")
    assert login_page(client, user.username, PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302
    client.logout()
    login_page(client, user.username, "wrong", REMOTE_ADDR="198.51.100.200")

    response = login_page(client, user.username, PASSWORD, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 429
    assert not signed_in(client)


def test_a_locked_account_does_not_lock_out_another_account_behind_the_same_address(client):
    victim, colleague = UserFactory(), UserFactory()
    for _ in range(LIMIT):
        login_page(client, victim.username, "wrong", REMOTE_ADDR="198.51.100.7")

    colleague_login = login_page(client, colleague.username, PASSWORD, REMOTE_ADDR="198.51.100.7")
    victim_elsewhere = login_page(Client(), victim.username, PASSWORD, REMOTE_ADDR="198.51.100.8")

    assert colleague_login.status_code == 302 and signed_in(client)
    assert victim_elsewhere.status_code == 302  # the lock is on (account, address), not the account


def test_an_address_is_locked_across_accounts_at_the_address_limit(client):
    for attempt in range(ADDRESS_LIMIT - 1):
        login_page(client, f"guess{attempt}", "wrong", REMOTE_ADDR="198.51.100.7")
    other = UserFactory()
    assert login_page(Client(), other.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    login_page(client, "guess-last", "wrong", REMOTE_ADDR="198.51.100.7")

    from_there = login_page(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.7")
    elsewhere = login_page(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.8")

    assert from_there.status_code == 429
    assert elsewhere.status_code == 302  # the account itself is fine


def test_logging_into_ones_own_account_does_not_reset_the_address_count(client):
    own = UserFactory()
    for attempt in range(ADDRESS_LIMIT - 1):
        login_page(client, f"guess{attempt}", "wrong", REMOTE_ADDR="198.51.100.7")
        if attempt == ADDRESS_LIMIT // 2:
            assert login_page(Client(), own.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    login_page(client, "guess-last", "wrong", REMOTE_ADDR="198.51.100.7")

    assert login_page(client, own.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_a_right_password_resets_the_count_of_that_account_from_that_address(client):
    user = UserFactory()
    for _ in range(LIMIT - 1):
        login_page(client, user.username, "wrong")
    assert login_page(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        login_page(client, user.username, "wrong")

    assert login_page(client, user.username, PASSWORD).status_code == 302


def test_a_username_shaped_like_an_address_does_not_count_against_that_address(client):
    for _ in range(ADDRESS_LIMIT):  # from many addresses, all naming 198.51.100.7 as the "username"
        login_page(Client(), "198.51.100.7", "wrong", REMOTE_ADDR=f"203.0.113.{_ + 1}")
    other = UserFactory()

    assert login_page(client, other.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


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
    for surface in range(LIMIT):  # the login page, the admin login and the token endpoint count together
        if surface % 3 == 0:
            login_page(client, user.username, "wrong")
        elif surface % 3 == 1:
            client.post("/admin/login/", {"username": user.username, "password": "wrong"})
        else:
            token(APIClient(), user.username, "wrong")

    assert token(APIClient(), user.username, PASSWORD).status_code == 429
    assert login_page(client, user.username, PASSWORD).status_code == 429
    assert client.post("/admin/login/", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_a_new_x_forwarded_for_per_try_does_not_escape_the_address_lock(client):
    for attempt in range(ADDRESS_LIMIT):
        login_page(client, f"guess{attempt}", "wrong", HTTP_X_FORWARDED_FOR=f"10.9.8.{attempt}")
    other = UserFactory()

    response = login_page(client, other.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.8.200")

    assert response.status_code == 429


def test_behind_one_trusted_proxy_the_address_is_the_one_the_proxy_appended(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(ADDRESS_LIMIT):  # the client forges the left part; the proxy appends the real address
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


def test_the_lock_is_lifted_after_the_cool_off(client, settings, clock):
    user = UserFactory()
    for _ in range(LIMIT):
        login_page(client, user.username, "wrong")
    assert login_page(client, user.username, PASSWORD).status_code == 429

    clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))

    assert login_page(client, user.username, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_counts_are_kept_in_the_shared_store(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("without REDIS_URL the counts are in this process's memory (the embedded default)")
    user = UserFactory()
    login_page(client, user.username, "wrong")

    keys = redis.Redis.from_url(settings.REDIS_URL).keys("onboarding:*login-lockout:*")

    assert len(keys) == 3, "the pair, account and address counters are in Redis, visible to every process"


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


def test_the_reset_commands_lift_an_account_and_an_address(client):
    user = UserFactory()
    for _ in range(LIMIT):
        login_page(client, user.username, "wrong")
    for attempt in range(ADDRESS_LIMIT):
        login_page(client, f"guess{attempt}", "wrong", REMOTE_ADDR="198.51.100.9")
    other = UserFactory()

    call_command("axes_reset_username", user.username, stdout=io.StringIO())
    call_command("axes_reset_ip", "198.51.100.9", stdout=io.StringIO())

    assert login_page(Client(), user.username, PASSWORD).status_code == 302
    assert login_page(Client(), other.username, PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 302
