"""GET/PATCH /api/users/me/onboarding-progress: status codes, bodies and headers, on PostgreSQL."""

import json

import pytest

from onboarding.api.digests import answers_checksum
from onboarding.models import OnboardingEvent, OnboardingSession

from .factories import valid_answers

pytestmark = pytest.mark.django_db

URL = "/api/users/me/onboarding-progress"
PROGRESS_KEYS = {
    "session_id",
    "revision",
    "version",
    "answer_schema_version",
    "state",
    "current_step",
    "next_step",
    "completed_steps",
    "skipped_steps",
    "steps",
    "answers",
    "checksum",
    "started_at",
    "updated_at",
    "completed_at",
}


def _progress(client):
    response = client.get(URL)
    assert response.status_code == 200
    return response.json()


def _patch(client, body, **headers):
    return client.patch(URL, body, format="json", **headers)


def test_it_returns_the_progress_document_with_an_etag(as_user, new_user):
    response = as_user(new_user).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert PROGRESS_KEYS <= set(body)
    assert response["ETag"] == f'"{body["revision"]}"'
    assert body["state"] == "in_progress"
    assert body["current_step"] == body["next_step"] == "profile"
    assert body["completed_steps"] == body["skipped_steps"] == []
    assert [s["key"] for s in body["steps"]] == [
        "profile",
        "work-profile",
        "tools",
        "invites",
        "preferences",
        "workspace",
    ]
    assert body["steps"][2] == {
        "key": "tools",
        "title": "Tools",
        "required": False,
        "skippable": True,
        "status": "pending",
    }
    assert body["answers"] == {} and body["checksum"] == answers_checksum({})
    assert body["completed_at"] is None
    assert OnboardingEvent.objects.filter(user=new_user, name="started", source="api").count() == 1


def test_it_shows_a_halfway_user_their_answers_and_next_step(as_user, halfway_user):
    body = _progress(as_user(halfway_user))
    assert body["completed_steps"] == ["profile", "work-profile"]
    assert body["next_step"] == "tools"
    assert body["answers"]["profile"] == valid_answers("profile")
    assert body["checksum"] == answers_checksum(body["answers"])


def test_it_saves_a_step_and_answers_with_the_new_revision(as_user, new_user):
    client = as_user(new_user)
    before = _progress(client)
    response = _patch(
        client,
        {"revision": before["revision"], "step": "profile", "action": "save", "answers": valid_answers("profile")},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] != before["revision"]
    assert response["ETag"] == f'"{body["revision"]}"'
    assert body["completed_steps"] == ["profile"]
    assert body["next_step"] == "work-profile"
    assert body["answers"]["profile"]["full_name"] == "Ada Lovelace"
    assert body["checksum"] == answers_checksum(body["answers"]) != before["checksum"]
    session = OnboardingSession.objects.get(user=new_user)
    assert session.revision == body["revision"]
    assert OnboardingEvent.objects.filter(session=session, name="step_saved", step="profile", source="api").exists()


def test_save_is_the_default_action(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "profile", "answers": valid_answers("profile")})
    assert response.status_code == 200
    assert response.json()["completed_steps"] == ["profile"]


