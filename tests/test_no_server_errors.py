"""Crafted input that used to reach a 500, and the same class of bug wherever it could recur:
dates that overflow, JSON values of the wrong type, signed tokens with malformed claims.
"""

import base64
import json

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding.api.tokens import AccessToken, RefreshToken

from .factories import AnswerSnapshotFactory, UserFactory

pytestmark = pytest.mark.django_db

ANSWERS_URL = "/api/admin/onboarding/answers"
PROGRESS_URL = "/api/users/me/onboarding-progress"
REFRESH_URL = "/api/auth/token/refresh"


@pytest.fixture
def staff(login, staff_user):
    return login(staff_user)


def crafted_cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


# --- the staff cursor --------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        (["2026-01-01T00:00:00+00:00"], "7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11", 0),
        ("2026-01-01T00:00:00+00:00", {"hex": "7d3c7c04"}, 0),
        ("2026-01-01T00:00:00+00:00", ["7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11"], 0),
        ("2026-01-01T00:00:00+00:00", "7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11", [0]),
        ("2026-01-01T00:00:00+00:00", "7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11", {"reverse": 1}),
        ({"at": 1}, 7, None),
        ("9999-12-31T23:59:59-23:59", "7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11", 0),  # beyond year 9999 in UTC
        ("0001-01-01T00:00:00+23:59", "7d3c7c04-3e3c-4f7e-9d5b-2f1c8a6f0e11", 1),  # before year 1 in UTC
    ],
)
def test_a_crafted_cursor_is_a_400_naming_the_cursor(staff, parts):
    AnswerSnapshotFactory()
    response = staff.get(ANSWERS_URL, {"cursor": crafted_cursor(*parts)})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor" and response.json()["param"] == "cursor"


@pytest.mark.parametrize("param", ["completed_after", "completed_before"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "99999-01-01"])
def test_an_out_of_range_date_filter_is_a_400(staff, param, value):
    response = staff.get(ANSWERS_URL, {param: value})
    assert response.status_code == 400 and response.json()["param"] == param


@pytest.mark.parametrize("param", ["started_after", "started_before"])
def test_an_out_of_range_funnel_window_is_a_400(staff, param):
    response = staff.get("/api/admin/onboarding/funnel", {param: "9999-12-31T23:59:59-05:00"})
    assert response.status_code == 400 and response.json()["param"] == param


def test_an_unknown_huge_user_id_is_a_404(staff):
    assert staff.get(f"{ANSWERS_URL}/{10**30}").status_code == 404


# --- the Django admin --------------------------------------------------------------------


def test_the_funnel_page_takes_the_last_representable_day(staff):
    response = staff.get("/admin/onboarding/funnel/", {"started_before": "9999-12-31"})
    assert response.status_code == 200


def test_the_funnel_page_takes_the_first_representable_day(staff):
    response = staff.get("/admin/onboarding/funnel/", {"started_after": "0001-01-01", "started_before": "0001-01-01"})
    assert response.status_code == 200


def test_the_sessions_admin_with_an_impossible_year_is_not_a_500(staff):
    response = staff.get(reverse("admin:onboarding_onboardingsession_changelist"), {"completed_at__year": "99999"})
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert "e=1" in response["Location"]  # Django's "invalid lookup" redirect


def date_fields_of_registered_models():
    for model, _model_admin in admin.site._registry.items():
        for field in model._meta.get_fields():
            if getattr(field, "get_internal_type", lambda: "")() in ("DateTimeField", "DateField"):
                yield model, field.name


@pytest.mark.parametrize(
    "lookup, value",
    [
        ("year", "99999"),
        ("year", "0"),
        ("year", "-5"),
        ("month", "13"),
        ("day", "40"),
        ("gte", "99999-01-01"),
        ("lt", "not-a-date"),
        ("date", "9999-13-01"),
        ("iso_year", "10000"),
        ("week", "99"),
    ],
)
def test_no_admin_changelist_turns_a_date_lookup_into_a_500(staff, lookup, value):
    failures = []
    for model, field in date_fields_of_registered_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = staff.get(url, {f"{field}__{lookup}": value})
        if response.status_code not in (200, 302):
            failures.append((model._meta.label, field, response.status_code))
    assert failures == []


def test_a_date_hierarchy_drill_down_past_the_calendar_is_not_a_500(staff):
    url = reverse("admin:onboarding_onboardingsession_changelist")
    for params in (
        {"updated_at__year": "99999"},
        {"updated_at__year": "9999", "updated_at__month": "12", "updated_at__day": "31"},
        {"updated_at__year": "2026", "updated_at__month": "14"},
    ):
        assert staff.get(url, params).status_code in (200, 302), params


# --- tokens ------------------------------------------------------------------------------


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_refresh_token_of_a_deleted_user_is_a_401():
    user = UserFactory()
    refresh = str(RefreshToken.for_user(user))
    user.delete()

    response = APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] in ("no_active_account", "token_not_valid")


@pytest.mark.parametrize(
    "user_id", ["abc", "1.5", "", " 1", "1e3", [1], {"id": 1}, 1.0, True, None, -1, 2**70, "9" * 40]
)
def test_a_signed_access_token_whose_user_id_is_not_an_integer_is_a_401(user_id):
    UserFactory()
    token = AccessToken()
    token["user_id"] = user_id

    read = bearer(token).get(PROGRESS_URL)
    write = bearer(token).patch(PROGRESS_URL, {"revision": "x", "step": "profile", "answers": {}}, format="json")

    assert read.status_code == 401 and read.json()["code"] == "token_not_valid"
    assert write.status_code == 401 and write.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("user_id", ["abc", [1], {"id": 1}, 1.5])
def test_a_signed_refresh_token_whose_user_id_is_not_an_integer_is_a_401(user_id):
    token = RefreshToken()
    token["user_id"] = user_id

    response = APIClient().post(REFRESH_URL, {"refresh": str(token)}, format="json")

    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize(
    "claim, value",
    [
        ("exp", 10**20),
        ("exp", -(10**20)),
        ("iat", 10**20),
        ("jti", ["a"]),
        ("jti", {"a": 1}),
        ("jti", 5),
        ("token_type", ["access"]),
    ],
)
def test_a_signed_token_with_an_impossible_claim_is_a_401(claim, value):
    user = UserFactory()
    access = AccessToken.for_user(user)
    access[claim] = value
    refresh = RefreshToken.for_user(user)
    refresh[claim] = value

    read = bearer(access).get(PROGRESS_URL)
    renewed = APIClient().post(REFRESH_URL, {"refresh": str(refresh)}, format="json")

    assert read.status_code == 401, read.content
    assert renewed.status_code == 401, renewed.content


# --- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["export_onboarding_answers", "backfill_onboarding_answers"])
@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_since_beyond_the_calendar_is_a_command_error(command, since, tmp_path):
    extra = ["--output", str(tmp_path)] if command == "export_onboarding_answers" else []
    with pytest.raises(CommandError, match="--since"):
        call_command(command, "--since", since, *extra)


def test_an_until_beyond_the_calendar_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="--until"):
        call_command("export_onboarding_answers", "--until", "9999-12-31T23:59:59-05:00", "--output", str(tmp_path))
