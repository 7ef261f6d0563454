"""Sign-up, log-in, log-out, the dashboard and the site root."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model

from onboarding.models import OnboardingEvent, OnboardingSession

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "username": "grace",
    "email": "grace@example.org",
    "password1": "a-long-passphrase-42",
    "password2": "a-long-passphrase-42",
}


def test_signup_creates_the_user_logs_in_and_starts_onboarding(client):
    response = client.post("/accounts/signup/", SIGNUP)

    assert response.status_code == 302
    assert response["Location"] == "/o/"
    user = get_user_model().objects.get(username="grace")
    assert user.email == "grace@example.org"
    assert user.check_password("a-long-passphrase-42")
    assert int(client.session[SESSION_KEY]) == user.pk
    session = OnboardingSession.objects.get(user=user)
    assert session.state == "in_progress"
    assert OnboardingEvent.objects.filter(session=session, name="started", source="wizard").count() == 1
    assert client.get("/o/")["Location"] == "/o/profile/"


def test_the_signup_page_labels_every_field(client):
    html = client.get("/accounts/signup/").content.decode()

    for field_id, label in (
        ("id_username", "Username"),
        ("id_email", "Email"),
        ("id_password1", "Password"),
        ("id_password2", "Password confirmation"),
    ):
        assert f'for="{field_id}"' in html and f">{label}</label>" in html


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"password2": "something-else-42"}, "password2"),
        ({"email": "not-an-address"}, "email"),
        ({"username": ""}, "username"),
        ({"password1": "123", "password2": "123"}, "password2"),
    ],
)
def test_bad_signup_input_shows_errors_and_creates_nothing(client, changes, field):
    response = client.post("/accounts/signup/", {**SIGNUP, **changes})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert f'id="id_{field}_error"' in html
    assert not get_user_model().objects.filter(username=SIGNUP["username"]).exists()
    assert SESSION_KEY not in client.session


def test_a_taken_username_or_email_is_refused(client, new_user):
    by_name = client.post("/accounts/signup/", {**SIGNUP, "username": new_user.username})
    by_email = client.post("/accounts/signup/", {**SIGNUP, "email": new_user.email.upper()})

    assert by_name.status_code == by_email.status_code == 200
    assert 'id="id_username_error"' in by_name.content.decode()
    assert 'id="id_email_error"' in by_email.content.decode()
    assert get_user_model().objects.count() == 1


def test_user_text_in_signup_errors_is_escaped(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "email": "<script>alert(1)</script>"})

    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_login_sends_the_user_to_onboarding(client, halfway_user):
    response = client.post("/accounts/login/", {"username": halfway_user.username, "password": PASSWORD})

    assert response["Location"] == "/o/"
    assert client.get("/o/")["Location"] == "/o/tools/"


def test_a_wrong_password_shows_an_error(client, halfway_user):
    response = client.post("/accounts/login/", {"username": halfway_user.username, "password": "nope"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_logout_is_post_only(client, halfway_user):
    client.force_login(halfway_user)

    refused = client.get("/accounts/logout/")
    still_in = SESSION_KEY in client.session
    done = client.post("/accounts/logout/")

    assert refused.status_code == 405
    assert still_in
    assert done["Location"] == "/accounts/login/"
    assert SESSION_KEY not in client.session


def test_the_dashboard_shows_the_workspace_name(client, completed_user):
    client.force_login(completed_user)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert '<strong class="workspace-name">Analytical Engines</strong>' in response.content.decode()


def test_the_dashboard_requires_login(client):
    response = client.get("/dashboard/")

    assert response["Location"] == "/accounts/login/?next=/dashboard/"


def test_the_root_sends_visitors_to_log_in_and_completed_users_to_the_dashboard(client, completed_user):
    anonymous = client.get("/")
    client.force_login(completed_user)
    signed_in = client.get("/")

    assert anonymous["Location"] == "/accounts/login/"
    assert signed_in["Location"] == "/dashboard/"
