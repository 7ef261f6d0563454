"""The funnel's rollups: folded by the worker from telemetry, exact however sessions change, rebuilt alike."""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from adminapi.selectors import onboarding_funnel, onboarding_funnel_by_arm
from aggregation.funnel import FRICTION_CAP_PER_SESSION, funnel_drift, funnel_fold, funnel_rebuild, funnel_watermark
from aggregation.funnel.window import window_parts
from aggregation.models import FunnelRollup, FunnelSessionMarks
from aggregation.tasks.funnel import fold_onboarding_funnel
from onboarding import services
from onboarding.errors import RevisionConflict, StepValidationError
from onboarding.manifest import STEP_KEYS
from onboarding.models import OnboardingEvent, OnboardingSession

from .conftest import complete_through_services
from .factories import UserFactory, valid_answers
from .funnel_support import assert_funnel_equals_expected, event_at, expected_funnel, session_at

pytestmark = pytest.mark.django_db

FLAG = "onboarding-ai-question"
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday; the data spans three days from here


@pytest.fixture(autouse=True)
def _no_fold_lag(settings):
    """Fold right up to the committed horizon: the horizon alone must keep late commits safe."""
    settings.ONBOARDING_FUNNEL_FOLD_LAG = 0


@pytest.fixture
def three_days():
    """Sixty sessions started over three days in every shape of progress, with timed and friction events."""
    rng = random.Random(15)
    shapes = [
        {"done": ()},
        {"done": ("profile",)},
        {"done": ("profile", "work-profile")},
        {"done": ("profile", "work-profile", "invites"), "skipped": ("tools",)},
        {"done": ("profile", "tools"), "skipped": ()},  # went back to work-profile: a hole
        {"done": STEP_KEYS, "state": "completed"},
        {"done": STEP_KEYS[:5], "skipped": ("invites",)},
        {"done": ("profile",), "state": "superseded"},
    ]
    for n in range(60):
        started = T0 + timedelta(minutes=rng.randrange(3 * 24 * 60), seconds=rng.randrange(60))
        shape = shapes[n % len(shapes)]
        flags = {FLAG: n % 3 == 0} if n % 2 else None
        session = session_at(started, flags=flags, **shape)
        event_at(session, "started", "profile", started)
        for i, step in enumerate((*shape["done"], *shape.get("skipped", ()))):
            name = "step_skipped" if step in shape.get("skipped", ()) else "step_saved"
            event_at(session, name, step, started + timedelta(minutes=i + 1), duration_ms=rng.randrange(200, 90_000))
        for name in (
            "validation_failed",
            "revision_conflict",
            "conflict_shown",
            "save_retried",
            "save_queued",
            "save_replayed",
            "draft_saved",
        ):
            if rng.random() < 0.4:
                event_at(session, name, rng.choice(STEP_KEYS), started + timedelta(minutes=9), source="browser")
    return T0


WINDOWS = [
    (None, None),
    (T0 + timedelta(days=1), None),  # whole days
    (None, T0 + timedelta(days=2)),
    (T0 + timedelta(hours=5), T0 + timedelta(days=2, hours=7)),  # whole hours at both ends
    (T0 + timedelta(hours=5, minutes=17), T0 + timedelta(days=1, hours=22, minutes=41)),  # partial hours
    (T0 + timedelta(days=1, hours=3, minutes=10), T0 + timedelta(days=1, hours=3, minutes=50)),  # within an hour
    (T0 + timedelta(days=1, hours=3, minutes=10), T0 + timedelta(days=1, hours=6, seconds=1)),  # no whole day
]


@pytest.mark.parametrize("started_after, started_before", WINDOWS)
def test_the_funnel_from_rollups_equals_a_direct_computation(three_days, started_after, started_before):
    funnel_fold()
    assert funnel_watermark() is not None and FunnelRollup.objects.exists()
    steps = onboarding_funnel(started_after=started_after, started_before=started_before)
    assert_funnel_equals_expected(steps, expected_funnel(started_after=started_after, started_before=started_before))


