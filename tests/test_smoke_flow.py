"""The whole browser-less flow, also run on the SQLite default by ``make test-smoke``."""
import pytest

from onboarding.models import OnboardingSession

from .factories import valid_answers
from .wizard_client import submit_step

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_signup_to_dashboard_through_every_step(client):
    signup = client.post("/accounts/signup/", {
        "username": "smoke", "email": "smoke@example.org",
        "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
    })
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
        response = api.patch("/api/users/me/onboarding-progress",
                             {"step": step, "answers": answers, "revision": revision}, format="json")
        assert response.status_code == 200, (step, response.json())
        revision = response.json()["revision"]

    completed = api.post("/api/onboarding/complete", {"revision": revision}, format="json")

    assert completed.status_code == 200, completed.json()
    assert completed.json()["state"] == "completed"
    assert OnboardingSession.objects.get(user=new_user).state == "completed"
