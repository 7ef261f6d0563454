"""Every admin changelist refuses NUL bytes and undecodable input in its filters and search with a 400,
and answers junk that decodes (a word where a number goes, a huge number) without a 500."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from .conftest import complete_through_services
from .factories import AnswerSnapshotFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

UNUSABLE = ["%00", "a%00b", "%FF", "%C3%28", "%ED%A0%80"]  # NUL, bytes that are not UTF-8, a lone surrogate
JUNK = ["not-a-number", "-1", "9" * 40, "2025-13-45", "%27%22%3C%3E", "%E2%80%AE", "x" * 2000]


def changelists():
    """Each registered model admin's changelist URL and its filter parameters (plus ``q`` when it searches)."""
    request = RequestFactory().get("/admin/")
    request.user = StaffFactory(is_superuser=True)
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        parameters = set()
        changelist = model_admin.get_changelist_instance(request)
        for spec in changelist.filter_specs:
            parameters.update(spec.expected_parameters())
        if model_admin.get_search_fields(request):
            parameters.add("q")
        yield url, sorted(parameters)


@pytest.fixture
def superuser_client(client):
    completed = complete_through_services(UserFactory(username="ada", email="ada@example.org"))
    AnswerSnapshotFactory(user=completed.user, session_id=completed.pk, completed_at=completed.completed_at)
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_every_changelist_filter_and_search_refuses_nul_and_undecodable_input(superuser_client):
    walked, refused = 0, []
    for url, parameters in changelists():
        for parameter in [*parameters, "o", "p"]:
            for value in UNUSABLE:
                response = superuser_client.get(f"{url}?{parameter}={value}")
                walked += 1
                if response.status_code != 400:
                    refused.append((url, parameter, value, response.status_code))

    assert walked > 100 and not refused, refused


def test_a_nul_in_a_parameter_name_is_refused_too(superuser_client):
    response = superuser_client.get("/admin/aggregation/answersnapshot/?work%00space=1")

    assert response.status_code == 400


def test_the_workspace_filter_with_a_nul_byte_is_a_400(superuser_client):
    assert superuser_client.get("/admin/aggregation/answersnapshot/?workspace=%00").status_code == 400


def test_every_changelist_answers_junk_that_decodes_without_a_500(superuser_client):
    server_errors = []
    for url, parameters in changelists():
        for parameter in parameters:
            for value in JUNK:
                status = superuser_client.get(f"{url}?{parameter}={value}").status_code
                if status >= 500:
                    server_errors.append((url, parameter, value, status))

    assert not server_errors, server_errors
