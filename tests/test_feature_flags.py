"""Cohort-scoped feature flags: decided once per session, by user, and kept with it.

The first experiment: work-profile's "How do you use AI today?" (``ai_usage``) behind the waffle
flag ``onboarding-ai-question``.
"""

import dataclasses
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from waffle.models import Flag

from adminapi.selectors import onboarding_funnel
from onboarding import manifest, services
from onboarding.flag_decisions import flag_bucket, flags_decide
from onboarding.manifest import AI_QUESTION_FLAG, ANSWER_SCHEMA_VERSION, MANIFEST_FLAGS
from onboarding.models import OnboardingEvent, OnboardingSession, OutboxMessage
from onboarding_project.celery import app

from .aggregation_support import celery_settings
from .conftest import complete_through_services
from .factories import OnboardingSessionFactory, StaffFactory, UserFactory, valid_answers
from .wizard_client import revision_on, step_form_data, submit_step

pytestmark = pytest.mark.django_db

PROGRESS = "/api/users/me/onboarding-progress"
MANIFEST = "/api/onboarding/manifest"
AI_LABEL = "How do you use AI today?"


def flag_set(**fields) -> Flag:
    """Change the AI question's waffle flag as staff would (and drop waffle's cached copy at once)."""
    flag, _ = Flag.objects.update_or_create(name=AI_QUESTION_FLAG, defaults=fields)
    flag.flush()  # waffle flushes on commit; a test's transaction never commits
    return flag


def work_profile_with_ai(**overrides) -> dict:
    return valid_answers("work-profile", **{"ai_usage": "weekly", **overrides})