@pytest.mark.parametrize("arm", ["on", "off"])
def test_each_experiment_arm_has_its_own_rollups_and_the_arms_add_up(three_days, arm):
    funnel_fold()
    window = {"started_after": T0 + timedelta(hours=2, minutes=30)}
    steps = onboarding_funnel(**window, flag=FLAG, arm=arm)
    assert_funnel_equals_expected(steps, expected_funnel(**window, flag=FLAG, arm=arm))
    assert FunnelRollup.objects.filter(flag=FLAG, arm=arm).exists()


def test_the_arms_of_a_flag_add_up_to_the_sessions_that_carry_it(three_days):
    funnel_fold()
    on, off = (onboarding_funnel(flag=FLAG, arm=arm) for arm in ("on", "off"))
    carrying = expected_funnel(flag=FLAG, arm="on"), expected_funnel(flag=FLAG, arm="off")
    assert [s.reached for s in on] == [carrying[0][k]["reached"] for k in STEP_KEYS]
    assert [a.reached + b.reached for a, b in zip(on, off, strict=False)] == [
        carrying[0][k]["reached"] + carrying[1][k]["reached"] for k in STEP_KEYS
    ]


def test_the_experiment_readout_from_rollups_equals_the_direct_one(three_days):
    window = {"started_after": T0 + timedelta(hours=7, minutes=5), "started_before": T0 + timedelta(days=2, hours=20)}
    direct = onboarding_funnel_by_arm(flag=FLAG, **window)  # nothing folded yet: computed directly
    funnel_fold()
    assert onboarding_funnel_by_arm(flag=FLAG, **window) == direct
    on, off = direct.arms
    assert (on.sessions, on.completed) == (
        len([1 for s in _counted(window) if s.data.get("flags", {}).get(FLAG) is True]),
        len([1 for s in _counted(window) if s.data.get("flags", {}).get(FLAG) is True and s.state == "completed"]),
    )
    assert off.sessions > 0


def _counted(window):
    return OnboardingSession.objects.exclude(state="superseded").filter(
        started_at__gte=window["started_after"], started_at__lt=window["started_before"]
    )


@pytest.mark.parametrize(
    "params",
    [
        {"started_after": "9999-12-31T23:59:59Z"},
        {"started_after": "9999-12-31T00:00:01Z"},
        {"started_after": "0001-01-01T00:00:00Z", "started_before": "0001-01-01T00:30:00Z"},
    ],
)
def test_a_window_at_the_ends_of_the_calendar_is_answered_from_rollups_too(three_days, staff, params):
    funnel_fold()
    response = staff.get("/api/admin/onboarding/funnel", params)
    assert response.status_code == 200
    assert response.json()["sessions"] == 0


def test_a_fold_of_an_empty_database_leaves_it_never_folded(db):
    assert funnel_fold().chunks == 0
    assert funnel_watermark() is None and not FunnelRollup.objects.exists()


def test_a_window_is_read_from_day_rows_hour_rows_and_computed_edges():
    parts = window_parts(T0 + timedelta(hours=5, minutes=17), T0 + timedelta(days=3, hours=2, minutes=40))
    assert parts.days == (T0 + timedelta(days=1), T0 + timedelta(days=3))
    assert parts.hours == (
        (T0 + timedelta(hours=6), T0 + timedelta(days=1)),
        (T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2)),
    )
    assert parts.direct == (
        (T0 + timedelta(hours=5, minutes=17), T0 + timedelta(hours=6)),
        (T0 + timedelta(days=3, hours=2), T0 + timedelta(days=3, hours=2, minutes=40)),
    )


