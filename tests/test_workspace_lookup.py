"""One workspace lookup (id or slug) behind the staff API's filter and the snapshot admin's filter."""

import pytest
from django.urls import reverse

from onboarding.models import Workspace
from onboarding.selectors import workspace_id_for

from .factories import AnswerSnapshotFactory

pytestmark = pytest.mark.django_db

API_URL = "/api/admin/onboarding/answers"


@pytest.fixture
def workspaces():
    """A workspace, one whose all-digit slug is the first one's id, and one with a digit slug that is no id."""
    engines = Workspace.objects.create(name="Engines", slug="engines")
    shadow = Workspace.objects.create(name="Shadow", slug=str(engines.pk))
    year = Workspace.objects.create(name="2026 cohort", slug=str(engines.pk + 100_000))
    return engines, shadow, year


def _api_ids(staff, value) -> set[str]:
    response = staff.get(API_URL, {"workspace": value})
    assert response.status_code == 200
    return {row["session_id"] for row in response.json()["results"]}


def _admin_ids(staff, value) -> set[str]:
    response = staff.get(reverse("admin:aggregation_answersnapshot_changelist"), {"workspace": value})
    assert response.status_code == 200
    return {str(snapshot.session_id) for snapshot in response.context["cl"].result_list}


def test_digits_name_an_id_first_then_a_slug(workspaces):
    engines, shadow, year = workspaces

    assert workspace_id_for(str(engines.pk)) == engines.pk  # also shadow's slug: the id wins
    assert workspace_id_for(year.slug) == year.pk  # no workspace has that id: the slug matches
    assert workspace_id_for("engines") == engines.pk
    assert workspace_id_for("987654321") is None and workspace_id_for("no-such-slug") is None


def test_the_staff_api_and_the_snapshot_admin_filter_alike(staff, workspaces):
    engines, shadow, year = workspaces
    in_engines = AnswerSnapshotFactory(workspace=engines)
    AnswerSnapshotFactory(workspace=shadow)
    in_year = AnswerSnapshotFactory(workspace=year)
    AnswerSnapshotFactory(workspace=None)

    expected = {
        str(engines.pk): {str(in_engines.session_id)},
        "engines": {str(in_engines.session_id)},
        year.slug: {str(in_year.session_id)},
        "987654321": set(),
        "no-such-slug": set(),
    }
    for value, session_ids in expected.items():
        assert _api_ids(staff, value) == session_ids, value
        assert _admin_ids(staff, value) == session_ids, value
