"""A step submitted without JavaScript after the login lapsed: kept for its owner, saved once they log in."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from onboarding import services
from onboarding.models import OnboardingEvent, OnboardingSession
from onboarding.wizard.pending import PENDING_KEY

from .conftest import PASSWORD
from .factories import UserFactory, valid_answers
from .wizard_client import revision_on, step_form_data

pytestmark = pytest.mark.django_db

KEPT = "We kept your answers: log in again as the same user and they will be saved."
SAVED = "The answers you submitted before logging in have been saved."
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_OWNER = re.compile(r'name="owner" value="([^"]*)"')


def _browser() -> Client:
    return Client(enforce_csrf_checks=True)


def _log_in(client: Client, user, *, next_url: str = "") -> object:
    page = client.get("/accounts/login/")
    data = {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": _CSRF.search(page.text).group(1)}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def _open_profile(client: Client, user) -> dict:
    """Log in, open the first step and return the form's hidden fields as the page rendered them."""
    assert _log_in(client, user).status_code == 302
    page = client.get("/o/profile/")
    return {"revision": revision_on(page), "csrf": _CSRF.search(page.text).group(1), "owner": _OWNER.search(page.text)}


def _submit(client: Client, form: dict, answers: dict) -> object:
    data = step_form_data("profile", answers, revision=form["revision"])
    data.update(csrfmiddlewaretoken=form["csrf"], owner=form["owner"].group(1))
    return client.post("/o/profile/", data)


def _login_lapsed():
    return time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE + 60), tick=False)


@pytest.fixture
def ada(db):
    user = UserFactory(username="ada")
    services.session_get_or_start(user=user, source="wizard")
    return user


def test_a_submit_after_the_login_expired_sends_to_the_login_page_saying_the_answers_are_kept(ada):
    client = _browser()
    form = _open_profile(client, ada)

    with _login_lapsed():
        response = _submit(client, form, valid_answers("profile"))
        login_page = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/o/profile/"
    assert KEPT in login_page.text
    assert OnboardingSession.objects.get(user=ada).answers == {}


def test_the_same_user_logging_in_again_gets_the_kept_step_saved(ada):
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        _submit(client, form, valid_answers("profile", full_name="Ada King"))
        _log_in(client, ada, next_url="/o/profile/")

        response = client.get("/o/profile/")
        next_page = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/o/work-profile/"
    session = OnboardingSession.objects.get(user=ada)
    assert session.answers["profile"]["full_name"] == "Ada King"
    assert session.completed_steps == ["profile"]
    assert SAVED in next_page.text


def test_the_kept_step_is_applied_exactly_once(ada):
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        _submit(client, form, valid_answers("profile"))
        _log_in(client, ada)
        client.get(client.get("/o/profile/")["Location"])  # saved, and the message shown

        again = client.get("/o/profile/")

    assert again.status_code == 200
    assert SAVED not in again.text
    session = OnboardingSession.objects.get(user=ada)
    assert OnboardingEvent.objects.filter(session=session, name="step_saved").count() == 1
    assert PENDING_KEY not in client.session


def test_a_logout_in_another_tab_keeps_the_submit_for_the_same_user(ada):
    client = _browser()
    form = _open_profile(client, ada)
    client.post("/accounts/logout/", {"csrfmiddlewaretoken": form["csrf"]})

    kept = _submit(client, form, valid_answers("profile"))
    _log_in(client, ada)
    client.get("/o/")

    assert kept["Location"] == "/accounts/login/?next=/o/profile/"
    assert OnboardingSession.objects.get(user=ada).completed_steps == ["profile"]


def test_another_user_logging_in_on_the_same_browser_gets_nothing_applied(ada):
    grace = UserFactory(username="grace")
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        _submit(client, form, valid_answers("profile", full_name="Ada King"))
        _log_in(client, grace, next_url="/o/profile/")

        page = client.get("/o/profile/")

    assert page.status_code == 200
    assert "Ada King" not in page.text
    assert SAVED not in page.text
    assert PENDING_KEY not in client.session
    assert OnboardingSession.objects.get(user=grace).answers == {}
    assert OnboardingSession.objects.get(user=ada).answers == {}


def test_the_kept_submit_is_deleted_when_another_user_logs_in(ada):
    grace = UserFactory(username="grace")
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        _submit(client, form, valid_answers("profile"))

        _log_in(client, grace, next_url="/dashboard/")

    assert PENDING_KEY not in client.session


def test_a_kept_step_whose_revision_went_stale_shows_the_conflict_page(ada):
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        _submit(client, form, valid_answers("profile", full_name="Ada King"))
        services.session_save_step(
            user=ada, step="profile", answers=valid_answers("profile"), revision=form["revision"], source="api"
        )
        _log_in(client, ada)

        response = client.get("/o/profile/")

    assert response.status_code == 409
    assert "Your onboarding was changed somewhere else" in response.text
    assert 'value="Ada King"' in response.text
    assert OnboardingSession.objects.get(user=ada).answers["profile"]["full_name"] == "Ada Lovelace"


def test_a_signed_out_submit_without_a_csrf_token_is_refused_and_nothing_is_kept(ada):
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        data = step_form_data("profile", valid_answers("profile"), revision=form["revision"])
        data["owner"] = form["owner"].group(1)

        response = client.post("/o/profile/", data)

    assert response.status_code == 403
    assert PENDING_KEY not in client.session


def test_a_signed_out_submit_with_a_forged_owner_is_not_kept(ada):
    client = _browser()
    form = _open_profile(client, ada)
    with _login_lapsed():
        data = step_form_data("profile", valid_answers("profile"), revision=form["revision"])
        data.update(csrfmiddlewaretoken=form["csrf"], owner=f"{ada.pk}:forged")

        response = client.post("/o/profile/", data)
        login_page = client.get(response["Location"])

    assert "You were signed out, so this page could not be saved." in login_page.text
    assert PENDING_KEY not in client.session


def test_a_page_rendered_for_another_account_saves_nothing_for_the_signed_in_user(ada):
    grace = UserFactory(username="grace")
    client = _browser()
    form = _open_profile(client, ada)
    client.post("/accounts/logout/", {"csrfmiddlewaretoken": form["csrf"]})
    _log_in(client, grace)
    grace_page = client.get("/o/profile/")
    form.update(revision=revision_on(grace_page), csrf=_CSRF.search(grace_page.text).group(1))

    response = _submit(client, form, valid_answers("profile"))

    assert response.status_code == 302
    assert OnboardingSession.objects.get(user=grace).answers == {}