def at_work_profile(client) -> dict:
    """Save the profile step through the API and return the progress."""
    revision = client.get(PROGRESS).json()["revision"]
    response = client.patch(
        PROGRESS, {"revision": revision, "step": "profile", "answers": valid_answers("profile")}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def _user_in_bucket(inside: bool, percent: float = 50):
    """Return a new user whose stable bucket for the AI flag is inside (or outside) ``percent``."""
    for n in range(200):
        user = UserFactory(username=f"bucket{n}")
        if (flag_bucket(AI_QUESTION_FLAG, user.pk) < percent) == inside:
            return user
    raise AssertionError("no user in that bucket among 200")


# --- Deciding ------------------------------------------------------------------------------------


def test_migrate_creates_the_manifests_flags_off_for_everyone(db):
    flag = Flag.objects.get(name=AI_QUESTION_FLAG)
    assert MANIFEST_FLAGS == (AI_QUESTION_FLAG,)
    assert flag.everyone is None and flag.percent is None and not flag.superusers
    assert "work-profile.ai_usage" in flag.note
    assert flags_decide(user=StaffFactory()) == {AI_QUESTION_FLAG: False}


def test_percent_50_over_2000_users_puts_half_of_them_in_and_decides_the_same_again(django_user_model):
    flag_set(percent=50)
    users = django_user_model.objects.bulk_create(
        django_user_model(username=f"p{n}", password="!") for n in range(2000)
    )
    decided = [flags_decide(user=user)[AI_QUESTION_FLAG] for user in users]
    assert 0.46 <= sum(decided) / len(users) <= 0.54
    assert [flags_decide(user=user)[AI_QUESTION_FLAG] for user in users] == decided  # no randomness, no cookie


def test_raising_the_percentage_only_adds_users(django_user_model):
    users = django_user_model.objects.bulk_create(django_user_model(username=f"r{n}", password="!") for n in range(300))
    flag_set(percent=10)
    at_ten = {user.pk for user in users if flags_decide(user=user)[AI_QUESTION_FLAG]}
    flag_set(percent=40)
    at_forty = {user.pk for user in users if flags_decide(user=user)[AI_QUESTION_FLAG]}
    assert at_ten < at_forty


def test_waffles_everyone_users_groups_and_staff_rules_are_honoured(db):
    plain, listed, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    grouped = UserFactory()
    beta = Group.objects.create(name="beta")
    grouped.groups.add(beta)
    flag = flag_set(staff=True)
    flag.users.add(listed)
    flag.groups.add(beta)
    flag.flush()
    assert [flags_decide(user=u)[AI_QUESTION_FLAG] for u in (plain, listed, staff, grouped)] == [
        False,
        True,
        True,
        True,
    ]
    flag_set(everyone=False)  # "everyone: no" overrides every other rule, as in waffle
    assert not any(flags_decide(user=u)[AI_QUESTION_FLAG] for u in (plain, listed, staff, grouped))
    flag_set(everyone=True)
    assert all(flags_decide(user=u)[AI_QUESTION_FLAG] for u in (plain, listed, staff, grouped))


def test_a_session_decides_every_manifest_flag_once_when_it_starts(new_user):
    flag_set(everyone=True)
    session = services.session_get_or_start(user=new_user, source="api")
    assert session.data["flags"] == {AI_QUESTION_FLAG: True}
    flag_set(everyone=False)
    again = services.session_get_or_start(user=new_user, source="api")
    assert again.flags == {AI_QUESTION_FLAG: True}


# --- Every device, every replay ------------------------------------------------------------------


def test_a_user_bucketed_in_is_in_on_every_device_and_in_the_replay_of_an_offline_save(as_user, client):
    flag_set(percent=50)
    user = _user_in_bucket(inside=True)
    phone = as_user(user)  # an SPA with a bearer token
    at_work_profile(phone)
    client.force_login(user)  # a laptop's browser
    assert AI_LABEL in client.get("/o/work-profile/").content.decode()
    assert phone.get(MANIFEST).json()["flags"] == {AI_QUESTION_FLAG: True}
    offline_revision = phone.get(PROGRESS).json()["revision"]  # the phone goes offline here

    flag_set(everyone=False)  # staff roll the question back meanwhile: new sessions only
    replay = phone.patch(
        PROGRESS,
        {"revision": offline_revision, "step": "work-profile", "answers": work_profile_with_ai()},
        format="json",
    )

    assert replay.status_code == 200, replay.json()
    assert replay.json()["answers"]["work-profile"]["ai_usage"] == "weekly"
    assert AI_LABEL in client.get("/o/work-profile/").content.decode()
    assert flags_decide(user=_user_in_bucket(inside=True))[AI_QUESTION_FLAG] is False  # a new user is out now


def test_a_restarted_session_buckets_the_user_the_same_way(db):
    flag_set(percent=50)
    inside, outside = _user_in_bucket(inside=True), _user_in_bucket(inside=False)
    for user, expected in ((inside, True), (outside, False)):
        first = services.session_get_or_start(user=user, source="api")
        fresh = services.session_restart(user=user, source="admin")
        assert first.flags == fresh.flags == {AI_QUESTION_FLAG: expected}


def test_a_flag_flipped_mid_session_changes_nothing_for_that_session(as_user, client, new_user):
    flag_set(everyone=True)
    api = as_user(new_user)
    at_work_profile(api)
    etag = api.get(MANIFEST)["ETag"]

    flag_set(everyone=False)

    manifest = api.get(MANIFEST, HTTP_IF_NONE_MATCH=etag)
    assert manifest.status_code == 304  # the offline client's cached manifest is still the session's
    client.force_login(new_user)
    page = client.get("/o/work-profile/")
    assert AI_LABEL in page.content.decode()
    response = submit_step(client, "work-profile", work_profile_with_ai(ai_usage="daily"))
    assert response.status_code == 302
    session = complete_through_rest_of_steps(new_user)
    assert session.is_completed and session.flags == {AI_QUESTION_FLAG: True}
    assert session.answers["work-profile"]["ai_usage"] == "daily"
    message = OutboxMessage.objects.get(session=session).payload
    assert message["flags"] == {AI_QUESTION_FLAG: True}
    assert message["answer_schema_version"] == ANSWER_SCHEMA_VERSION  # flipping a flag changes no schema


def complete_through_rest_of_steps(user):
    session = services.session_get_or_start(user=user, source="api")
    for step in ("tools", "invites", "preferences", "workspace"):
        session = services.session_save_step(
            user=user, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    return services.session_complete(user=user, revision=session.revision, source="api")


def test_a_session_started_before_the_flag_existed_keeps_seeing_no_ai_question(as_user):
    legacy = OnboardingSessionFactory(done_steps=("profile",))
    legacy.data.pop("flags")
    legacy.save()
    flag_set(everyone=True)
    body = as_user(legacy.user).get(MANIFEST).json()
    assert body["flags"] == {AI_QUESTION_FLAG: False}
    assert "ai_usage" not in [f["name"] for f in body["steps"][1]["fields"]]


# --- The session's manifest: validation, wizard, API ---------------------------------------------


def test_an_ai_usage_answer_from_a_session_without_the_flag_is_a_400_unknown_field(as_user, new_user):
    api = as_user(new_user)
    progress = at_work_profile(api)
    for action in ("save", "draft"):
        response = api.patch(
            PROGRESS,
            {
                "revision": progress["revision"],
                "step": "work-profile",
                "action": action,
                "answers": work_profile_with_ai(),
            },
            format="json",
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_failed"
        assert {"step": "work-profile", "field": "ai_usage", "code": "unknown_field"} == {
            k: body["issues"][0][k] for k in ("step", "field", "code")
        }
    session = OnboardingSession.objects.get(user=new_user)
    assert "work-profile" not in session.answers and session.data["drafts"] == {}


def test_a_session_with_the_flag_answers_the_ai_question_optionally(as_user, new_user):
    flag_set(everyone=True)
    api = as_user(new_user)
    progress = at_work_profile(api)
    skipped = api.patch(
        PROGRESS,
        {"revision": progress["revision"], "step": "work-profile", "answers": valid_answers("work-profile")},
        format="json",
    )
    assert skipped.status_code == 200 and skipped.json()["answers"]["work-profile"]["ai_usage"] == ""
    bad = api.patch(
        PROGRESS,
        {
            "revision": skipped.json()["revision"],
            "step": "work-profile",
            "answers": work_profile_with_ai(ai_usage="hourly"),
        },
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["issues"][0]["code"] == "invalid_choice"


def test_the_wizard_renders_the_ai_question_only_for_sessions_with_the_flag(client):
    off = OnboardingSessionFactory(done_steps=("profile",))
    on = OnboardingSessionFactory(done_steps=("profile",), flags_on=(AI_QUESTION_FLAG,))
    client.force_login(off.user)
    assert AI_LABEL not in client.get("/o/work-profile/").content.decode()
    client.force_login(on.user)
    html = client.get("/o/work-profile/").content.decode()
    assert f"<legend>{AI_LABEL}</legend>" in html and 'value="exploring"' in html


def test_a_wizard_post_of_the_ai_question_without_the_flag_stores_nothing_of_it(client):
    session = OnboardingSessionFactory(done_steps=("profile",))
    client.force_login(session.user)
    page = client.get("/o/work-profile/")
    data = {"work-profile-ai_usage": "daily"}
    response = client.post(
        "/o/work-profile/",
        {**step_form_data("work-profile", valid_answers("work-profile"), revision=revision_on(page)), **data},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert "ai_usage" not in session.answers["work-profile"]


def test_the_manifest_describes_the_callers_session_with_its_flags_and_an_etag(as_user):
    off, on = UserFactory(), UserFactory()
    services.session_get_or_start(user=off, source="api")
    flag_set(everyone=True)
    services.session_get_or_start(user=on, source="api")

    responses = {user: as_user(user).get(MANIFEST) for user in (off, on)}

    bodies = {user: response.json() for user, response in responses.items()}
    assert bodies[off]["flags"] == {AI_QUESTION_FLAG: False} and bodies[on]["flags"] == {AI_QUESTION_FLAG: True}
    fields = {user: [f["name"] for f in body["steps"][1]["fields"]] for user, body in bodies.items()}
    assert "ai_usage" not in fields[off]
    ai = next(f for f in bodies[on]["steps"][1]["fields"] if f["name"] == "ai_usage")
    assert ai == {
        "name": "ai_usage",
        "label": AI_LABEL,
        "kind": "choice",
        "required": False,
        "help_text": "",
        "max_length": None,
        "max_items": None,
        "default": None,
        "flag": AI_QUESTION_FLAG,
        "widget": "radio",
        "choices": [
            {"value": "none", "label": "I don't use AI"},
            {"value": "exploring", "label": "Exploring it"},
            {"value": "weekly", "label": "Weekly"},
            {"value": "daily", "label": "Daily"},
        ],
    }
    assert bodies[on]["answer_schema_version"] == bodies[off]["answer_schema_version"] == ANSWER_SCHEMA_VERSION
    etags = {user: response["ETag"] for user, response in responses.items()}
    assert etags[off] != etags[on]
    assert as_user(on).get(MANIFEST, HTTP_IF_NONE_MATCH=etags[on]).status_code == 304
    assert as_user(on).get(MANIFEST, HTTP_IF_NONE_MATCH=etags[off]).status_code == 200


def test_completion_checks_the_sessions_own_fields(new_user):
    flag_set(everyone=True)
    session = services.session_get_or_start(user=new_user, source="api")
    session = services.session_save_step(
        user=new_user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    session = services.session_save_step(
        user=new_user, step="work-profile", answers=work_profile_with_ai(), revision=session.revision, source="api"
    )
    # An answer that has since become invalid (stored by hand here) blocks completion on that step.
    session.data["answers"]["work-profile"]["ai_usage"] = "hourly"
    OnboardingSession.objects.filter(pk=session.pk).update(data=session.data)
    session.refresh_from_db()
    issues = services.completion_issues(session, user=new_user)
    assert {"step": "work-profile", "field": "ai_usage", "code": "invalid_choice"} in [
        {k: i[k] for k in ("step", "field", "code")} for i in issues
    ]


# --- Re-deciding in-flight sessions --------------------------------------------------------------


@pytest.fixture
def in_flight():
    """Two sessions in progress that answered work-profile with the AI question on, and a completed one."""
    flag_set(everyone=True)
    sessions = []
    for name in ("inflight1", "inflight2"):
        user = UserFactory(username=name)
        session = services.session_get_or_start(user=user, source="api")
        for step, answers in (("profile", valid_answers("profile")), ("work-profile", work_profile_with_ai())):
            session = services.session_save_step(
                user=user, step=step, answers=answers, revision=session.revision, source="api"
            )
        sessions.append(session)
    done = complete_through_services(UserFactory(username="finished"))
    return sessions, done


def test_turning_a_flag_off_changes_new_sessions_only(in_flight, new_user):
    (first, _second), done = in_flight
    flag_set(everyone=False)
    assert services.session_get_or_start(user=new_user, source="api").flags == {AI_QUESTION_FLAG: False}
    first.refresh_from_db()
    assert first.flags == {AI_QUESTION_FLAG: True} and first.answers["work-profile"]["ai_usage"] == "weekly"


def test_redeciding_a_flag_resets_changed_sessions_through_the_reset_notice(in_flight, client):
    (first, second), done = in_flight
    flag = flag_set(everyone=None)
    flag.users.add(second.user)  # the second user stays in; everybody else is out now
    flag.flush()
    out = io.StringIO()

    call_command("redecide_onboarding_flag", AI_QUESTION_FLAG, stdout=out)

    assert (
        out.getvalue().strip() == f"{AI_QUESTION_FLAG}: 2 sessions in progress: 1 reset (decision changed), 1 unchanged"
    )
    first.refresh_from_db()
    assert first.flags == {AI_QUESTION_FLAG: False}
    assert first.answers["profile"] == valid_answers("profile")  # still valid: kept
    assert "ai_usage" not in first.answers["work-profile"]  # outside the session's manifest now: dropped
    assert first.answers["work-profile"]["team_size"] == "2-10"
    assert first.completed_steps == [] and first.current_step == "profile"
    reset = OnboardingEvent.objects.get(session=first, name="reset")
    assert reset.source == "admin" and reset.detail["flags_changed"] == {AI_QUESTION_FLAG: False}
    client.force_login(first.user)
    page = client.get("/o/profile/").content.decode()
    assert "Some onboarding questions have changed for you since you started" in page
    second_revision = second.revision
    second.refresh_from_db()
    assert (
        second.revision == second_revision and not OnboardingEvent.objects.filter(session=second, name="reset").exists()
    )
    done.refresh_from_db()
    assert done.flags == {AI_QUESTION_FLAG: True}  # completed sessions are history: never re-decided


def test_the_flag_admin_action_redecides_in_flight_sessions(in_flight, client):
    (first, second), _done = in_flight
    flag = flag_set(everyone=False)
    client.force_login(StaffFactory())
    with celery_settings(app, task_always_eager=True):  # tasks in-process, as without REDIS_URL (make run)
        response = client.post(
            reverse("admin:waffle_flag_changelist"),
            {
                "action": "redecide_in_flight",
                "_selected_action": [str(flag.pk)],
            },
            follow=True,
        )
    assert response.status_code == 200
    assert "Re-deciding onboarding-ai-question for 2 sessions in progress" in response.content.decode()
    for session in (first, second):
        session.refresh_from_db()
        assert session.flags == {AI_QUESTION_FLAG: False} and session.data["notice"]


def test_the_redecide_command_refuses_a_flag_onboarding_does_not_use(db):
    with pytest.raises(Exception, match="not a flag the onboarding manifest uses"):
        call_command("redecide_onboarding_flag", "some-other-flag")


def test_a_version_reset_keeps_decided_flags_and_decides_the_ones_a_session_never_had(settings):
    flag_set(everyone=True)
    decided = OnboardingSessionFactory(done_steps=("profile",))  # decided off when it started
    legacy = OnboardingSessionFactory(done_steps=("profile",))
    legacy.data.pop("flags")
    legacy.save()
    settings.ONBOARDING_VERSION = 2

    for session in (decided, legacy):
        services.session_get_or_start(user=session.user, source="wizard")
        session.refresh_from_db()

    assert decided.version == legacy.version == 2
    assert decided.flags == {AI_QUESTION_FLAG: False}  # decided once: a new version does not re-decide it
    assert legacy.flags == {AI_QUESTION_FLAG: True}  # never decided: decided now, with the new baseline
    assert OnboardingEvent.objects.get(session=legacy, name="reset").detail["flags_changed"] == {AI_QUESTION_FLAG: True}
    assert "Onboarding has changed since you started" in legacy.data["notice"]


# --- A whole step behind a flag (the manifest allows it; none is flagged yet) -----------------------

TOOLS_FLAG = "onboarding-tools-step"


@pytest.fixture
def tools_behind_a_flag(monkeypatch):
    """The manifest with the tools step behind a flag of its own."""
    flagged = dataclasses.replace(manifest.get_step("tools"), flag=TOOLS_FLAG)
    monkeypatch.setattr(manifest, "STEPS", tuple(flagged if s.key == "tools" else s for s in manifest.STEPS))
    monkeypatch.setattr(manifest, "MANIFEST_FLAGS", (AI_QUESTION_FLAG, TOOLS_FLAG))
    manifest._manifest_with.cache_clear()
    yield
    manifest._manifest_with.cache_clear()


def test_a_step_behind_a_flag_is_left_out_of_the_flow_of_sessions_without_it(tools_behind_a_flag, as_user):
    without = OnboardingSessionFactory(done_steps=("profile",))
    with_it = OnboardingSessionFactory(
        done_steps=("profile",), data={**without.data, "flags": {AI_QUESTION_FLAG: False, TOOLS_FLAG: True}}
    )
    for session, next_step in ((without, "invites"), (with_it, "tools")):
        api = as_user(session.user)
        progress = api.get(PROGRESS).json()
        saved = api.patch(
            PROGRESS,
            {"revision": progress["revision"], "step": "work-profile", "answers": valid_answers("work-profile")},
            format="json",
        ).json()
        assert saved["next_step"] == next_step
        assert ("tools" in [s["key"] for s in saved["steps"]]) == (next_step == "tools")
    steps = {s.key: s for s in onboarding_funnel()}
    assert steps["tools"].reached == 1 and steps["invites"].reached == 1  # each session's own steps
    api = as_user(without.user)
    revision = api.get(PROGRESS).json()["revision"]
    skip = api.patch(PROGRESS, {"revision": revision, "step": "tools", "action": "skip"}, format="json")
    assert skip.status_code == 400 and skip.json()["issues"][0]["code"] == "unknown_step"
    back = api.patch(PROGRESS, {"revision": revision, "step": "invites", "action": "back"}, format="json")
    assert back.json()["current_step"] == "work-profile"  # the step before invites, for this session
