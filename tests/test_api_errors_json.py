"""Every API error body is JSON: unmatched URLs (a non-numeric id), unhandled exceptions, unknown keys."""

import pytest
from django.db import OperationalError
from django.urls import path

from onboarding_project import urls as project_urls

from .factories import StaffFactory

pytestmark = pytest.mark.django_db


def broken_view(request):
    raise RuntimeError("a bug nobody handled")


def database_gone_view(request):
    raise OperationalError("connection to server at 10.0.0.5, port 5432 failed: Connection refused")


urlpatterns = [
    path("api/broken", broken_view),
    path("broken", broken_view),
    path("api/database-gone", database_gone_view),
    path("database-gone", database_gone_view),
    *project_urls.urlpatterns,
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def test_a_non_numeric_user_id_on_the_staff_api_is_a_json_404(as_user, settings):
    response = as_user(StaffFactory()).get("/api/admin/onboarding/answers/not-a-number")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_an_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/no-such-endpoint")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_an_unknown_page_outside_the_api_is_still_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_under_the_api_is_a_json_500(client):
    client.raise_request_exception = False

    response = client.get("/api/broken")

    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred.", "code": "server_error"}
    assert "a bug nobody handled" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_outside_the_api_is_the_html_500(client):
    client.raise_request_exception = False

    response = client.get("/broken")

    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def test_unknown_top_level_keys_on_the_progress_patch_are_refused_by_name(as_user, new_user):
    client = as_user(new_user)
    revision = client.get("/api/users/me/onboarding-progress").json()["revision"]
    body = {"revision": revision, "step": "profile", "action": "draft", "answer": {"full_name": "Ad"}, "extra": 1}

    response = client.patch("/api/users/me/onboarding-progress", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert sorted(issue["field"] for issue in response.json()["issues"]) == ["answer", "extra"]
    assert client.get("/api/users/me/onboarding-progress").json()["revision"] == revision  # nothing written


@pytest.mark.urls(__name__)
def test_a_lost_database_connection_under_the_api_is_a_json_503_with_retry_after(client):
    client.raise_request_exception = False

    response = client.get("/api/database-gone")

    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert int(response["Retry-After"]) > 0 and "10.0.0.5" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_lost_database_connection_on_a_page_is_a_503_page_that_says_so(client):
    client.raise_request_exception = False

    response = client.get("/database-gone")

    assert response.status_code == 503 and "Briefly unavailable" in response.content.decode()
    assert "10.0.0.5" not in response.content.decode()
