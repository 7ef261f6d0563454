"""POST /api/onboarding/complete and GET /api/onboarding/manifest: status codes, bodies and headers."""

import pytest
from rest_framework.test import APIClient

from onboarding import services
from onboarding.models import OnboardingEvent, OutboxMessage, Workspace

from .factories import OnboardingSessionFactory, UserFactory, valid_answers

pytestmark = pytest.mark.django_db

URL = "/api/onboarding/complete"
PROGRESS_URL = "/api/users/me/onboarding-progress"
MANIFEST_URL = "/api/onboarding/manifest"
ALL_BUT_COMPLETION = ("profile", "work-profile", "tools", "invites", "preferences", "workspace")


@pytest.fixture
def ready_session(db):
    """Every step answered (workspace: create "Analytical Engines"), not yet completed."""
    return OnboardingSessionFactory(user=UserFactory(username="ready"), done_steps=ALL_BUT_COMPLETION)


def test_it_completes_the_session_and_returns_the_completed_progress(as_user, ready_session):
    response = as_user(ready_session.user).post(URL, {"revision": ready_session.revision}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "completed"
    assert body["completed_at"] is not None
    assert body["current_step"] is None and body["next_step"] is None
    assert response["ETag"] == f'"{body["revision"]}"'
    ready_session.refresh_from_db()
    assert ready_session.is_completed
    assert Workspace.objects.filter(slug="analytical-engines").exists()
    assert OutboxMessage.objects.filter(session=ready_session).count() == 1
    assert OnboardingEvent.objects.filter(session=ready_session, name="completed", source="api").count() == 1


def test_repeating_it_returns_the_same_progress_and_publishes_nothing_new(as_user, ready_session):
    client = as_user(ready_session.user)
    first = client.post(URL, {"revision": ready_session.revision}, format="json")
    again = client.post(URL, {"revision": ready_session.revision}, format="json")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert OutboxMessage.objects.filter(session=ready_session).count() == 1
    assert OnboardingEvent.objects.filter(session=ready_session, name="completed").count() == 1


def test_it_takes_the_revision_from_if_match(as_user, ready_session):
    response = as_user(ready_session.user).post(URL, {}, format="json", HTTP_IF_MATCH=f'"{ready_session.revision}"')
    assert response.status_code == 200
    assert response.json()["state"] == "completed"


def test_an_unfinished_session_is_a_400_naming_the_blocking_step(as_user, halfway_session):
    response = as_user(halfway_session.user).post(URL, {"revision": halfway_session.revision}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["blocking_step"] == "preferences"  # tools and invites are optional
    assert [(i["step"], i["code"]) for i in body["issues"]] == [
        ("preferences", "step_incomplete"),
        ("workspace", "step_incomplete"),
    ]
    assert not OutboxMessage.objects.filter(session=halfway_session).exists()


def test_a_taken_workspace_name_blocks_at_the_workspace_step(as_user, ready_session):
    Workspace.objects.create(name="Analytical Engines", slug="analytical-engines")
    response = as_user(ready_session.user).post(URL, {"revision": ready_session.revision}, format="json")
    assert response.status_code == 400
    assert response.json()["blocking_step"] == "workspace"
    assert response.json()["issues"][0]["field"] == "workspace_name"


def test_a_stale_revision_is_a_409_revision_conflict(as_user, ready_session):
    stale = ready_session.revision
    services.session_save_draft(
        user=ready_session.user, step="tools", answers={"tools": ["jira"]}, revision=stale, source="wizard"
    )
    response = as_user(ready_session.user).post(URL, {"revision": stale}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "revision_conflict"
    assert body["current"]["state"] == "in_progress"
    assert body["changed_fields"] == []  # a draft changes no answer
    assert not OutboxMessage.objects.filter(session=ready_session).exists()


def test_a_missing_revision_is_revision_required(as_user, ready_session):
    response = as_user(ready_session.user).post(URL, {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "revision_required"


def test_a_full_flow_through_the_api_alone(as_user, new_user):
    client = as_user(new_user)
    revision = client.get(PROGRESS_URL).json()["revision"]
    for step in ("profile", "workProfile", "tools", "invites", "preferences"):
        key = "work-profile" if step == "workProfile" else step
        response = client.patch(
            PROGRESS_URL, {"revision": revision, "step": step, "answers": valid_answers(key)}, format="json"
        )
        assert response.status_code == 200, response.json()
        revision = response.json()["revision"]
    response = client.patch(
        PROGRESS_URL,
        {"revision": revision, "step": "workspace", "answers": valid_answers("workspace", workspace_name="Difference")},
        format="json",
    )
    response = client.post(URL, {"revision": response.json()["revision"]}, format="json")
    assert response.status_code == 200
    assert response.json()["completed_steps"] == list(ALL_BUT_COMPLETION)
    assert OutboxMessage.objects.filter(session__user=new_user).count() == 1


def test_the_manifest_lists_every_step_and_its_field_definitions(as_user, new_user):
    response = as_user(new_user).get(MANIFEST_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["answer_schema_version"] == 1
    assert [s["key"] for s in body["steps"]] == list(ALL_BUT_COMPLETION)
    profile = body["steps"][0]
    assert (profile["title"], profile["required"], profile["skippable"]) == ("Profile basics", True, False)
    fields = {f["name"]: f for f in profile["fields"]}
    assert fields["full_name"]["kind"] == "pii" and fields["full_name"]["max_length"] == 120
    assert {"value": "engineering", "label": "Engineering"} in fields["role"]["choices"]
    invites = {f["name"]: f for f in body["steps"][3]["fields"]}
    assert invites["emails"]["max_items"] == 20
    assert invites["invite_role"]["default"] == "member"


def test_the_manifest_needs_authentication(new_user):
    response = APIClient().get(MANIFEST_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