@pytest.mark.smoke  # also on the SQLite default: the fold's SQL (buckets, upserts) runs there too
def test_friction_counts_the_session_once_and_how_often_it_met_it(db):
    user = UserFactory()
    session = services.session_get_or_start(user=user, source="wizard")
    for _ in range(3):  # three refused saves of the profile: validation_failed each
        with pytest.raises(StepValidationError):
            services.session_save_step(
                user=user, step="profile", answers={"full_name": ""}, revision=session.revision, source="wizard"
            )
    session = services.session_save_step(
        user=user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="wizard"
    )
    with pytest.raises(RevisionConflict):  # a stale tab on work-profile
        services.session_save_step(
            user=user, step="work-profile", answers=valid_answers("work-profile"), revision="stale", source="wizard"
        )
    for name, n in (("conflict_shown", 1), ("save_retried", 4), ("save_queued", 2), ("save_replayed", 2)):
        for _ in range(n):  # what the browser reports (source "browser")
            OnboardingEvent.objects.create(session=session, user=user, name=name, step="work-profile", source="browser")
    funnel_fold()
    steps = {s.key: s for s in onboarding_funnel()}
    profile, work = steps["profile"], steps["work-profile"]
    assert (profile.validation_failures, profile.conflicts, profile.retries, profile.queued_saves) == (1, 0, 0, 0)
    assert (work.validation_failures, work.conflicts, work.retries, work.queued_saves) == (0, 1, 1, 1)
    assert profile.validation_failures_occurrences == 3
    assert (work.conflicts_occurrences, work.retries_occurrences, work.queued_saves_occurrences) == (2, 4, 2)
    assert all(s.friction == 0 for s in steps.values() if s.key not in ("profile", "work-profile"))


def test_one_session_reporting_friction_over_and_over_counts_once_and_at_most_the_cap(db):
    noisy = services.session_get_or_start(user=UserFactory(username="noisy"), source="api")
    quiet = services.session_get_or_start(user=UserFactory(username="quiet"), source="api")
    OnboardingEvent.objects.create(
        session=quiet, user=quiet.user, name="save_retried", step="profile", source="browser"
    )
    for _ in range(30):
        OnboardingEvent.objects.create(
            session=noisy, user=noisy.user, name="save_retried", step="profile", source="browser"
        )
    funnel_fold(chunk_events=7)  # the noisy session's events span several chunks
    for _ in range(5):  # more of it after a fold: still one session, still capped
        OnboardingEvent.objects.create(
            session=noisy, user=noisy.user, name="save_retried", step="profile", source="browser"
        )

    profile = {s.key: s for s in onboarding_funnel()}["profile"]

    assert (profile.retries, profile.retries_occurrences) == (2, FRICTION_CAP_PER_SESSION + 1)
    funnel_fold()
    assert funnel_drift() == []


def test_going_back_un_marks_a_step_in_the_rollups(db):
    session = complete_through_services(UserFactory(username="walker"))
    other = services.session_get_or_start(user=UserFactory(username="backer"), source="api")
    for step in ("profile", "work-profile"):
        other = services.session_save_step(
            user=other.user, step=step, answers=valid_answers(step), revision=other.revision, source="api"
        )
    funnel_fold()
    assert {s.key: s.completed for s in onboarding_funnel()}["work-profile"] == 2
    services.session_go_back(user=other.user, step="tools", revision=other.revision, source="api")
    funnel_fold()
    steps = {s.key: s for s in onboarding_funnel()}
    assert (steps["work-profile"].completed, steps["work-profile"].dropped, steps["tools"].reached) == (1, 1, 1)
    assert session.state == "completed"
    assert funnel_drift() == []


