"""The whole browser-less flow, also run on the SQLite default by ``make test-smoke``."""

import pytest
from waffle.models import Flag

from aggregation.snapshots.backfill import answers_backfill
from onboarding.manifest import AI_QUESTION_FLAG
from onboarding.models import OnboardingSession

from .factories import UserFactory, valid_answers
from .wizard_client import submit_step

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_signup_to_dashboard_through_every_step(client):
    signup = client.post(
        "/accounts/signup/",
        {
            "username": "smoke",
            "email": "smoke@example.org",
            "password1": "a-long-passphrase-42",
            "password2": "a-long-passphrase-42",
        },
    )
    assert signup["Location"] == "/o/"
    assert client.get("/o/")["Location"] == "/o/profile/"

    steps = [
        ("profile", valid_answers("profile"), "continue", "/o/work-profile/"),
        ("work-profile", valid_answers("work-profile"), "continue", "/o/tools/"),
        ("tools", {}, "skip", "/o/invites/"),
        ("invites", valid_answers("invites"), "continue", "/o/preferences/"),
        ("preferences", valid_answers("preferences"), "continue", "/o/workspace/"),
        ("workspace", valid_answers("workspace", workspace_name="Smoke Signals"), "continue", "/dashboard/"),
    ]
    for step, answers, action, next_url in steps:
        response = submit_step(client, step, answers, action=action)
        assert response.status_code == 302, (step, response.content.decode()[:2000])
        assert response["Location"] == next_url, step

    dashboard = client.get("/dashboard/")
    assert dashboard.status_code == 200
    assert "Smoke Signals" in dashboard.content.decode()
    assert client.get("/o/profile/")["Location"] == "/dashboard/"
    session = OnboardingSession.objects.get(user__username="smoke")
    assert session.state == "completed"
    assert session.skipped_steps == ["tools"]


def test_an_spa_completes_onboarding_through_the_api(new_user, as_user):
    api = as_user(new_user)
    revision = api.get("/api/users/me/onboarding-progress").json()["revision"]
    for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
        answers = valid_answers(step, workspace_name="Smoke API") if step == "workspace" else valid_answers(step)
        response = api.patch(
            "/api/users/me/onboarding-progress", {"step": step, "answers": answers, "revision": revision}, format="json"
        )
        assert response.status_code == 200, (step, response.json())
        revision = response.json()["revision"]

    completed = api.post("/api/onboarding/complete", {"revision": revision}, format="json")

    assert completed.status_code == 200, completed.json()
    assert completed.json()["state"] == "completed"
    assert OnboardingSession.objects.get(user=new_user).state == "completed"


def test_an_experiment_runs_from_the_flag_to_the_staff_readout(as_user, staff_user):
    """Also on SQLite: the arms are found without PostgreSQL's containment operator there."""
    for username, on in (("with_ai", True), ("without_ai", False)):
        flag, _ = Flag.objects.update_or_create(name=AI_QUESTION_FLAG, defaults={"everyone": on})
        flag.flush()
        api = as_user(UserFactory(username=username))
        assert api.get("/api/onboarding/manifest").json()["flags"] == {AI_QUESTION_FLAG: on}
        revision = api.get("/api/users/me/onboarding-progress").json()["revision"]
        for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
            answers = (
                valid_answers(step, workspace_name=f"Space {username}") if step == "workspace" else valid_answers(step)
            )
            if step == "work-profile" and on:
                answers["aiUsage"] = "exploring"
            response = api.patch(
                "/api/users/me/onboarding-progress",
                {"step": step, "answers": answers, "revision": revision},
                format="json",
            )
            assert response.status_code == 200, (step, response.json())
            revision = response.json()["revision"]
        assert api.post("/api/onboarding/complete", {"revision": revision}, format="json").status_code == 200
    answers_backfill()  # the snapshots, whether or not a worker ingested the completions already

    staff = as_user(staff_user)
    funnel = staff.get("/api/admin/onboarding/funnel", {"flag": AI_QUESTION_FLAG}).json()
    assert [(arm["arm"], arm["sessions"], arm["completed"]) for arm in funnel["arms"]] == [("on", 1, 1), ("off", 1, 1)]
    totals = staff.get(
        "/api/admin/onboarding/totals", {"flag": AI_QUESTION_FLAG, "arm": "on", "question": "ai_usage"}
    ).json()["results"]
    assert totals == [{"step": "work-profile", "question": "ai_usage", "answer": "exploring", "count": 1}]
