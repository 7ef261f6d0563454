"""Token revocation: a password change or deactivation cuts off every token; refresh tokens rotate; logout."""

import pytest
from rest_framework.test import APIClient

from .conftest import PASSWORD
from .factories import UserFactory

pytestmark = pytest.mark.django_db

PROGRESS_URL = "/api/users/me/onboarding-progress"


def obtain(user) -> dict:
    response = APIClient().post("/api/auth/token", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def read_with(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(PROGRESS_URL)


def refresh_with(refresh):
    return APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")


def test_a_password_change_cuts_off_every_access_and_refresh_token_at_once():
    user = UserFactory()
    first, second = obtain(user), obtain(user)  # two devices
    assert read_with(first["access"]).status_code == 200

    user.set_password("a-new-long-passphrase")
    user.save()

    for tokens in (first, second):
        read = read_with(tokens["access"])
        renewed = refresh_with(tokens["refresh"])
        assert read.status_code == 401 and read.json()["code"] == "token_revoked"
        assert renewed.status_code == 401 and renewed.json()["code"] == "token_revoked"


def test_tokens_issued_after_the_password_change_work():
    user = UserFactory()
    user.set_password(PASSWORD)  # same password, new hash (new salt): old tokens go, new ones work
    user.save()
    assert read_with(obtain(user)["access"]).status_code == 200


def test_deactivation_cuts_off_every_access_and_refresh_token_at_once():
    user = UserFactory()
    tokens = obtain(user)

    user.is_active = False
    user.save()

    read = read_with(tokens["access"])
    renewed = refresh_with(tokens["refresh"])
    assert read.status_code == 401 and read.json()["code"] == "user_inactive"
    assert renewed.status_code == 401 and renewed.json()["code"] == "no_active_account"


def test_a_refresh_rotates_the_refresh_token_and_the_used_one_is_refused():
    tokens = obtain(UserFactory())

    renewed = refresh_with(tokens["refresh"])
    reused = refresh_with(tokens["refresh"])

    assert renewed.status_code == 200
    assert set(renewed.json()) == {"access", "refresh"} and renewed.json()["refresh"] != tokens["refresh"]
    assert read_with(renewed.json()["access"]).status_code == 200
    assert reused.status_code == 401 and reused.json()["code"] == "token_not_valid"
    assert refresh_with(renewed.json()["refresh"]).status_code == 200


def test_logout_blacklists_the_refresh_token_and_the_access_token_runs_out_on_its_own():
    tokens = obtain(UserFactory())

    logout = APIClient().post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")

    assert logout.status_code == 204
    assert refresh_with(tokens["refresh"]).status_code == 401
    # Documented: the access token already issued still works until it expires (5 minutes by default).
    assert read_with(tokens["access"]).status_code == 200


def test_logout_with_a_bad_token_is_a_401():
    response = APIClient().post("/api/auth/logout", {"refresh": "not-a-token"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def _patch_with(access, body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.patch(PROGRESS_URL, body, format="json")


def test_a_revoked_token_writes_nothing_where_the_write_reads_the_user_with_the_session(halfway_session):
    halfway_session.user.set_password(PASSWORD)
    halfway_session.user.save()
    tokens = obtain(halfway_session.user)
    halfway_session.user.set_password("a-new-long-passphrase")
    halfway_session.user.save()
    before = halfway_session.revision

    response = _patch_with(tokens["access"], {"step": "tools", "action": "skip", "revision": before})

    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    halfway_session.refresh_from_db()
    assert halfway_session.revision == before and "tools" not in halfway_session.skipped_steps


def test_a_revoked_token_is_told_401_also_when_its_request_was_bad():
    user = UserFactory()
    tokens = obtain(user)
    user.set_password("a-new-long-passphrase")
    user.save()

    response = _patch_with(tokens["access"], {"step": "no-such-step", "revision": "x"})

    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_save_with_a_bearer_token_reads_no_user_row_of_its_own(halfway_session):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    halfway_session.user.set_password(PASSWORD)
    halfway_session.user.save()
    access = obtain(halfway_session.user)["access"]

    with CaptureQueriesContext(connection) as queries:
        response = _patch_with(access, {"step": "tools", "action": "skip", "revision": halfway_session.revision})

    assert response.status_code == 200
    statements = [query["sql"] for query in queries.captured_queries]
    assert not any(sql.lstrip().startswith("SELECT") and 'FROM "auth_user"' in sql for sql in statements), statements
    assert sum(sql.lstrip().startswith("SELECT") for sql in statements) == 1  # the session, locked, its user joined