def test_a_staff_reset_takes_the_superseded_session_out_and_counts_the_fresh_one(db):
    user = UserFactory()
    session = services.session_get_or_start(user=user, source="api")
    session = services.session_save_step(
        user=user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    with pytest.raises(StepValidationError):
        services.session_save_step(user=user, step="work-profile", answers={}, revision=session.revision, source="api")
    funnel_fold()
    before = {s.key: s for s in onboarding_funnel()}
    assert (before["profile"].completed, before["work-profile"].validation_failures) == (1, 1)
    services.session_restart(user=user, source="admin")
    funnel_fold()
    after = {s.key: s for s in onboarding_funnel()}
    assert (after["profile"].reached, after["profile"].completed, after["work-profile"].validation_failures) == (
        1,
        0,
        0,
    )
    assert after["profile"].median_ms is None  # the superseded session's timing went with it
    assert FunnelSessionMarks.objects.filter(session_id=session.pk).count() == 0
    assert funnel_drift() == []


def test_a_read_adds_what_is_not_folded_yet(three_days):
    funnel_fold()
    user = UserFactory()
    session = services.session_get_or_start(user=user, source="api")  # after the fold: in the tail only
    with pytest.raises(StepValidationError):
        services.session_save_step(user=user, step="profile", answers={}, revision=session.revision, source="api")
    steps = onboarding_funnel(started_after=timezone.now() - timedelta(hours=1))
    assert (steps[0].reached, steps[0].validation_failures) == (1, 1)
    assert_funnel_equals_expected(onboarding_funnel(), expected_funnel())


def test_a_read_far_behind_the_fold_computes_the_window_directly(three_days, settings):
    funnel_fold()
    event_at(OnboardingEvent.objects.first().session, "save_retried", "tools", timezone.now())
    settings.ONBOARDING_FUNNEL_PENDING_MAX = 0
    assert_funnel_equals_expected(onboarding_funnel(), expected_funnel())


@pytest.mark.smoke
def test_a_rebuild_after_deleting_the_rollups_gives_identical_figures(three_days):
    funnel_fold()
    windows = [(None, None), WINDOWS[4], WINDOWS[6]]
    figures = [onboarding_funnel(started_after=a, started_before=b) for a, b in windows]
    FunnelRollup.objects.all().delete()
    FunnelSessionMarks.objects.all().delete()
    assert funnel_drift()  # the check notices
    funnel_rebuild()
    assert [onboarding_funnel(started_after=a, started_before=b) for a, b in windows] == figures
    assert funnel_drift() == []


def test_the_check_command_reports_drift_exits_1_and_repairs(three_days, capsys):
    funnel_fold()
    row = FunnelRollup.objects.filter(granularity="day", step="profile", flag="").order_by("period_start").first()
    FunnelRollup.objects.filter(pk=row.pk).update(reached=row.reached + 5)
    with pytest.raises(CommandError, match="1 funnel figures drifted"):  # exit status 1 on the command line
        call_command("check_onboarding_funnel")
    out = capsys.readouterr()
    assert (
        f"day {row.period_start.isoformat()} profile reached: stored {row.reached + 5}, expected {row.reached}"
        in out.out
    )
    call_command("check_onboarding_funnel", "--repair")
    assert "repaired" in capsys.readouterr().out
    call_command("check_onboarding_funnel")
    assert "match" in capsys.readouterr().out


def test_the_check_command_on_a_database_never_folded_says_so(three_days, capsys):
    call_command("check_onboarding_funnel")  # no CommandError: nothing is inconsistent, reads compute directly
    assert "No rollups yet" in capsys.readouterr().out
    call_command("check_onboarding_funnel", "--repair")
    assert funnel_watermark() is not None and funnel_drift() == []


def test_the_backfill_command_folds_old_data_and_is_idempotent(three_days, capsys):
    call_command("backfill_onboarding_funnel")
    assert "Folded" in capsys.readouterr().out
    figures = onboarding_funnel()
    call_command("backfill_onboarding_funnel")
    assert "Folded 0 events" in capsys.readouterr().out
    call_command("backfill_onboarding_funnel", "--rebuild", "--chunk-size", "7")
    assert onboarding_funnel() == figures
    assert funnel_drift() == []


def test_the_beat_task_folds(three_days, settings):
    assert "onboarding-funnel-fold" in settings.CELERY_BEAT_SCHEDULE
    assert fold_onboarding_funnel.apply().get() > 0
    assert funnel_watermark() is not None and funnel_drift() == []


def test_a_fold_in_small_chunks_equals_one_in_a_single_chunk(three_days):
    funnel_fold(chunk_events=3)
    small = list(FunnelRollup.objects.order_by("granularity", "period_start", "flag", "arm", "step").values())
    funnel_rebuild()
    big = list(FunnelRollup.objects.order_by("granularity", "period_start", "flag", "arm", "step").values())
    strip = [{k: v for k, v in row.items() if k != "id"} for row in small]
    assert strip == [{k: v for k, v in row.items() if k != "id"} for row in big]


# --- Concurrency: real PostgreSQL, real threads ------------------------------------------------

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="open transactions are PostgreSQL's to see")


