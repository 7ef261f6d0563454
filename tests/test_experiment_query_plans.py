"""The experiment readout's queries use their indexes on PostgreSQL: every query funnel?flag= and
totals?flag=&arm= run is captured from a real request and EXPLAINed.

funnel?flag= reads each arm's rollup rows (aggregation.funnel; tests/test_funnel_rollups.py asserts
that plan); computed directly (no rollups yet) it finds each arm's sessions through
onb_session_flags (a GIN index on data->'flags'), never by reading every session. Its step
timings then read those sessions' events; whether PostgreSQL reads the events by
onb_event_session_time or hashes a scan of them
depends on how many events there are per arm's session, so that side is not asserted here.
"""

import random
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aggregation.models import AnswerArmTotal
from onboarding.manifest import AI_QUESTION_FLAG, STEP_KEYS
from onboarding.models import OnboardingEvent, OnboardingSession

from .factories import session_data

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's"),
]

SESSIONS = 16000
EXPERIMENT = 800  # the latest sessions decided the flag (half on, half off); the rest started before it
OTHER_FLAGS = 60


@pytest.fixture
def many_sessions(django_user_model):
    """16,000 sessions (answers as saved) with two events each, in random order; the last 800 decided
    the flag (5%, an experiment that started recently). ANALYZEd."""
    rng, now = random.Random(7), timezone.now()
    users = django_user_model.objects.bulk_create(
        django_user_model(username=f"x{n}", password="!") for n in range(SESSIONS)
    )
    order = list(range(SESSIONS))
    rng.shuffle(order)
    sessions = []
    for n in order:
        done = STEP_KEYS[: n % len(STEP_KEYS)]
        data = session_data(done_steps=done)
        data.pop("flags")
        if n >= SESSIONS - EXPERIMENT:
            data["flags"] = {AI_QUESTION_FLAG: n % 2 == 0}
        sessions.append(
            OnboardingSession(
                id=uuid.uuid4(),
                user=users[n],
                version=1,
                answer_schema_version=1,
                data=data,
                current_step=STEP_KEYS[len(done)],
                last_event_at=now,
            )
        )
    OnboardingSession.objects.bulk_create(sessions)
    OnboardingSession.objects.update(started_at=now - timedelta(days=30))
    OnboardingEvent.objects.bulk_create(
        (
            OnboardingEvent(session=s, user_id=s.user_id, name=name, step=step, source="api", duration_ms=1000)
            for s in sessions
            for step in STEP_KEYS[:2]
            for name in ("step_saved",)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE onboarding_sessions")
        cursor.execute("ANALYZE onboarding_events")


@pytest.fixture
def many_arm_totals(db):
    """The arm totals of 60 past experiments and this one: about 7,000 rows. ANALYZEd."""
    flags = [f"past-experiment-{n}" for n in range(OTHER_FLAGS)] + [AI_QUESTION_FLAG]
    AnswerArmTotal.objects.bulk_create(
        AnswerArmTotal(flag=flag, arm=arm, step=step, question=f"q{q}", answer=f"a{a}", count=1)
        for flag in flags
        for arm in ("on", "off")
        for step in STEP_KEYS[:3]
        for q in range(4)
        for a in range(5)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE onboarding_answer_arm_totals")


def plans_of(staff, url, params, table) -> list[str]:
    """Run the request; return the EXPLAIN of every query it sent that reads ``table``."""
    with CaptureQueriesContext(connection) as captured:
        response = staff.get(url, params)
    assert response.status_code == 200, response.content
    queries = [q["sql"] for q in captured.captured_queries if f'"{table}"' in q["sql"]]
    assert queries
    plans = []
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def test_funnel_by_flag_finds_each_arms_sessions_through_the_flags_index(staff, many_sessions):
    """Without rollups (never folded) the readout is computed from each arm's sessions directly."""
    window = {"started_after": (timezone.now() - timedelta(days=31)).isoformat()}
    for params in ({"flag": AI_QUESTION_FLAG}, {"flag": AI_QUESTION_FLAG, **window}):
        plans = plans_of(staff, "/api/admin/onboarding/funnel", params, "onboarding_sessions")
        assert len(plans) == 6  # per arm: progress shapes (sessions and completions too), step events, friction
        for plan in plans:
            assert "Seq Scan on onboarding_sessions" not in plan, plan
        # The friction query may start from its few events and reach each session by its key instead;
        # the shapes and the step events find the arm's sessions through the flags index.
        assert sum("onb_session_flags" in plan for plan in plans) >= 4, plans


@pytest.mark.parametrize(
    "params",
    [
        {"flag": AI_QUESTION_FLAG, "arm": "on"},
        {"flag": AI_QUESTION_FLAG, "arm": "off", "step": "tools"},
        {"flag": AI_QUESTION_FLAG, "arm": "on", "step": "profile", "question": "role"},
    ],
)
def test_totals_by_arm_are_an_index_range_of_the_arm_totals_key(staff, many_arm_totals, params):
    [plan] = plans_of(staff, "/api/admin/onboarding/totals", params, "onboarding_answer_arm_totals")
    assert "uniq_arm_total_key" in plan, plan
    assert "Seq Scan" not in plan, plan
