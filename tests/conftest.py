"""The usual actors: a new user, a half-way user, a completed user, staff and an outsider."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from onboarding import services
from onboarding.api.tokens import AccessToken

from .factories import OnboardingSessionFactory, StaffFactory, UserFactory, valid_answers

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttles count in the default (local memory) cache: every test starts from zero."""
    cache.clear()


@pytest.fixture
def as_user():
    """Return a factory of API clients that send a bearer token of the given user."""

    def _client(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return _client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash test passwords with MD5: PBKDF2's deliberate slowness costs ~0.2 s per user created."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def new_user(db):
    return UserFactory(username="newbie", email="newbie@example.org")


@pytest.fixture
def halfway_session(db):
    """A session with profile and work-profile done, at tools."""
    return OnboardingSessionFactory(user=UserFactory(username="halfway"), done_steps=("profile", "work-profile"))


@pytest.fixture
def halfway_user(halfway_session):
    return halfway_session.user


def complete_through_services(user, *, workspace_name="Analytical Engines", source="api"):
    """Walk a user through every step with the services and complete; return the session."""
    session = services.session_get_or_start(user=user, source=source)
    for step in ("profile", "work-profile", "tools", "invites", "preferences"):
        session = services.session_save_step(
            user=session.user, step=step, answers=valid_answers(step), revision=session.revision, source=source
        )
    session = services.session_save_step(
        user=session.user,
        step="workspace",
        revision=session.revision,
        source=source,
        answers=valid_answers("workspace", workspace_name=workspace_name),
    )
    return services.session_complete(user=session.user, revision=session.revision, source=source)


@pytest.fixture
def completed_session(db):
    return complete_through_services(UserFactory(username="done"))


@pytest.fixture
def completed_user(completed_session):
    return completed_session.user


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="staff")


@pytest.fixture
def staff(client, staff_user):
    """A Django test client logged in as staff (the admin and the staff API)."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def login(client):
    """Log ``user`` into the test client and return the client."""

    def _login(user) -> Client:
        client.force_login(user)
        return client

    return _login
