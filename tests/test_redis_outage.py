"""Redis hung (accepts, never answers) or down (a closed port): throttles and lock-out counts fail open
within about a second, the failure is logged and counted, and no request answers 500."""

import logging
import time
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from onboarding_project.cache import outages

from .conftest import PASSWORD
from .factories import StaffFactory, UserFactory
from .outage_support import RedisServer, free_port, hung_tcp_server

pytestmark = pytest.mark.django_db

ABOUT_A_SECOND = 1.5  # the budget of a request that meets a broken Redis first


@pytest.fixture(autouse=True)
def _fresh_outage_record():
    outages.fallbacks, outages.open_until, outages.last_error = 0, 0.0, ""
    yield
    outages.open_until = 0.0


def point_the_cache_at(settings, url):
    settings.CACHES = {
        "default": {
            "BACKEND": "onboarding_project.cache.FailOpenRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "onboarding",
            "OPTIONS": {"socket_connect_timeout": settings.CACHE_TIMEOUT, "socket_timeout": settings.CACHE_TIMEOUT},
        }
    }


@pytest.fixture
def hung_redis(settings):
    with hung_tcp_server() as port:
        point_the_cache_at(settings, f"redis://127.0.0.1:{port}/0")
        yield


@pytest.fixture
def down_redis(settings):
    point_the_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def own_redis(settings, tmp_path):
    server = RedisServer(tmp_path).start()
    point_the_cache_at(settings, server.url)
    yield server
    server.kill()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def token(username, password):
    return APIClient().post("/api/auth/token", {"username": username, "password": password}, format="json")


def draft(client):
    revision = client.get("/api/users/me/onboarding-progress").json()["revision"]
    body = {"revision": revision, "step": "profile", "action": "draft", "answers": {"full_name": "Ad"}}
    return client.patch("/api/users/me/onboarding-progress", body, format="json")


def test_a_login_with_redis_hung_gets_in_within_about_a_second(client, hung_redis):
    user = UserFactory()

    response, elapsed = timed(lambda: login(client, user.username, PASSWORD))

    assert response.status_code == 302 and elapsed < ABOUT_A_SECOND, elapsed


def test_a_wrong_password_with_redis_hung_is_the_form_again_not_a_500(client, hung_redis):
    user = UserFactory()

    response, elapsed = timed(lambda: login(client, user.username, "wrong"))

    assert response.status_code == 200 and elapsed < ABOUT_A_SECOND, elapsed


def test_the_token_endpoint_with_redis_hung_answers_within_about_a_second(hung_redis):
    user = UserFactory()

    response, elapsed = timed(lambda: token(user.username, PASSWORD))

    assert response.status_code == 200 and "access" in response.json()
    assert elapsed < ABOUT_A_SECOND, elapsed


def test_an_api_write_with_redis_hung_answers_within_about_a_second(hung_redis, as_user, new_user):
    client = as_user(new_user)

    response, elapsed = timed(lambda: draft(client))

    assert response.status_code == 200 and elapsed < ABOUT_A_SECOND + 0.5, elapsed


def test_the_admin_login_with_redis_hung_gets_in(client, hung_redis):
    staff = StaffFactory()

    response = client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})

    assert response.status_code == 302


def test_a_sign_up_with_redis_hung_creates_the_account(client, hung_redis):
    body = {"username": "ada", "email": "ada@example.org", "password1": PASSWORD, "password2": PASSWORD}

    assert client.post("/accounts/signup/", body).status_code == 302


def test_with_redis_down_logins_tokens_and_writes_answer_at_once(client, down_redis, as_user, new_user):
    user = UserFactory()

    responses, elapsed = timed(
        lambda: [login(client, user.username, PASSWORD), token(user.username, PASSWORD), draft(as_user(new_user))]
    )

    assert [response.status_code for response in responses] == [302, 200, 200]
    assert elapsed < ABOUT_A_SECOND, elapsed


def test_a_stopped_redis_server_is_a_hung_one_and_fails_open(client, own_redis):
    user = UserFactory()
    own_redis.hang()

    response, elapsed = timed(lambda: login(client, user.username, PASSWORD))

    assert response.status_code == 302 and elapsed < ABOUT_A_SECOND, elapsed


def test_only_the_first_request_pays_the_timeout_then_redis_is_skipped(hung_redis):
    user = UserFactory()
    token(user.username, PASSWORD)

    _, elapsed = timed(lambda: [token(user.username, PASSWORD) for _ in range(5)])

    assert elapsed < 0.5, f"five more token requests took {elapsed:.2f} s"


def test_the_fall_back_is_logged_once_and_counted_for_each_answer(hung_redis, caplog):
    user = UserFactory()

    with caplog.at_level(logging.ERROR, logger="onboarding_project.cache"):
        token(user.username, PASSWORD)
        token(user.username, PASSWORD)

    errors = [record for record in caplog.records if record.name == "onboarding_project.cache"]
    assert len(errors) == 1 and "fail open" in errors[0].getMessage()
    assert outages.fallbacks >= 4  # each throttle and lock-out read and write of both requests


def test_staff_see_the_fall_backs_on_readyz(client, hung_redis, settings):
    settings.REDIS_URL = None  # the broker check is another test's business
    token(UserFactory().username, PASSWORD)
    client.force_login(StaffFactory())

    cache = client.get("/readyz").json()["cache"]

    assert cache["fallbacks"] >= 2 and cache["failing_open"] is True and "Timeout" in cache["last_error"]


def test_lock_outs_count_again_once_redis_answers_after_the_retry_window(client, own_redis, settings):
    user = UserFactory()
    own_redis.hang()
    login(client, user.username, "wrong")  # fails open: not counted
    own_redis.resume()

    with time_machine.travel(timedelta(seconds=settings.CACHE_RETRY_AFTER + 1)):
        statuses = [login(Client(), user.username, "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
        right = login(Client(), user.username, PASSWORD)

    assert statuses[-1] == 429 and right.status_code == 429
