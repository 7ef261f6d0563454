"""The admin lists of big tables: no full COUNT(*), no SELECT DISTINCT, drill-downs and searches on indexes."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aggregation.models import AnswerSnapshot
from onboarding.admin_changelists import EstimatedCountPaginator, planner_row_estimate
from onboarding.models import OnboardingEvent, OnboardingSession, OutboxMessage

from .conftest import complete_through_services
from .factories import AnswerSnapshotFactory, UserFactory
from .funnel_support import event_at, session_at

pytestmark = pytest.mark.django_db

SESSIONS = "admin:onboarding_onboardingsession_changelist"
EVENTS = "admin:onboarding_onboardingevent_changelist"
OUTBOX = "admin:onboarding_outboxmessage_changelist"
SNAPSHOTS = "admin:aggregation_answersnapshot_changelist"


@pytest.fixture
def rows(db):
    """A completed walk-through (sessions, events, outbox, snapshot) and sessions in February and May."""
    completed = complete_through_services(UserFactory(username="ada", email="ada@example.org"))
    AnswerSnapshotFactory(user=completed.user, session_id=completed.pk, completed_at=completed.completed_at)
    for month in (2, 5):
        session = session_at(datetime(2025, month, 10, 12, tzinfo=UTC), done=("profile",))
        event_at(session, "save_retried", "profile", datetime(2025, month, 10, 12, 5, tzinfo=UTC), source="browser")
    return completed


CASES = [
    (SESSIONS, {}),
    (SESSIONS, {"state__exact": "completed"}),
    (SESSIONS, {"current_step__exact": "work-profile"}),
    (SESSIONS, {"version__exact": "1"}),
    (SESSIONS, {"started_at__year": "2025"}),
    (SESSIONS, {"started_at__year": "2025", "started_at__month": "2"}),
    (SESSIONS, {"q": "ad"}),
    (EVENTS, {}),
    (EVENTS, {"name__exact": "validation_failed"}),
    (EVENTS, {"source__exact": "browser"}),
    (EVENTS, {"step": "tools"}),
    (EVENTS, {"created_at__year": "2025"}),
    (EVENTS, {"q": "ada@example.org"}),
    (OUTBOX, {}),
    (OUTBOX, {"state__exact": "pending"}),
    (OUTBOX, {"topic__exact": "onboarding.session_completed"}),
    (SNAPSHOTS, {}),
    (SNAPSHOTS, {"role": "design"}),
    (SNAPSHOTS, {"q": "ada"}),
]


@pytest.mark.parametrize("url_name, query", CASES)
def test_a_big_list_counts_at_most_a_bounded_number_of_rows_and_lists_no_distinct_values(staff, rows, url_name, query):
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(reverse(url_name), query)
    assert response.status_code == 200
    sql = [q["sql"].upper() for q in queries.captured_queries]
    assert not [s for s in sql if "DISTINCT" in s]
    assert all("LIMIT" in s for s in sql if "COUNT(" in s), [s for s in sql if "COUNT(" in s]


def test_a_list_beyond_the_exact_limit_shows_the_planners_estimate(staff, rows, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 3)
    response = staff.get(reverse(EVENTS))
    queryset = OnboardingEvent.objects.all()
    if connection.vendor == "postgresql":
        assert response.context["cl"].result_count == max(planner_row_estimate(queryset), 4)
    else:  # no planner to ask: an exact count
        assert response.context["cl"].result_count == queryset.count()


def test_a_list_within_the_exact_limit_counts_exactly(staff, rows):
    response = staff.get(reverse(SESSIONS), {"state__exact": "in_progress"})
    assert response.context["cl"].result_count == OnboardingSession.objects.filter(state="in_progress").count() == 2


def test_the_date_drill_down_lists_the_months_between_the_first_and_last_row(staff, rows):
    response = staff.get(reverse(SESSIONS), {"started_at__year": "2025"})
    html = response.content.decode()
    assert [m for m in ("February 2025", "March 2025", "April 2025", "May 2025") if m in html] == [
        "February 2025",
        "March 2025",
        "April 2025",
        "May 2025",
    ]  # April has no rows: listed anyway
    assert "January 2025" not in html and "June 2025" not in html
    assert response.context["cl"].result_count == 2


def test_the_date_drill_down_lists_the_days_of_a_month(staff, rows):
    html = staff.get(reverse(SESSIONS), {"started_at__year": "2025", "started_at__month": "2"}).content.decode()
    assert "started_at__day=10" in html and "started_at__day=11" not in html


def test_the_fixed_filters_offer_the_manifests_steps_and_the_browsers_event_names(staff, rows):
    html = staff.get(reverse(EVENTS)).content.decode()
    positions = [html.index(f"?step={key}") for key in ("profile", "work-profile", "tools", "invites")]
    assert positions == sorted(positions)
    assert all(
        f"?name__exact={name}" in html for name in ("save_retried", "save_queued", "save_replayed", "conflict_shown")
    )
    assert "?source__exact=browser" in html
    retried = staff.get(reverse(EVENTS), {"name__exact": "save_retried"}).context["cl"]
    assert retried.result_count == 2


def test_a_filter_value_that_is_not_a_choice_matches_nothing(staff, rows):
    for query in ({"current_step__exact": "nowhere"}, {"version__exact": "x"}):
        response = staff.get(reverse(SESSIONS), query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("url_name", [SESSIONS, EVENTS, OUTBOX, SNAPSHOTS])
def test_every_big_list_finds_rows_by_session_id_email_and_username_prefix(staff, rows, url_name):
    for term in (str(rows.pk), "ADA@Example.org", "ad"):
        found = staff.get(reverse(url_name), {"q": term}).context["cl"].result_list
        assert found and all(_session_id(row) == rows.pk for row in found), (url_name, term)
    assert staff.get(reverse(url_name), {"q": str(uuid.uuid4())}).context["cl"].result_count == 0


def _session_id(row):
    if isinstance(row, OnboardingSession):
        return row.pk
    if isinstance(row, (OnboardingEvent, OutboxMessage, AnswerSnapshot)):
        return row.session_id
    raise AssertionError(type(row))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the index is PostgreSQL's")
def test_the_email_search_uses_an_index(rows):
    from django.contrib.auth import get_user_model

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    plan = get_user_model().objects.filter(email__iexact="ada@example.org").explain()
    assert "onb_user_email_upper" in plan
