"""Schema-driven fuzzing of the progress API: no 5xx, and every response matches the OpenAPI schema.

schemathesis generates valid and invalid requests from the schema served at /api/schema/ and
sends them, as the signed-in half-way user, through the WSGI app; hypothesis is bounded and
derandomized so the run is stable and short.
"""

import json
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import DataGenerationMethod

from onboarding.api.tokens import AccessToken
from onboarding.models import OnboardingSession

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FUZZED_PATHS = (
    "/api/users/me/onboarding-progress",
    "/api/onboarding/complete",
    "/api/onboarding/manifest",
    "/api/auth/token",
    "/api/auth/token/refresh",
)
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
EXAMPLES_PER_OPERATION = 40
# Random text is almost never a step or the current revision: steer half of the bodies to real
# steps (in every case style) and the live revision, so the run reaches the services' rules too.
STEP_NAMES = (
    None,
    "profile",
    "work-profile",
    "workProfile",
    "work_profile",
    "tools",
    "invites",
    "preferences",
    "workspace",
    "Tools",
)


def _steer(case, *, step, revision) -> None:
    if not isinstance(case.body, dict) or case.method not in ("PATCH", "POST"):
        return
    if step is not None and case.method == "PATCH":
        case.body["step"] = step
    if revision is not None:
        case.body["revision"] = revision


def _answered_by_the_services(response) -> bool:
    """A write the services took (200) or refused by a step's rule (400 naming a step)."""
    if response.status_code == 200:
        return True
    body = json.loads(response.data) if response.headers.get("Content-Type", "").startswith("application/json") else {}
    return response.status_code == 400 and any(issue.get("step") for issue in body.get("issues") or [])


@pytest.fixture
def served_schema(db):
    """The OpenAPI schema as served, cut down to this API's own operations."""
    raw = APIClient().get("/api/schema/", {"format": "json"}).json()
    raw["paths"] = {path: item for path, item in raw["paths"].items() if path in FUZZED_PATHS}
    return raw


@pytest.fixture
def wsgi_app_in_test_transaction(served_schema):
    """The WSGI app, without closing the test's connection at request start/end (as Django's test client).

    Django's test client reconnects these receivers after each of its requests: use it before, not during.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzzable(settings):
    settings.API_WRITE_THROTTLE_RATE = None  # exercise the endpoints, not the throttle
    settings.API_TOKEN_THROTTLE_RATE = None


def test_the_api_never_fails_and_always_answers_as_its_schema_says(
    halfway_user,
    served_schema,
    wsgi_app_in_test_transaction,
    fuzzable,
):
    schema = schemathesis.from_dict(
        served_schema,
        app=wsgi_app_in_test_transaction,
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )
    auth = {"Authorization": f"Bearer {AccessToken.for_user(halfway_user)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    seen = Counter()

    for operation in operations:

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), step=st.sampled_from(STEP_NAMES), fresh=st.booleans())
        def check(case, step, fresh):
            live = OnboardingSession.objects.get(user=halfway_user)
            _steer(case, step=step, revision=live.revision if fresh else None)
            response = case.call_wsgi(headers=auth)
            seen[(case.method, case.path, response.status_code)] += 1
            if case.method == "PATCH" and _answered_by_the_services(response):
                seen["PATCH answered by the services"] += 1
            case.validate_response(response, checks=CHECKS)

        check()

    keys = [key for key in seen if isinstance(key, tuple)]
    statuses = {(method, path): {code for (m, p, code) in keys if (m, p) == (method, path)} for method, path, _ in keys}
    # The run reached past input validation into the services (which of their answers depends on
    # the order hypothesis happens to generate: a save, or a step rule), not just the 400s.
    assert {400, 409} <= statuses[("PATCH", "/api/users/me/onboarding-progress")], dict(seen)
    assert seen["PATCH answered by the services"], dict(seen)
    assert {400, 409} <= statuses[("POST", "/api/onboarding/complete")], seen
    assert 200 in statuses[("GET", "/api/users/me/onboarding-progress")]
