"""GET /api/admin/onboarding/answers and /answers/<user_id>: results, filters, cursor pagination."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adminapi.pagination import Cursor
from onboarding.models import Workspace

from .factories import AnswerSnapshotFactory, UserFactory, valid_answers

pytestmark = pytest.mark.django_db

URL = "/api/admin/onboarding/answers"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _snapshot(minutes=0, role="engineering", **kwargs):
    answers = {"profile": valid_answers("profile", role=role), "preferences": valid_answers("preferences")}
    return AnswerSnapshotFactory(completed_at=T0 + timedelta(minutes=minutes), answers=answers, **kwargs)


def _ids(response):
    return [row["session_id"] for row in response.json()["results"]]


def test_it_lists_snapshots_newest_first_in_the_snapshot_document_shape(staff):
    older, newer = _snapshot(0), _snapshot(5)
    response = staff.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None and body["previous"] is None
    assert _ids(response) == [str(newer.session_id), str(older.session_id)]
    first = body["results"][0]
    assert set(first) == {
        "session_id",
        "user_id",
        "workspace_id",
        "role",
        "answer_schema_version",
        "completed_at",
        "answers",
        "flattened",
        "flags",
    }
    assert first["user_id"] == newer.user_id
    assert first["role"] == "engineering"
    assert datetime.fromisoformat(first["completed_at"]) == newer.completed_at
    assert {"step": "profile", "question": "role", "value": "engineering"} in first["flattened"]


def test_it_filters_by_role(staff):
    _snapshot(0, role="design")
    engineer = _snapshot(1, role="engineering")
    assert _ids(staff.get(URL, {"role": "engineering"})) == [str(engineer.session_id)]


def test_it_filters_by_workspace_id_and_by_slug(staff):
    workspace = Workspace.objects.create(name="Analytical Engines", slug="analytical-engines")
    inside = _snapshot(0, workspace=workspace)
    _snapshot(1)
    assert _ids(staff.get(URL, {"workspace": str(workspace.pk)})) == [str(inside.session_id)]
    assert _ids(staff.get(URL, {"workspace": "analytical-engines"})) == [str(inside.session_id)]


def test_it_finds_a_workspace_whose_slug_is_all_digits(staff):
    workspace = Workspace.objects.create(name="2026", slug="2026")
    inside = _snapshot(0, workspace=workspace)
    assert _ids(staff.get(URL, {"workspace": "2026"})) == [str(inside.session_id)]


def test_it_returns_no_results_for_an_unknown_workspace_slug_or_id(staff):
    _snapshot(0)
    for value in ("no-such-workspace", "987654"):
        response = staff.get(URL, {"workspace": value})
        assert response.status_code == 200
        assert response.json()["results"] == []


def test_it_filters_by_completion_window_inclusive_after_exclusive_before(staff):
    before, at_start, inside, at_end = _snapshot(-1), _snapshot(0), _snapshot(30), _snapshot(60)
    response = staff.get(
        URL, {"completed_after": T0.isoformat(), "completed_before": (T0 + timedelta(minutes=60)).isoformat()}
    )
    assert _ids(response) == [str(inside.session_id), str(at_start.session_id)]
    assert str(before.session_id) not in _ids(staff.get(URL, {"completed_after": "2026-03-01T12:00:00Z"}))
    assert _ids(staff.get(URL, {"completed_before": "2026-03-01T12:00:00+00:00"})) == [str(before.session_id)]
    assert str(at_end.session_id) in _ids(staff.get(URL, {"completed_after": "2026-03-01"}))


def test_it_combines_filters(staff):
    workspace = Workspace.objects.create(name="Engines", slug="engines")
    match = _snapshot(10, role="design", workspace=workspace)
    _snapshot(10, role="engineering", workspace=workspace)
    _snapshot(10, role="design")
    _snapshot(-10, role="design", workspace=workspace)
    response = staff.get(URL, {"role": "design", "workspace": "engines", "completed_after": T0.isoformat()})
    assert _ids(response) == [str(match.session_id)]


@pytest.mark.parametrize(
    "param, value, code",
    [
        ("role", "astronaut", "invalid_filter"),
        ("workspace", "not a slug!", "invalid_filter"),
        ("completed_after", "yesterday", "invalid_filter"),
        ("completed_after", "2026-13-01T00:00:00Z", "invalid_filter"),
        ("completed_before", "2026-02-30", "invalid_filter"),
        ("page_size", "0", "invalid_page_size"),
        ("page_size", "501", "invalid_page_size"),
        ("page_size", "-5", "invalid_page_size"),
        ("page_size", "ten", "invalid_page_size"),
        ("page_size", "2.5", "invalid_page_size"),
        ("cursor", "bm90LWEtY3Vyc29y", "invalid_cursor"),
        ("cursor", "%%%", "invalid_cursor"),
    ],
)
def test_it_rejects_a_bad_parameter_with_400_naming_it(staff, param, value, code):
    response = staff.get(URL, {param: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["param"] == param
    assert body["detail"].startswith(f"{param}: ")


def test_it_treats_an_empty_parameter_as_not_given(staff):
    _snapshot(0, role="design")
    response = staff.get(URL, {"role": "", "workspace": "", "completed_after": "", "page_size": ""})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_it_rejects_a_window_that_ends_before_it_starts(staff):
    response = staff.get(URL, {"completed_after": "2026-03-02", "completed_before": "2026-03-01"})
    assert response.status_code == 400
    assert response.json()["param"] == "completed_before"


@pytest.mark.parametrize("size", ["1", "500"])
def test_it_accepts_page_sizes_at_the_bounds(staff, size):
    _snapshot(0), _snapshot(1)
    response = staff.get(URL, {"page_size": size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(int(size), 2)


def test_it_defaults_to_fifty_per_page(staff):
    user = UserFactory()
    for minute in range(51):
        _snapshot(minute, user=user)
    body = staff.get(URL).json()
    assert len(body["results"]) == 50
    assert body["next"] is not None


def _walk(client, url, direction="next"):
    """Follow links until the end; return the pages' ids."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append(_ids(response))
        url = response.json()[direction]
    return pages


