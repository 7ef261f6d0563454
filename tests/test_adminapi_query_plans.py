"""The answers list's queries are index range scans on PostgreSQL: no Seq Scan, no Sort, no OFFSET."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from adminapi.pagination import Cursor, keyset_queryset
from adminapi.selectors import AnswerFilters, snapshots_filtered
from aggregation.models import AnswerSnapshot
from aggregation.snapshots.documents import SNAPSHOT_DOCUMENT_FIELDS
from onboarding.models import Workspace

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's"),
]

ROWS = 6000
ROLES = ("engineering", "design", "product", "data", "marketing", "sales", "support", "operations", "founder", "other")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def many_snapshots(db, django_user_model):
    """6,000 snapshots of 2,000 users over 10 roles and 8 workspaces, then ANALYZE.

    Rows go in in random order, as after a backfill or a restore: the planner may then not lean on
    the heap happening to be in completion order, and each filter's own index is the right plan.
    """
    users = django_user_model.objects.bulk_create(
        django_user_model(username=f"plan{n}", password="!") for n in range(2000)
    )
    workspaces = Workspace.objects.bulk_create(
        Workspace(name=f"W{n}", slug=f"w-{n}", join_code=f"code-{n}") for n in range(8)
    )
    order = list(range(ROWS))
    random.Random(5).shuffle(order)
    AnswerSnapshot.objects.bulk_create(
        AnswerSnapshot(
            session_id=uuid.uuid4(),
            user=users[n % 2000],
            workspace=workspaces[n % 8],
            role=ROLES[n % 10],
            answer_schema_version=1,
            completed_at=T0 + timedelta(minutes=n // 3),
            ingested_at=T0,
            answers={"profile": {"role": ROLES[n % 10]}},
            flattened=[{"step": "profile", "question": "role", "value": ROLES[n % 10]}],
        )
        for n in order
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE onboarding_answer_snapshots")
    return workspaces


def _page_query(filters, cursor=None):
    return keyset_queryset(snapshots_filtered(filters), cursor=cursor, page_size=50, fields=SNAPSHOT_DOCUMENT_FIELDS)


MIDDLE = Cursor(completed_at=T0 + timedelta(minutes=600), session_id=uuid.UUID(int=2**127))
CASES = {
    "no filter": (lambda ws: AnswerFilters(), "snap_completed_desc"),
    "role": (lambda ws: AnswerFilters(role="design"), "snap_role_completed"),
    "workspace": (lambda ws: AnswerFilters(workspace_id=ws[3].pk), "snap_ws_completed"),
    "completed_after": (lambda ws: AnswerFilters(completed_after=T0 + timedelta(minutes=100)), "snap_completed_desc"),
    "completed_before": (lambda ws: AnswerFilters(completed_before=T0 + timedelta(minutes=900)), "snap_completed_desc"),
    "window": (
        lambda ws: AnswerFilters(
            completed_after=T0 + timedelta(minutes=100), completed_before=T0 + timedelta(minutes=900)
        ),
        "snap_completed_desc",
    ),
    "role and window": (
        lambda ws: AnswerFilters(role="data", completed_after=T0 + timedelta(minutes=100)),
        "snap_role_completed",
    ),
}


def _assert_index_range_scan(queryset, index):
    sql = str(queryset.query)
    plan = queryset.explain()
    assert "OFFSET" not in sql.upper()
    assert f"Index Scan using {index}" in plan or f"Index Scan Backward using {index}" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan  # the index delivers the order: LIMIT stops after page_size + 1 rows


@pytest.mark.parametrize("case", CASES)
def test_the_first_page_is_an_index_scan(many_snapshots, case):
    make_filters, index = CASES[case]
    _assert_index_range_scan(_page_query(make_filters(many_snapshots)), index)


@pytest.mark.parametrize("case", CASES)
def test_a_deep_page_is_an_index_range_scan_from_the_cursor(many_snapshots, case):
    make_filters, index = CASES[case]
    queryset = _page_query(make_filters(many_snapshots), MIDDLE)
    _assert_index_range_scan(queryset, index)
    assert (
        "completed_at" in queryset.explain().split("Index Cond:")[1].split("\n")[0]
    )  # the cursor is in the index condition


@pytest.mark.parametrize("case", ["no filter", "role", "workspace"])
def test_a_previous_page_is_a_backward_index_scan(many_snapshots, case):
    make_filters, index = CASES[case]
    reverse = Cursor(completed_at=MIDDLE.completed_at, session_id=MIDDLE.session_id, reverse=True)
    _assert_index_range_scan(_page_query(make_filters(many_snapshots), reverse), index)


def test_a_users_history_is_an_index_lookup(many_snapshots):
    user_id = AnswerSnapshot.objects.values_list("user_id", flat=True).first()
    plan = AnswerSnapshot.objects.filter(user_id=user_id).order_by("completed_at", "session_id").explain()
    # snap_user_completed, or the FK's own user_id index plus a sort of a user's few rows: both are
    # lookups by user; the FK index is redundant with snap_user_completed (reported to aggregation).
    assert "Index Cond: (user_id = " in plan, plan
    assert "Seq Scan" not in plan, plan
