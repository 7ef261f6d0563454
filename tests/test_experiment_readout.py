"""The experiment readout: flags carried into the analytics, the funnel and totals split by arm."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from adminapi.experiments import two_proportion_p_value
from aggregation.export import answers_export
from aggregation.models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot
from aggregation.snapshots.consistency import totals_drift
from aggregation.snapshots.services import snapshot_ingest
from onboarding import services
from onboarding.manifest import AI_QUESTION_FLAG
from onboarding.models import OnboardingSession

from .export_support import export_root, read_lines, run_dirs  # noqa: F401 (export_root is a fixture)
from .factories import CompletedSessionFactory, OnboardingSessionFactory, UserFactory, valid_answers

pytestmark = pytest.mark.django_db

FUNNEL = "/api/admin/onboarding/funnel"
TOTALS = "/api/admin/onboarding/totals"
ON = (AI_QUESTION_FLAG,)


def completed_with_flag(on: bool, *, ai_usage="weekly", role="engineering"):
    """Complete a session through the services with the AI question decided ``on``; ingest its message."""
    user = UserFactory()
    session = services.session_get_or_start(user=user, source="api")
    session.data["flags"] = {AI_QUESTION_FLAG: on}  # as decided at its start
    OnboardingSession.objects.filter(pk=session.pk).update(data=session.data)
    steps = {
        "profile": valid_answers("profile", role=role),
        "work-profile": valid_answers("work-profile", **({"ai_usage": ai_usage} if on else {})),
    }
    for step in ("tools", "invites", "preferences"):
        steps[step] = valid_answers(step)
    steps["workspace"] = valid_answers("workspace", workspace_name=f"Space {user.pk}")
    for step, answers in steps.items():
        session = services.session_save_step(
            user=user, step=step, answers=answers, revision=session.revision, source="api"
        )
    session = services.session_complete(user=user, revision=session.revision, source="api")
    snapshot_ingest(message=services.completion_message(session))
    return session


# --- Persisted everywhere ------------------------------------------------------------------------


def test_a_completion_carries_its_flags_into_the_snapshot_and_counts_the_experimental_answer(db):
    session = completed_with_flag(True, ai_usage="daily")
    snapshot = AnswerSnapshot.objects.get(session_id=session.pk)
    assert snapshot.flags == {AI_QUESTION_FLAG: True}
    assert snapshot.answers["work-profile"]["ai_usage"] == "daily"
    assert AnswerGroupTotal.objects.get(step="work-profile", question="ai_usage", answer="daily").count == 1
    assert (
        AnswerArmTotal.objects.get(
            flag=AI_QUESTION_FLAG, arm="on", step="work-profile", question="ai_usage", answer="daily"
        ).count
        == 1
    )
    assert (
        AnswerArmTotal.objects.get(
            flag=AI_QUESTION_FLAG, arm="on", step="profile", question="role", answer="engineering"
        ).count
        == 1
    )
    assert not AnswerArmTotal.objects.filter(arm="off").exists()
    assert totals_drift() == []


def test_admin_results_and_export_lines_carry_the_sessions_flags(staff, export_root):
    on, off = completed_with_flag(True), completed_with_flag(False)
    expected = {str(on.pk): {AI_QUESTION_FLAG: True}, str(off.pk): {AI_QUESTION_FLAG: False}}

    results = staff.get("/api/admin/onboarding/answers").json()["results"]
    history = staff.get(f"/api/admin/onboarding/answers/{on.user_id}").json()["sessions"]
    answers_export()
    for redacted in (False, True):  # the fast line and the document line
        answers_export(full=True, redact_pii=redacted)
    lines = [read_lines(run_dir) for run_dir in run_dirs(export_root)]

    assert {r["session_id"]: r["flags"] for r in results} == expected
    assert history[0]["flags"] == {AI_QUESTION_FLAG: True}
    assert len(lines) == 3
    for run in lines:
        assert {line["session_id"]: line["flags"] for line in run} == expected


def test_the_backfill_fills_a_snapshots_flags_from_its_session(db):
    session = completed_with_flag(True)
    AnswerSnapshot.objects.filter(session_id=session.pk).update(flags={})  # ingested from a message without flags
    AnswerArmTotal.objects.all().delete()
    out = StringIO()

    call_command("backfill_onboarding_answers", stdout=out, stderr=StringIO())

    assert "1 sessions: 0 created, 1 updated, 0 unchanged, 0 stale" in out.getvalue()
    assert AnswerSnapshot.objects.get(session_id=session.pk).flags == {AI_QUESTION_FLAG: True}
    assert totals_drift() == []  # the arm totals followed the snapshot


def test_the_totals_check_reports_and_repairs_drift_in_the_arm_totals(db):
    completed_with_flag(False)
    AnswerArmTotal.objects.filter(step="profile", question="role").update(count=5)
    with pytest.raises(CommandError):
        call_command("check_onboarding_totals", stdout=StringIO())
    out = StringIO()
    call_command("check_onboarding_totals", "--repair", stdout=out)
    assert f"[{AI_QUESTION_FLAG}=off] profile.role=engineering: stored 5, expected 1" in out.getvalue()
    assert totals_drift() == []


# --- totals?flag=&arm= -------------------------------------------------------------------------


def test_totals_split_by_arm_count_each_arms_answers(staff):
    for on, role in ((True, "design"), (True, "design"), (False, "data")):
        completed_with_flag(on, role=role)
    on = staff.get(TOTALS, {"flag": AI_QUESTION_FLAG, "arm": "on", "question": "role"}).json()["results"]
    off = staff.get(TOTALS, {"flag": AI_QUESTION_FLAG, "arm": "off", "question": "role"}).json()["results"]
    everyone = staff.get(TOTALS, {"question": "role"}).json()["results"]
    assert on == [{"step": "profile", "question": "role", "answer": "design", "count": 2}]
    assert off == [{"step": "profile", "question": "role", "answer": "data", "count": 1}]
    assert sorted((r["answer"], r["count"]) for r in everyone) == [("data", 1), ("design", 2)]
    ai = staff.get(TOTALS, {"flag": AI_QUESTION_FLAG, "arm": "on", "step": "workProfile", "question": "aiUsage"})
    assert ai.json()["results"] == [{"step": "work-profile", "question": "ai_usage", "answer": "weekly", "count": 2}]


@pytest.mark.parametrize(
    "params, param",
    [
        ({"flag": "no-such-flag", "arm": "on"}, "flag"),
        ({"flag": AI_QUESTION_FLAG, "arm": "maybe"}, "arm"),
        ({"flag": AI_QUESTION_FLAG}, "arm"),
        ({"arm": "on"}, "flag"),
    ],
)
def test_totals_refuse_a_bad_flag_or_arm_with_400(staff, params, param):
    response = staff.get(TOTALS, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter" and response.json()["param"] == param


# --- funnel?flag= ------------------------------------------------------------------------------


@pytest.fixture
def experiment(db):
    """Eleven sessions that decided the AI question: six on (3 completed), five off (2 completed)."""
    for _ in range(3):
        CompletedSessionFactory(flags_on=ON)
    OnboardingSessionFactory(done_steps=("profile", "work-profile"), flags_on=ON)
    OnboardingSessionFactory(done_steps=("profile", "work-profile"), flags_on=ON)
    OnboardingSessionFactory(done_steps=("profile", "work-profile", "invites"), skipped=("tools",), flags_on=ON)
    for _ in range(2):
        CompletedSessionFactory()
    for _ in range(3):
        OnboardingSessionFactory(done_steps=("profile",))


def test_the_funnel_arms_add_up_to_the_unsplit_funnel(staff, experiment):
    whole = staff.get(FUNNEL).json()
    response = staff.get(FUNNEL, {"flag": AI_QUESTION_FLAG})
    assert response.status_code == 200
    split = response.json()
    assert split["flag"] == AI_QUESTION_FLAG
    on, off = split["arms"]
    assert (on["arm"], on["sessions"], on["completed"]) == ("on", 6, 3)
    assert (off["arm"], off["sessions"], off["completed"]) == ("off", 5, 2)
    assert on["sessions"] + off["sessions"] == whole["sessions"] == 11
    for both, a, b in zip(whole["steps"], on["steps"], off["steps"], strict=False):
        assert both["step"] == a["step"] == b["step"]
        for count in ("reached", "completed", "skipped", "dropped"):
            assert a[count] + b[count] == both[count], (both["step"], count)
    assert on["completion_rate"] == 0.5 and off["completion_rate"] == 0.4
    assert split["completion_rate_difference"] == pytest.approx(0.1)
    assert split["p_value"] == pytest.approx(two_proportion_p_value(3, 6, 2, 5))


def test_sessions_that_never_decided_the_flag_are_in_neither_arm(staff, experiment):
    legacy = OnboardingSessionFactory(done_steps=("profile",))
    legacy.data.pop("flags")
    legacy.save()
    split = staff.get(FUNNEL, {"flag": AI_QUESTION_FLAG}).json()
    assert [arm["sessions"] for arm in split["arms"]] == [6, 5]
    assert staff.get(FUNNEL).json()["sessions"] == 12


def test_the_p_value_matches_a_hand_computed_example():
    # 60 of 100 completed with the flag on, 45 of 100 off. Pooled rate 105/200 = 0.525;
    # standard error sqrt(0.525 * 0.475 * (1/100 + 1/100)) = 0.070622; z = 0.15 / 0.070622 = 2.1240;
    # from the normal table, Φ(2.12) = 0.98300 and Φ(2.13) = 0.98341, so Φ(2.124) ≈ 0.98316 and
    # the two-sided p-value is 2 * (1 − 0.98316) ≈ 0.0337: significant at 5%.
    assert two_proportion_p_value(60, 100, 45, 100) == pytest.approx(0.0337, abs=2e-4)
    assert two_proportion_p_value(45, 100, 60, 100) == two_proportion_p_value(60, 100, 45, 100)  # two-sided
    assert two_proportion_p_value(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p_value(10, 10, 7, 7) == 1.0  # everybody completed: nothing to tell apart
    assert two_proportion_p_value(3, 6, 0, 0) is None


def test_the_funnel_with_an_empty_arm_has_no_difference_or_p_value(staff):
    CompletedSessionFactory()
    body = staff.get(FUNNEL, {"flag": AI_QUESTION_FLAG}).json()
    assert [arm["sessions"] for arm in body["arms"]] == [0, 1]
    assert body["arms"][0]["completion_rate"] is None
    assert body["completion_rate_difference"] is None and body["p_value"] is None


def test_the_funnel_refuses_a_flag_onboarding_does_not_use(staff):
    response = staff.get(FUNNEL, {"flag": "dark-mode"})
    assert response.status_code == 400 and response.json()["param"] == "flag"


def test_the_admin_funnel_page_shows_the_arms_side_by_side_with_a_sentence_on_significance(staff, experiment):
    response = staff.get(reverse("admin:onboarding_funnel"), {"flag": AI_QUESTION_FLAG})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="onboarding-ai-question" selected>' in html
    assert html.count('class="onb-funnel-arm"') == 2 and html.count('<svg role="img"') == 2
    assert "Flag on" in html and "Flag off" in html
    assert "Sample size: <strong>6</strong> sessions" in html and "Sample size: <strong>5</strong> sessions" in html
    p_value = two_proportion_p_value(3, 6, 2, 5)
    assert (
        f"50.0% of the sessions with the flag on completed onboarding, 40.0% with it off (+10.0 points). "
        f"The difference is not statistically significant at the 5% level (p = {p_value:.3g})"
    ) in html


def test_the_admin_funnel_page_says_when_the_difference_is_significant(staff):
    for _ in range(12):  # 12 of 12 completed with the flag on, 0 of 12 off: z = 4.90
        CompletedSessionFactory(flags_on=ON)
        OnboardingSessionFactory(done_steps=("profile",))
    html = staff.get(reverse("admin:onboarding_funnel"), {"flag": AI_QUESTION_FLAG}).content.decode()
    assert "The difference is statistically significant at the 5% level (p = 9.63e-07)" in html