def test_it_walks_every_page_without_duplicates_or_gaps_including_ties(staff):
    user = UserFactory()
    expected = []
    # 23 snapshots over 4 distinct instants: most share completed_at with others.
    for index in range(23):
        expected.append(_snapshot(index % 4, user=user))
    expected.sort(key=lambda s: (s.completed_at, s.session_id), reverse=True)
    pages = _walk(staff, f"{URL}?page_size=5")
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    walked = [session_id for page in pages for session_id in page]
    assert walked == [str(s.session_id) for s in expected]


def test_it_walks_back_with_previous_links_to_the_same_pages(staff):
    user = UserFactory()
    for index in range(12):
        _snapshot(index % 3, user=user)
    forward = _walk(staff, f"{URL}?page_size=5")
    last_page = staff.get(f"{URL}?page_size=5")
    url = last_page.json()["next"]
    while True:  # go to the last page
        body = staff.get(url).json()
        if body["next"] is None:
            break
        url = body["next"]
    backward = _walk(staff, url, direction="previous")
    assert backward == forward[::-1]


def test_its_links_keep_the_filters_and_page_size(staff):
    user = UserFactory()
    for minute in range(4):
        _snapshot(minute, role="design", user=user)
    _snapshot(10, role="engineering", user=user)
    body = staff.get(URL, {"role": "design", "page_size": 2}).json()
    query = parse_qs(urlsplit(body["next"]).query)
    assert query["role"] == ["design"] and query["page_size"] == ["2"]
    pages = _walk(staff, body["next"])
    assert sum(len(page) for page in pages) == 2


def test_its_cursor_is_opaque_and_round_trips():
    cursor = Cursor(completed_at=T0, session_id=AnswerSnapshotFactory.build().session_id, reverse=True)
    assert "{" not in cursor.encode() and "=" not in cursor.encode()
    assert Cursor.decode(cursor.encode()) == cursor


def test_it_returns_a_users_completion_history_oldest_first(staff):
    user = UserFactory()
    first, second = _snapshot(0, user=user), _snapshot(30, user=user)
    _snapshot(10)  # someone else
    response = staff.get(f"{URL}/{user.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == user.pk
    assert [s["session_id"] for s in body["sessions"]] == [str(first.session_id), str(second.session_id)]
    assert body["sessions"][0]["answers"]["profile"]["role"] == "engineering"


def test_it_returns_an_empty_history_for_a_user_who_never_completed(staff, new_user):
    response = staff.get(f"{URL}/{new_user.pk}")
    assert response.status_code == 200
    assert response.json() == {"user_id": new_user.pk, "sessions": []}


def test_it_answers_404_json_for_an_unknown_user(staff):
    response = staff.get(f"{URL}/987654321")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "detail" in response.json()
