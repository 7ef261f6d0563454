"""The onboarding guard: unfinished users are kept on their first outstanding step."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory

from onboarding.middleware import OnboardingGuardMiddleware

from .factories import OnboardingSessionFactory

pytestmark = pytest.mark.django_db


def _not_sent_to_the_wizard(response) -> bool:
    return not response.get("Location", "").startswith("/o/")


@pytest.mark.parametrize(
    ("actor", "path", "location"),
    [
        ("halfway_user", "/dashboard/", "/o/tools/"),  # any page: to the first outstanding step
        ("halfway_user", "/o/", "/o/tools/"),  # the wizard's start: the same
        ("halfway_user", "/o/workspace/", "/o/tools/"),  # a later step than allowed: back to it
        ("new_user", "/dashboard/", "/o/"),  # no session yet: to the start of onboarding
    ],
    ids=["from-a-page", "from-the-start", "from-a-later-step", "without-a-session"],
)
def test_an_unfinished_user_is_redirected_to_where_onboarding_goes_on(client, request, actor, path, location):
    client.force_login(request.getfixturevalue(actor))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == location


def test_an_unfinished_user_is_sent_from_the_home_page_to_the_first_outstanding_step(client, halfway_user):
    client.force_login(halfway_user)

    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0] == "/o/tools/"


def test_an_earlier_step_stays_open_for_review(client, halfway_user):
    client.force_login(halfway_user)

    response = client.get("/o/profile/")

    assert response.status_code == 200


def test_a_completed_user_is_sent_from_the_wizard_to_the_dashboard(client, completed_user):
    client.force_login(completed_user)

    for path in ("/o/", "/o/profile/", "/o/workspace/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/dashboard/", path


def test_a_completed_user_reaches_the_dashboard(client, completed_user):
    client.force_login(completed_user)

    response = client.get("/dashboard/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/users/me/onboarding-progress",
        "/api/onboarding/manifest",
        "/admin/",
        "/static/onboarding/site.css",
        "/accounts/login/",
        "/accounts/logout/",
    ],
)
def test_the_api_admin_static_files_and_auth_pages_are_not_guarded(client, halfway_user, path):
    client.force_login(halfway_user)

    response = client.get(path)

    assert _not_sent_to_the_wizard(response), (path, response.status_code, response.get("Location"))


def test_the_login_page_still_renders_for_an_unfinished_user(client, halfway_user):
    client.force_login(halfway_user)

    response = client.get("/accounts/login/")

    assert response.status_code == 200


def test_logging_out_is_not_guarded(client, halfway_user):
    client.force_login(halfway_user)

    response = client.post("/accounts/logout/")

    assert response["Location"] == "/accounts/login/"


@pytest.mark.parametrize("path", ["/dashboard/", "/o/profile/", "/"])
def test_anonymous_visitors_are_not_redirected_by_the_guard(client, path):
    response = client.get(path)

    assert _not_sent_to_the_wizard(response)
    assert response["Location"].startswith("/accounts/login/")


def test_the_guard_costs_one_query(django_assert_num_queries, halfway_user):
    request = RequestFactory().get("/dashboard/")
    request.user = halfway_user
    guard = OnboardingGuardMiddleware(lambda request: HttpResponse("ok"))

    with django_assert_num_queries(1):
        response = guard(request)

    assert response["Location"] == "/o/tools/"


def test_the_guard_asks_nothing_of_the_database_for_exempt_paths_or_anonymous_users(
    django_assert_num_queries, halfway_user
):
    guard = OnboardingGuardMiddleware(lambda request: HttpResponse("ok"))
    api_request = RequestFactory().get("/api/users/me/onboarding-progress")
    api_request.user = halfway_user
    anonymous_request = RequestFactory().get("/dashboard/")
    anonymous_request.user = AnonymousUser()

    with django_assert_num_queries(0):
        assert guard(api_request).status_code == 200
        assert guard(anonymous_request).status_code == 200


def test_a_user_whose_steps_are_all_marked_is_sent_to_finish(client):
    user = OnboardingSessionFactory(
        done_steps=("profile", "work-profile", "tools", "invites", "preferences", "workspace")
    ).user
    client.force_login(user)

    response = client.get("/dashboard/")

    assert response["Location"] == "/o/workspace/"
