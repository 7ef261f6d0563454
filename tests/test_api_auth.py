"""Authentication, CSRF, throttling and the OpenAPI schema/docs of the API."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.middleware.csrf import get_token
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from onboarding.api.tokens import AccessToken

from .conftest import PASSWORD
from .factories import valid_answers

pytestmark = pytest.mark.django_db

PROGRESS_URL = "/api/users/me/onboarding-progress"
COMPLETE_URL = "/api/onboarding/complete"


def _bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", PROGRESS_URL),
        ("patch", PROGRESS_URL),
        ("post", COMPLETE_URL),
        ("get", "/api/onboarding/manifest"),
    ],
)
def test_anonymous_requests_are_401_with_a_code(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_bearer_token_is_401_token_not_valid(new_user):
    response = _bearer("not-a-jwt").get(PROGRESS_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert set(response.json()) == {"detail", "code"}


def test_an_expired_bearer_token_is_401_token_not_valid(new_user):
    token = AccessToken.for_user(new_user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = _bearer(token).get(PROGRESS_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_refresh_token_is_not_accepted_as_an_access_token(new_user, client):
    refresh = (
        APIClient()
        .post("/api/auth/token", {"username": "newbie", "password": PASSWORD}, format="json")
        .json()["refresh"]
    )
    response = _bearer(refresh).get(PROGRESS_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_the_token_endpoint_issues_tokens_that_reach_the_users_own_progress(new_user):
    response = APIClient().post("/api/auth/token", {"username": "newbie", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    progress = _bearer(tokens["access"]).get(PROGRESS_URL)
    assert progress.status_code == 200
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert _bearer(refreshed.json()["access"]).get(PROGRESS_URL).json()["session_id"] == progress.json()["session_id"]


def test_the_access_token_lifetime_comes_from_the_setting(new_user, settings):
    from rest_framework_simplejwt.settings import api_settings

    assert api_settings.ACCESS_TOKEN_LIFETIME == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)


@pytest.mark.parametrize(
    "method,url,body",
    [
        ("patch", PROGRESS_URL, {"step": "tools", "action": "skip"}),
        ("post", COMPLETE_URL, {}),
        ("get", PROGRESS_URL, {}),
    ],
)
def test_a_token_of_a_deactivated_user_reads_and_writes_nothing(halfway_session, method, url, body):
    """Reads and writes alike authenticate the token's user: a deactivated account can do neither."""
    token = AccessToken.for_user(halfway_session.user)
    halfway_session.user.is_active = False
    halfway_session.user.save(update_fields=["is_active"])

    response = getattr(_bearer(token), method)(url, {**body, "revision": halfway_session.revision}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "User is inactive", "code": "user_inactive"}
    assert response["WWW-Authenticate"].startswith("Bearer")
    before = halfway_session.revision
    halfway_session.refresh_from_db()
    assert halfway_session.revision == before and "tools" not in halfway_session.skipped_steps


