"""The ``onboarding_user`` cookie: who is signed in, for the browser client's sender (a hint, never a credential)."""

import pytest

from onboarding.middleware import SIGNED_IN_COOKIE

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_signed_in_page_names_the_user_and_a_logout_deletes_it(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get("/o/", follow=True)
    assert client.cookies[SIGNED_IN_COOKIE].value == str(user.pk)
    assert not client.cookies[SIGNED_IN_COOKIE]["httponly"]  # the page's script reads it

    response = client.post("/accounts/logout/")
    assert response.cookies[SIGNED_IN_COOKIE].value == ""  # deleted
    assert response.cookies[SIGNED_IN_COOKIE]["max-age"] == 0


def test_an_anonymous_visitor_gets_no_cookie(client):
    response = client.get("/accounts/login/")
    assert SIGNED_IN_COOKIE not in response.cookies
