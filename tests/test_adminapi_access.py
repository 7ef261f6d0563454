"""Who may use the staff API: anonymous 401, non-staff 403, staff 200, by session and by bearer token."""

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from adminapi.serializers import SnapshotDocumentSerializer
from aggregation.snapshots.documents import snapshot_document
from onboarding.api.tokens import RefreshToken

from .factories import AnswerSnapshotFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/admin/onboarding/answers",
    "/api/admin/onboarding/answers/{user_id}",
    "/api/admin/onboarding/totals",
    "/api/admin/onboarding/funnel",
]


@pytest.fixture
def snapshot(db):
    return AnswerSnapshotFactory()


def _url(template, snapshot):
    return template.format(user_id=snapshot.user_id)


def _bearer(user) -> Client:
    token = RefreshToken.for_user(user).access_token
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_rejects_anonymous_requests_with_401(client, snapshot, endpoint):
    response = client.get(_url(endpoint, snapshot))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "detail" in response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_rejects_an_invalid_bearer_token_with_401(snapshot, endpoint):
    response = Client(headers={"Authorization": "Bearer not-a-token"}).get(_url(endpoint, snapshot))
    assert response.status_code == 401
    assert "detail" in response.json() and "code" in response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_rejects_a_non_staff_session_with_403(client, outsider, snapshot, endpoint):
    client.force_login(outsider)
    response = client.get(_url(endpoint, snapshot))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_rejects_a_non_staff_bearer_token_with_403(outsider, snapshot, endpoint):
    response = _bearer(outsider).get(_url(endpoint, snapshot))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_serves_a_staff_session(client, staff_user, snapshot, endpoint):
    client.force_login(staff_user)
    assert client.get(_url(endpoint, snapshot)).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_serves_a_staff_bearer_token(staff_user, snapshot, endpoint):
    assert _bearer(staff_user).get(_url(endpoint, snapshot)).status_code == 200


def test_it_rejects_a_superuser_without_is_staff(client, snapshot, django_user_model):
    # is_superuser without is_staff is not staff: staff means is_staff.
    user = django_user_model.objects.create_user("super-not-staff", is_superuser=True, is_staff=False)
    client.force_login(user)
    assert client.get("/api/admin/onboarding/answers").status_code == 403


def test_it_describes_every_staff_endpoint_in_the_openapi_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in (
        "/api/admin/onboarding/answers",
        "/api/admin/onboarding/answers/{user_id}",
        "/api/admin/onboarding/totals",
        "/api/admin/onboarding/funnel",
    ):
        assert "get" in paths[path], path
    listed = {p["name"] for p in paths["/api/admin/onboarding/answers"]["get"]["parameters"]}
    assert {"cursor", "page_size", "role", "workspace", "completed_after", "completed_before"} <= listed
    assert {"200", "400", "401", "403"} <= set(paths["/api/admin/onboarding/answers"]["get"]["responses"])
    totals = {p["name"] for p in paths["/api/admin/onboarding/totals"]["get"]["parameters"]}
    assert {"step", "question"} <= totals
    funnel = {p["name"] for p in paths["/api/admin/onboarding/funnel"]["get"]["parameters"]}
    assert {"started_after", "started_before"} <= funnel
    components = schema["components"]["schemas"]
    assert {
        "AdminAnswersPage",
        "AdminUserAnswers",
        "AdminAnswerTotals",
        "AdminOnboardingFunnel",
        "SnapshotDocument",
    } <= set(components)


def test_the_schema_serializer_describes_exactly_the_snapshot_document(snapshot):
    assert list(SnapshotDocumentSerializer().fields) == list(snapshot_document(snapshot))
    assert SnapshotDocumentSerializer().fields["workspace_id"].allow_null