def test_it_accepts_camel_case_step_and_field_names(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    revision = _patch(
        client,
        {
            "revision": revision,
            "step": "profile",
            "answers": {"fullName": "Ada", "job-title": "Analyst", "role": "data"},
        },
    ).json()["revision"]
    answers = {
        "teamSize": "2-10",
        "timezone": "Europe/Berlin",
        "functions": ["data"],
        "intents": ["reporting"],
        "experience": "none",
        "team-name": "Engines",
    }
    response = _patch(client, {"revision": revision, "step": "workProfile", "answers": answers})
    assert response.status_code == 200
    body = response.json()
    assert body["completed_steps"] == ["profile", "work-profile"]
    assert body["answers"]["profile"] == {"full_name": "Ada", "job_title": "Analyst", "role": "data"}
    assert body["answers"]["work-profile"]["team_size"] == "2-10"
    assert body["answers"]["work-profile"]["team_name"] == "Engines"


def test_it_takes_the_revision_from_if_match(as_user, halfway_user):
    client = as_user(halfway_user)
    etag = client.get(URL)["ETag"]
    response = _patch(client, {"step": "tools", "action": "skip"}, HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    assert response.json()["skipped_steps"] == ["tools"]


def test_it_skips_a_skippable_step(as_user, halfway_user):
    client = as_user(halfway_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "tools", "action": "skip"})
    assert response.status_code == 200
    body = response.json()
    assert body["skipped_steps"] == ["tools"]
    assert body["steps"][2]["status"] == "skipped"
    assert body["next_step"] == "invites"
    assert OnboardingEvent.objects.filter(user=halfway_user, name="step_skipped", source="api").exists()


def test_it_refuses_to_skip_a_required_step(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "profile", "action": "skip"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert response.json()["issues"][0]["code"] == "not_skippable"


def test_back_unmarks_the_previous_step_and_makes_it_current(as_user, halfway_user):
    client = as_user(halfway_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "tools", "action": "back"})
    assert response.status_code == 200
    body = response.json()
    assert body["current_step"] == "work-profile"
    assert body["completed_steps"] == ["profile"]
    assert body["answers"]["work-profile"] == valid_answers("work-profile")  # kept, to be edited
    assert OnboardingEvent.objects.filter(user=halfway_user, name="step_back", source="api").exists()


def test_draft_stores_partial_answers_without_validating_or_marking(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(
        client,
        {
            "revision": revision,
            "step": "profile",
            "action": "draft",
            "answers": {"fullName": "Ad", "role": "not-a-role"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["completed_steps"] == [] and body["answers"] == {}
    assert body["drafts"] == {"profile": {"full_name": "Ad", "role": "not-a-role"}}
    assert OnboardingEvent.objects.filter(user=new_user, name="draft_saved", source="api").exists()


def test_a_stale_revision_is_a_409_with_the_current_progress_and_changed_fields(as_user, halfway_user):
    client = as_user(halfway_user)
    stale = _progress(client)["revision"]
    fresh = _patch(client, {"revision": stale, "step": "tools", "action": "back"}).json()["revision"]
    changed = valid_answers("work-profile", team_size="11-50")
    assert _patch(client, {"revision": fresh, "step": "work-profile", "answers": changed}).status_code == 200

    response = _patch(
        client, {"revision": stale, "step": "work-profile", "answers": valid_answers("work-profile", experience="none")}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "revision_conflict"
    assert body["changed_fields"] == [{"step": "work-profile", "field": "team_size"}]
    assert body["current"]["answers"]["work-profile"]["team_size"] == "11-50"
    assert body["current"]["answers"]["work-profile"]["experience"] == "advanced"  # nothing written
    assert response["ETag"] == f'"{body["current"]["revision"]}"'
    assert OnboardingEvent.objects.filter(user=halfway_user, name="revision_conflict", source="api").exists()


def test_a_missing_revision_is_revision_required(as_user, new_user):
    client = as_user(new_user)
    _progress(client)
    response = _patch(client, {"step": "profile", "answers": valid_answers("profile")})
    assert response.status_code == 400
    assert response.json()["code"] == "revision_required"
    assert OnboardingSession.objects.get(user=new_user).answers == {}


def test_invalid_answers_are_validation_failed_with_issues(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "profile", "answers": {"full_name": "", "role": "wizard"}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {(i["step"], i["field"], i["code"]) for i in body["issues"]} == {
        ("profile", "full_name", "required"),
        ("profile", "role", "invalid_choice"),
    }
    assert all(set(i) == {"step", "field", "code", "message"} for i in body["issues"])
    assert OnboardingEvent.objects.filter(user=new_user, name="validation_failed", source="api").exists()


def test_an_unknown_step_is_rejected(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "hobbies", "answers": {}})
    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "unknown_step"


def test_an_unknown_field_is_rejected_and_nothing_is_stored(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "profile", "action": "draft", "answers": {"shoeSize": 42}})
    assert response.status_code == 400
    assert response.json()["issues"][0] == {
        "step": "profile",
        "field": "shoeSize",
        "code": "unknown_field",
        "message": response.json()["issues"][0]["message"],
    }
    assert OnboardingSession.objects.get(user=new_user).data["drafts"] == {}


@pytest.mark.parametrize("action", ["save", "draft"])
def test_two_spellings_of_one_field_are_a_400_and_nothing_is_stored(as_user, new_user, action):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(
        client,
        {
            "revision": revision,
            "step": "profile",
            "action": action,
            "answers": {**valid_answers("profile"), "full_name": "Ada", "fullName": "Grace"},
        },
    )
    assert response.status_code == 400
    [problem] = response.json()["issues"]
    assert (problem["step"], problem["field"], problem["code"]) == ("profile", "full_name", "duplicate_field")
    session = OnboardingSession.objects.get(user=new_user)
    assert session.revision == revision and session.data["drafts"] == {} and "profile" not in session.answers


def test_a_key_repeated_in_the_json_body_is_a_parse_error(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    body = (
        f'{{"revision": "{revision}", "step": "profile", "action": "draft",'
        ' "answers": {"full_name": "Ada", "full_name": "Grace"}}'
    )
    response = client.patch(URL, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert OnboardingSession.objects.get(user=new_user).revision == revision


def test_a_step_not_reached_yet_is_rejected_with_the_blocking_step(as_user, new_user):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    response = _patch(client, {"revision": revision, "step": "preferences", "answers": valid_answers("preferences")})
    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "step_not_reached"
    assert response.json()["blocking_step"] == "profile"


@pytest.mark.parametrize(
    "body",
    [
        {"step": "profile", "action": "explode"},
        {"step": "profile", "answers": ["full_name"]},
        {"step": ["profile"]},
        {"action": "save"},
        {"step": "profile", "answers": {"full_name": {"first": "Ada"}}},
        {"step": "profile", "answers": {"full_name": "x" * 50_000}},
        {"step": None},
        [{"step": "profile"}],
        "profile",
    ],
)
def test_malformed_input_is_a_400_with_a_code(as_user, new_user, body):
    client = as_user(new_user)
    revision = _progress(client)["revision"]
    if isinstance(body, dict):
        body = {"revision": revision, **body}
    response = _patch(client, body)
    assert response.status_code == 400
    assert response.json()["code"] in {"validation_failed", "revision_required"}
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"step": "profile", "answers": {"full_name": NaN}}',
        b'{"step": "profile", "n": 1e999}',
        b'{"step": "profile\\u0000"}',
        b'{"step": "\\ud800"}',
        b"[" * 5000 + b"]" * 5000,
        b"\xff\xfe",
    ],
)
def test_unparseable_or_unstorable_json_is_a_400_parse_error(as_user, new_user, raw):
    response = as_user(new_user).generic("PATCH", URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("content_type", ["application/json; charset=rot13", "application/json; charset=utf-16"])
def test_a_body_in_an_odd_charset_is_a_400_parse_error(as_user, new_user, content_type):
    response = as_user(new_user).generic("PATCH", URL, b'{"step": "profile"}', content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_body_over_the_size_limit_is_a_413(as_user, new_user, settings):
    body = json.dumps({"step": "profile", "action": "draft", "answers": {"full_name": "x" * 70_000}})
    response = as_user(new_user).generic("PATCH", URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_a_non_json_body_is_a_415(as_user, new_user):
    response = as_user(new_user).generic("PATCH", URL, "step=profile", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_completed_session_answers_409_already_completed(as_user, completed_session):
    client = as_user(completed_session.user)
    response = _patch(
        client, {"revision": completed_session.revision, "step": "profile", "action": "draft", "answers": {}}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_completed"
    assert body["current"]["state"] == "completed"
    assert body["current"]["revision"] == completed_session.revision


def test_a_user_only_ever_reaches_their_own_session(as_user, halfway_user, outsider):
    halfway_progress = _progress(as_user(halfway_user))
    response = _patch(as_user(outsider), {"revision": halfway_progress["revision"], "step": "tools", "action": "skip"})
    assert response.status_code == 409  # the outsider's own session has another revision
    outsider_session = OnboardingSession.objects.get(user=outsider)
    assert response.json()["current"]["session_id"] == str(outsider_session.pk) != halfway_progress["session_id"]
    assert OnboardingSession.objects.get(user=halfway_user).revision == halfway_progress["revision"]
    assert "user_id" not in json.dumps(halfway_progress)


def test_a_completed_user_reads_their_completed_progress(as_user, completed_session):
    body = _progress(as_user(completed_session.user))
    assert body["state"] == "completed"
    assert body["session_id"] == str(completed_session.pk)
    assert body["current_step"] is None and body["next_step"] is None
    assert body["completed_at"] is not None
    assert body["checksum"] == answers_checksum(completed_session.answers)
