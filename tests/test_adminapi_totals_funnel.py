"""GET /api/admin/onboarding/totals and /funnel, and the funnel selector behind the admin page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adminapi.selectors import onboarding_funnel
from aggregation.funnel import BUCKET_ERROR, funnel_fold
from aggregation.models import AnswerGroupTotal
from onboarding.models import OnboardingEvent, OnboardingSession

from .conftest import complete_through_services
from .factories import CompletedSessionFactory, OnboardingSessionFactory, UserFactory

pytestmark = pytest.mark.django_db

TOTALS = "/api/admin/onboarding/totals"
FUNNEL = "/api/admin/onboarding/funnel"


@pytest.fixture
def totals(db):
    rows = [
        ("profile", "role", "engineering", 7),
        ("profile", "role", "design", 3),
        ("work-profile", "team_size", "2-10", 4),
        ("work-profile", "functions", "data", 2),
        ("preferences", "product_updates", "true", 5),
    ]
    AnswerGroupTotal.objects.bulk_create(AnswerGroupTotal(step=s, question=q, answer=a, count=c) for s, q, a, c in rows)


def test_it_lists_all_totals_in_manifest_order_most_frequent_first(staff, totals):
    response = staff.get(TOTALS)
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0] == {"step": "profile", "question": "role", "answer": "engineering", "count": 7}
    assert [(r["step"], r["question"], r["answer"]) for r in results] == [
        ("profile", "role", "engineering"),
        ("profile", "role", "design"),
        ("work-profile", "team_size", "2-10"),
        ("work-profile", "functions", "data"),
        ("preferences", "product_updates", "true"),
    ]


@pytest.mark.parametrize("step", ["work-profile", "workProfile", "work_profile", "WorkProfile"])
def test_it_filters_totals_by_step_in_any_case_style(staff, totals, step):
    results = staff.get(TOTALS, {"step": step}).json()["results"]
    assert {r["step"] for r in results} == {"work-profile"}
    assert len(results) == 2


@pytest.mark.parametrize("question", ["team_size", "teamSize", "team-size"])
def test_it_filters_totals_by_question_in_any_case_style(staff, totals, question):
    results = staff.get(TOTALS, {"step": "work-profile", "question": question}).json()["results"]
    assert results == [{"step": "work-profile", "question": "team_size", "answer": "2-10", "count": 4}]


def test_it_filters_totals_by_question_alone(staff, totals):
    results = staff.get(TOTALS, {"question": "role"}).json()["results"]
    assert [r["answer"] for r in results] == ["engineering", "design"]


@pytest.mark.parametrize(
    "params, param",
    [
        ({"step": "billing"}, "step"),
        ({"step": "work-profile", "question": "role"}, "question"),
        ({"question": "favourite_colour"}, "question"),
    ],
)
def test_it_rejects_an_unknown_step_or_question_with_400(staff, totals, params, param):
    response = staff.get(TOTALS, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"
    assert response.json()["param"] == param


def _event(session, name, step, duration_ms):
    return OnboardingEvent.objects.create(
        session=session,
        user_id=session.user_id,
        name=name,
        step=step,
        source="api",
        duration_ms=duration_ms,
    )


def within_bucket_error(value, exact) -> bool:
    """Tell whether a time read from the duration histogram is within its stated error of ``exact``."""
    return abs(value - exact) <= BUCKET_ERROR * exact + 0.5


@pytest.fixture(params=["computed directly", "from rollups"])
def funnel_source(request, settings):
    """Run a funnel test twice: with no rollups (computed directly) and after a fold (rollups + tail)."""
    settings.ONBOARDING_FUNNEL_FOLD_LAG = 0
    return request.param


@pytest.fixture
def funnel_sessions(db, funnel_source):
    """Three live sessions and a superseded one (which the funnel ignores)."""
    done = CompletedSessionFactory()
    at_tools = OnboardingSessionFactory(done_steps=("profile", "work-profile"))
    skipped_tools = OnboardingSessionFactory(done_steps=("profile", "work-profile", "invites"), skipped=("tools",))
    OnboardingSessionFactory(user=at_tools.user, state=OnboardingSession.State.SUPERSEDED, done_steps=("profile",))
    for session, ms in ((done, 1000), (at_tools, 3000), (skipped_tools, 5000)):
        _event(session, "step_saved", "profile", ms)
    _event(skipped_tools, "step_skipped", "tools", 400)
    _event(done, "step_saved", "tools", 800)
    _event(done, "draft_saved", "tools", 99999)  # not a step's end: not timed
    _event(at_tools, "validation_failed", "tools", None)
    _event(at_tools, "save_retried", "tools", None)
    if funnel_source == "from rollups":
        funnel_fold()
    return done, at_tools, skipped_tools


def test_the_funnel_counts_reached_completed_skipped_and_dropped_per_step(funnel_sessions):
    steps = {s.key: s for s in onboarding_funnel()}
    assert list(steps) == ["profile", "work-profile", "tools", "invites", "preferences", "workspace"]
    assert (steps["profile"].reached, steps["profile"].completed, steps["profile"].dropped) == (3, 3, 0)
    tools = steps["tools"]
    assert (tools.reached, tools.completed, tools.skipped, tools.dropped) == (3, 1, 1, 1)
    assert tools.drop_off_rate == pytest.approx(1 / 3, abs=1e-4)
    invites = steps["invites"]
    assert (invites.reached, invites.completed, invites.dropped) == (2, 2, 0)
    preferences = steps["preferences"]
    assert (preferences.reached, preferences.completed, preferences.dropped) == (2, 1, 1)
    assert steps["workspace"].reached == 1 and steps["workspace"].drop_off_rate == 0


def test_the_funnel_reports_the_median_time_of_saves_and_skips(funnel_sessions):
    steps = {s.key: s for s in onboarding_funnel()}
    assert within_bucket_error(steps["profile"].median_ms, 3000)
    assert within_bucket_error(steps["profile"].p90_ms, 4600)  # percentile_cont: 3000 + 0.8 * (5000 - 3000)
    assert within_bucket_error(steps["tools"].median_ms, 600)
    assert steps["workspace"].median_ms is None and steps["workspace"].p90_ms is None


def test_the_funnel_counts_friction_on_each_step(funnel_sessions):
    tools = {s.key: s for s in onboarding_funnel()}["tools"]
    assert (tools.validation_failures, tools.conflicts, tools.retries, tools.queued_saves) == (1, 0, 1, 0)


def test_the_funnel_counts_sessions_walked_through_the_services(db, funnel_source):
    complete_through_services(UserFactory(username="walker"))
    if funnel_source == "from rollups":
        funnel_fold()
    steps = onboarding_funnel()
    assert all(s.reached == 1 and s.completed == 1 and s.dropped == 0 for s in steps)
    assert all(s.median_ms is not None for s in steps[1:])  # the first save follows "started"


def test_the_funnel_api_returns_every_step(staff, funnel_sessions):
    response = staff.get(FUNNEL)
    assert response.status_code == 200
    body = response.json()
    assert body["sessions"] == 3
    assert body["started_after"] is None
    tools = body["steps"][2]
    assert within_bucket_error(tools.pop("median_ms"), 600) and within_bucket_error(tools.pop("p90_ms"), 760)
    assert tools == {
        "step": "tools",
        "title": "Tools",
        "skippable": True,
        "reached": 3,
        "completed": 1,
        "skipped": 1,
        "dropped": 1,
        "drop_off_rate": pytest.approx(0.3333, abs=1e-4),
        "validation_failures": 1,
        "conflicts": 0,
        "retries": 1,
        "queued_saves": 0,
        "validation_failures_occurrences": 1,
        "conflicts_occurrences": 0,
        "retries_occurrences": 1,
        "queued_saves_occurrences": 0,
    }


def test_the_funnel_api_filters_by_the_start_window(staff, funnel_sessions, funnel_source):
    done = funnel_sessions[0]
    long_ago = timezone.now() - timedelta(days=40)
    OnboardingSession.objects.filter(pk=done.pk).update(started_at=long_ago)
    if funnel_source == "from rollups":
        OnboardingEvent.objects.create(session=done, user_id=done.user_id, name="resumed", source="api")
        funnel_fold()  # the session's new start reaches the rollups through its next event
    recent = staff.get(FUNNEL, {"started_after": (timezone.now() - timedelta(days=7)).isoformat()}).json()
    assert recent["sessions"] == 2
    assert within_bucket_error(recent["steps"][0]["median_ms"], 4000)  # 3000 and 5000: the old session's 1000 is out
    old = staff.get(FUNNEL, {"started_before": (timezone.now() - timedelta(days=7)).isoformat()}).json()
    assert old["sessions"] == 1


@pytest.mark.parametrize(
    "params, param",
    [
        ({"started_after": "last week"}, "started_after"),
        ({"started_before": "2026-02-30"}, "started_before"),
        ({"started_after": "2026-03-02", "started_before": "2026-03-01"}, "started_before"),
    ],
)
def test_the_funnel_api_rejects_a_bad_window_with_400(staff, params, param):
    response = staff.get(FUNNEL, params)
    assert response.status_code == 400
    assert response.json()["param"] == param
    assert response.json()["code"] == "invalid_filter"