def test_a_token_of_a_deleted_user_is_401(halfway_user):
    token = AccessToken.for_user(halfway_user)
    halfway_user.delete()

    response = _bearer(token).patch(PROGRESS_URL, {"step": "tools", "action": "skip", "revision": "x"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_a_first_write_without_a_read_starts_the_session_and_asks_for_the_current_revision(new_user):
    response = _bearer(AccessToken.for_user(new_user)).patch(
        PROGRESS_URL, {"step": "profile", "answers": valid_answers("profile"), "revision": "never-seen"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["current"]["current_step"] == "profile"
    assert response["ETag"] == f'"{response.json()["current"]["revision"]}"'


def test_wrong_credentials_are_401_with_a_code(new_user):
    response = APIClient().post("/api/auth/token", {"username": "newbie", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_a_bad_refresh_token_is_401_token_not_valid():
    response = APIClient().post("/api/auth/token/refresh", {"refresh": "garbage"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_token_request_without_fields_is_400_validation_failed():
    response = APIClient().post("/api/auth/token", {}, format="json")
    assert response.status_code == 400
    assert {i["field"] for i in response.json()["issues"]} == {"username", "password"}


def test_session_auth_reads_without_csrf_but_writes_need_it(halfway_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(halfway_user)
    progress = client.get(PROGRESS_URL)
    assert progress.status_code == 200

    response = client.patch(
        PROGRESS_URL, {"revision": progress.json()["revision"], "step": "tools", "action": "skip"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert halfway_user.onboarding_sessions.get().revision == progress.json()["revision"]


def test_session_auth_with_the_csrf_token_writes(halfway_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(halfway_user)
    page_request = RequestFactory().get("/")
    csrf_token = get_token(page_request)  # what a same-origin page would embed
    client.cookies[settings.CSRF_COOKIE_NAME] = page_request.META["CSRF_COOKIE"]
    revision = client.get(PROGRESS_URL).json()["revision"]
    response = client.patch(
        PROGRESS_URL,
        {"revision": revision, "step": "tools", "action": "skip"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf_token,
    )
    assert response.status_code == 200
    assert response.json()["skipped_steps"] == ["tools"]


@override_settings(API_WRITE_THROTTLE_RATE="3/min")
def test_writes_beyond_the_rate_are_429_with_retry_after(new_user):
    client = _bearer(AccessToken.for_user(new_user))
    revision = client.get(PROGRESS_URL).json()["revision"]
    for _ in range(3):
        response = client.patch(
            PROGRESS_URL,
            {"revision": revision, "step": "profile", "action": "draft", "answers": {"fullName": "A"}},
            format="json",
        )
        assert response.status_code == 200
        revision = response.json()["revision"]
    response = client.patch(
        PROGRESS_URL, {"revision": revision, "step": "profile", "action": "draft", "answers": {}}, format="json"
    )
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert set(body) == {"detail", "code", "retry_after"}
    assert 0 < body["retry_after"] <= 60
    assert response["Retry-After"] == str(body["retry_after"])
    assert client.get(PROGRESS_URL).status_code == 200  # reads are not throttled


@override_settings(API_WRITE_THROTTLE_RATE="1/min")
def test_the_write_throttle_counts_per_user(new_user, outsider):
    for user in (new_user, outsider):
        client = _bearer(AccessToken.for_user(user))
        revision = client.get(PROGRESS_URL).json()["revision"]
        response = client.patch(
            PROGRESS_URL, {"revision": revision, "step": "profile", "action": "draft", "answers": {}}, format="json"
        )
        assert response.status_code == 200


def test_the_openapi_schema_describes_the_endpoints_and_their_errors():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    patch = schema["paths"]["/api/users/me/onboarding-progress"]["patch"]
    assert {"200", "400", "401", "409", "429"} <= set(patch["responses"])
    complete = schema["paths"]["/api/onboarding/complete"]["post"]
    assert {"200", "400", "401", "409", "429"} <= set(complete["responses"])
    assert "/api/onboarding/manifest" in schema["paths"]
    assert "/api/auth/token" in schema["paths"] and "/api/auth/token/refresh" in schema["paths"]
    assert {"jwtAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_docs_page_loads_its_assets_locally():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_nothing_takes_a_user_id():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    own_paths = [p for p in schema["paths"] if not p.startswith("/api/admin/")]
    assert all("{" not in path for path in own_paths)
    assert valid_answers("profile")  # (the factories are importable: the actors exist)


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_a_cross_origin_spa_may_call_with_a_bearer_token_and_read_the_etag(new_user):
    preflight = APIClient().options(
        PROGRESS_URL,
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "if-match" in preflight["Access-Control-Allow-Headers"]
    response = _bearer(AccessToken.for_user(new_user)).get(PROGRESS_URL, HTTP_ORIGIN="https://app.example.com")
    assert response.status_code == 200
    assert "ETag" in response["Access-Control-Expose-Headers"]


def test_an_unlisted_origin_gets_no_cors_headers(new_user):
    response = _bearer(AccessToken.for_user(new_user)).get(PROGRESS_URL, HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response