def begin_transaction_now() -> None:
    """Send the open transaction's BEGIN at once (Django defers it to the first query).

    The event is then stamped after its transaction began, which the committed horizon covers;
    a stamp taken before the BEGIN is what ONBOARDING_FUNNEL_FOLD_LAG covers, 0 in these tests.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pg_only
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_fold_started_is_not_skipped():
    session = services.session_get_or_start(user=UserFactory(), source="api")
    inserted, release = threading.Event(), threading.Event()

    def late_writer():
        try:
            with transaction.atomic():
                begin_transaction_now()
                OnboardingEvent.objects.create(
                    session=session, user_id=session.user_id, name="save_queued", step="profile", source="browser"
                )
                inserted.set()
                release.wait(10)  # committed only after the fold below has run
        finally:
            connection.close()

    writer = threading.Thread(target=late_writer)
    writer.start()
    assert inserted.wait(10)
    funnel_fold()  # must stop before the writer's transaction began
    release.set()
    writer.join()
    funnel_fold()
    assert onboarding_funnel()[0].queued_saves == 1
    assert funnel_drift() == []


@pg_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_event_writers_lose_no_count_while_the_worker_folds():
    writers, saves_each = 4, 6
    users = [UserFactory(username=f"writer{n}") for n in range(writers)]
    for user in users:
        services.session_get_or_start(user=user, source="api")
    done, failures = threading.Event(), []
    folds, fold_count = threading.Condition(), [0]

    def wait_for_a_fold():
        with folds:
            seen = fold_count[0]
            assert folds.wait_for(lambda: fold_count[0] > seen, timeout=10), "no fold ran"

    def write(user):
        try:
            for _ in range(saves_each):
                session = services.session_get_or_start(user=user, source="api")
                with pytest.raises(StepValidationError):
                    services.session_save_step(
                        user=user, step="profile", answers={}, revision=session.revision, source="api"
                    )
                with transaction.atomic():  # a browser report that commits late
                    begin_transaction_now()
                    OnboardingEvent.objects.create(
                        session=session, user_id=user.pk, name="save_retried", step="profile", source="browser"
                    )
                    wait_for_a_fold()  # a whole fold runs while this event is uncommitted
        except Exception as exc:  # surfaced below: a thread's assertion would otherwise vanish
            failures.append(exc)
        finally:
            connection.close()

    def fold():
        try:
            while not done.is_set():
                funnel_fold()
                with folds:
                    fold_count[0] += 1
                    folds.notify_all()
        finally:
            connection.close()

    folder = threading.Thread(target=fold)
    threads = [threading.Thread(target=write, args=(user,)) for user in users]
    folder.start()
    [t.start() for t in threads]
    [t.join() for t in threads]
    done.set()
    folder.join()
    assert failures == []
    funnel_fold()
    profile = onboarding_funnel()[0]
    assert (profile.validation_failures, profile.retries) == (writers, writers)  # sessions that met them
    assert (profile.validation_failures_occurrences, profile.retries_occurrences) == (
        writers * saves_each,
        writers * saves_each,
    )
    day_rows = FunnelRollup.objects.filter(granularity="day", step="profile", flag="")
    assert sum(row.validation_failures_occurrences for row in day_rows) == writers * saves_each
    assert funnel_drift() == []
