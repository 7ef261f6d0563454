"""The server-rendered wizard: rendering, saving through the services, resuming, stale tabs, errors."""

import re

import pytest
from django.db import DatabaseError
from django.test import Client

from onboarding import services
from onboarding.manifest import STEP_KEYS, STEPS, session_manifest
from onboarding.models import OnboardingEvent, OnboardingSession, Workspace

from .conftest import PASSWORD
from .factories import OnboardingSessionFactory, UserFactory, session_data, valid_answers
from .wizard_client import MANAGEMENT_FIELD, revision_on, step_form_data, submit_step

pytestmark = pytest.mark.django_db


def _user_at(step: str, **session_kwargs):
    """Return a user whose session has every step before ``step`` done."""
    done = STEP_KEYS[: STEP_KEYS.index(step)]
    return OnboardingSessionFactory(done_steps=done, **session_kwargs).user


def _buttons(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", label).strip() for label in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.key)
def test_each_step_renders_its_labels_progress_and_buttons(client, step):
    client.force_login(_user_at(step.key))

    response = client.get(f"/o/{step.key}/")

    assert response.status_code == 200
    html = response.content.decode()
    number = STEP_KEYS.index(step.key) + 1
    assert f"Step {number} of 6" in html
    assert f"<h1>{step.title}</h1>" in html
    for name, field in session_manifest({}).get_step(step.key).form_class.base_fields.items():  # no flag on
        assert re.search(rf"<(label|legend)[^>]*>{re.escape(str(field.label))}</(label|legend)>", html), name
        assert f'name="{step.key}-{name}"' in html
    buttons = _buttons(html)
    assert ("Finish" if step.key == "workspace" else "Continue") in buttons
    assert ("Continue" in buttons) == (step.key != "workspace")
    assert ("Skip" in buttons) == (step.key in ("tools", "invites"))
    assert ("Back" in buttons) == (step.key != "profile")


def test_a_text_field_label_points_at_its_input(client, new_user):
    client.force_login(new_user)

    html = client.get("/o/profile/").content.decode()

    assert '<label for="id_profile-full_name" class="required">Full name</label>' in html
    assert 'id="id_profile-full_name"' in html


def test_a_submit_saves_the_step_at_once(client, new_user):
    client.force_login(new_user)

    response = submit_step(client, "profile", valid_answers("profile"))

    assert response.status_code == 302
    assert response["Location"] == "/o/work-profile/"
    session = OnboardingSession.objects.get(user=new_user)
    assert session.answers["profile"] == valid_answers("profile")
    assert session.completed_steps == ["profile"]
    assert OnboardingEvent.objects.filter(session=session, name="step_saved", source="wizard", step="profile").exists()


def test_invalid_answers_are_shown_inline_and_nothing_is_saved(client, new_user):
    client.force_login(new_user)

    response = submit_step(client, "profile", {"full_name": "", "role": "astronaut"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert '<ul class="errorlist" id="id_profile-full_name_error">' in html
    assert 'aria-describedby="id_profile-full_name_error"' in html
    assert 'aria-invalid="true"' in html
    assert "Enter your full name" in html
    assert "Select a role from the list" in html
    session = OnboardingSession.objects.get(user=new_user)
    assert session.answers == {}
    assert session.completed_steps == []


def test_a_fresh_login_resumes_at_the_first_outstanding_step_with_answers_filled_in(client, new_user):
    client.force_login(new_user)
    submit_step(client, "profile", valid_answers("profile", full_name="Ada Byron"))
    submit_step(client, "work-profile", valid_answers("work-profile"))

    other_browser = Client()
    # Through the login page, as a person would (django-axes needs the request to count attempts).
    other_browser.post("/accounts/login/", {"username": new_user.username, "password": PASSWORD})
    landing = other_browser.get("/o/")
    profile_page = other_browser.get("/o/profile/").content.decode()
    work_page = other_browser.get("/o/work-profile/").content.decode()

    assert landing["Location"] == "/o/tools/"
    assert 'value="Ada Byron"' in profile_page
    assert '<option value="engineering" selected>' in profile_page
    assert re.search(r'value="2-10"[^>]*checked', work_page)
    assert re.search(r'name="work-profile-functions" value="data"[^>]*checked', work_page)


def test_a_draft_overlays_the_saved_answers_when_prefilling(client, halfway_session):
    session = services.session_save_draft(
        user=halfway_session.user,
        step="profile",
        answers={"full_name": "Draft Name"},
        revision=halfway_session.revision,
        source="api",
    )
    client.force_login(session.user)

    html = client.get("/o/profile/").content.decode()

    assert 'value="Draft Name"' in html


def test_back_reopens_the_previous_step(client, halfway_user):
    client.force_login(halfway_user)

    response = submit_step(client, "tools", action="back")

    assert response["Location"] == "/o/work-profile/"
    session = OnboardingSession.objects.get(user=halfway_user)
    assert session.completed_steps == ["profile"]
    assert session.current_step == "work-profile"
    assert session.answers["work-profile"] == valid_answers("work-profile")  # kept, to be reviewed


def test_skip_marks_a_skippable_step_skipped(client, halfway_user):
    client.force_login(halfway_user)

    response = submit_step(client, "tools", {"tools": ["github"]}, action="skip")

    assert response["Location"] == "/o/invites/"
    session = OnboardingSession.objects.get(user=halfway_user)
    assert session.skipped_steps == ["tools"]
    assert "tools" not in session.answers


def test_skip_is_refused_on_a_required_step(client, new_user):
    client.force_login(new_user)

    response = submit_step(client, "profile", valid_answers("profile"), action="skip")

    assert response.status_code == 200
    assert "can&#x27;t be skipped" in response.content.decode()
    session = OnboardingSession.objects.get(user=new_user)
    assert session.skipped_steps == [] and session.completed_steps == []


def test_a_stale_tab_submit_is_not_saved_names_the_changed_field_and_keeps_what_was_typed(client, new_user):
    client.force_login(new_user)
    stale_revision = revision_on(client.get("/o/profile/"))
    submit_step(client, "profile", valid_answers("profile", full_name="Saved Elsewhere"))  # the other tab
    current_revision = OnboardingSession.objects.get(user=new_user).revision

    response = client.post(
        "/o/profile/",
        step_form_data(
            "profile",
            valid_answers("profile", full_name="Typed Here"),
            revision=stale_revision,
        ),
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "changed somewhere else" in html
    assert "<legend>Full name</legend>" in html and "Take the one saved elsewhere: Saved Elsewhere" in html
    assert 'value="Typed Here"' in html
    assert revision_on(response) == current_revision
    session = OnboardingSession.objects.get(user=new_user)
    assert session.answers["profile"]["full_name"] == "Saved Elsewhere"
    assert OnboardingEvent.objects.filter(session=session, name="revision_conflict").count() == 1


def test_a_stale_submit_can_be_sent_again_with_the_new_revision(client, new_user):
    client.force_login(new_user)
    stale_revision = revision_on(client.get("/o/profile/"))
    submit_step(client, "profile", valid_answers("profile", full_name="Saved Elsewhere"))
    conflict = client.post(
        "/o/profile/",
        step_form_data("profile", valid_answers("profile", full_name="Typed Here"), revision=stale_revision),
    )

    again = client.post(
        "/o/profile/",
        step_form_data("profile", valid_answers("profile", full_name="Typed Here"), revision=revision_on(conflict)),
    )

    assert again.status_code == 302
    assert OnboardingSession.objects.get(user=new_user).answers["profile"]["full_name"] == "Typed Here"


def test_finish_completes_and_lands_on_the_dashboard(client):
    user = _user_at("workspace")
    client.force_login(user)

    response = submit_step(client, "workspace", valid_answers("workspace", workspace_name="Difference Engines"))

    assert response["Location"] == "/dashboard/"
    session = OnboardingSession.objects.get(user=user)
    assert session.state == "completed"
    assert "Difference Engines" in client.get("/dashboard/").content.decode()


def test_finish_with_a_taken_workspace_slug_stays_on_the_workspace_step_with_the_message_inline(client):
    Workspace.objects.create(name="Taken Name", slug="taken-name")
    user = _user_at("workspace")
    client.force_login(user)

    response = submit_step(client, "workspace", valid_answers("workspace", workspace_name="Taken  name"))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        r'id="id_workspace-workspace_name_error"><li>That workspace name is taken: choose another name</li>', html
    )
    assert 'value="Taken  name"' in html
    assert OnboardingSession.objects.get(user=user).state == "in_progress"


def test_finish_routes_to_the_blocking_step_with_the_message_inline(client):
    broken = session_data(done_steps=STEP_KEYS[:-1], answers={"profile": {"full_name": "", "role": "engineering"}})
    user = OnboardingSessionFactory(data=broken).user
    client.force_login(user)

    response = submit_step(client, "workspace", valid_answers("workspace"))

    assert response["Location"] == "/o/profile/"
    html = client.get("/o/profile/").content.decode()
    assert re.search(r'id="id_profile-full_name_error"><li>Enter your full name</li>', html)
    assert OnboardingSession.objects.get(user=user).state == "in_progress"


def test_user_text_is_escaped_on_the_page_that_renders_it(client, new_user):
    client.force_login(new_user)
    submit_step(client, "profile", valid_answers("profile", full_name="<script>alert(1)</script>"))

    html = client.get("/o/profile/").content.decode()

    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert "<script>alert(1)" not in html


def test_a_wizard_post_without_a_csrf_token_is_refused(new_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(new_user)
    revision = revision_on(browser.get("/o/profile/"))

    response = browser.post("/o/profile/", step_form_data("profile", valid_answers("profile"), revision=revision))

    assert response.status_code == 403
    assert OnboardingSession.objects.get(user=new_user).completed_steps == []


def test_a_database_error_on_save_shows_a_message_and_keeps_what_was_saved(client, halfway_user, monkeypatch):
    client.force_login(halfway_user)
    before = OnboardingSession.objects.get(user=halfway_user)

    def failing_save(**kwargs):
        raise DatabaseError("could not serialize access")

    monkeypatch.setattr(services, "session_save_step", failing_save)
    response = submit_step(client, "tools", {"tools": ["github"], "other_tools": ["Abacus"]})

    assert response.status_code == 503
    html = response.content.decode()
    assert "We couldn't save this step just now." in html
    assert 'value="Abacus"' in html
    assert re.search(r'value="github"[^>]*checked', html)
    after = OnboardingSession.objects.get(user=halfway_user)
    assert after.revision == before.revision
    assert after.answers == before.answers


def test_the_version_reset_notice_is_shown(client):
    data = {**session_data(done_steps=("profile",)), "notice": "Onboarding has changed since you started."}
    user = OnboardingSessionFactory(data=data).user
    client.force_login(user)

    html = client.get("/o/work-profile/").content.decode()

    assert '<div class="notice" role="status">Onboarding has changed since you started.</div>' in html


def test_a_submit_without_the_management_form_is_refused(client, new_user):
    client.force_login(new_user)
    revision = revision_on(client.get("/o/profile/"))
    data = step_form_data("profile", valid_answers("profile"), revision=revision)
    del data[MANAGEMENT_FIELD]

    response = client.post("/o/profile/", data)

    assert response.status_code == 400
    assert OnboardingSession.objects.get(user=new_user).completed_steps == []


def test_an_unknown_step_redirects_to_the_first_outstanding_step(client, halfway_user):
    client.force_login(halfway_user)

    response = client.get("/o/hobbies/")

    assert response["Location"] == "/o/tools/"


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/o/profile/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/o/profile/")


def test_a_required_drop_down_does_not_answer_for_the_user(client, new_user):
    client.force_login(new_user)

    html = client.get("/o/profile/").content.decode()

    assert '<option value="" selected>Choose…</option>' in html


def test_the_wizard_records_its_source(client, new_user):
    client.force_login(new_user)
    submit_step(client, "profile", valid_answers("profile"))

    sources = set(OnboardingEvent.objects.filter(user_id=new_user.pk).values_list("source", flat=True))

    assert sources == {"wizard"}


def test_another_users_session_is_never_touched(client, new_user):
    other = UserFactory(username="someone-else")
    other_session = services.session_get_or_start(user=other, source="api")
    client.force_login(new_user)

    submit_step(client, "profile", valid_answers("profile"), revision=other_session.revision)

    other_session.refresh_from_db()
    assert other_session.answers == {}


def test_a_version_bump_resets_the_session_shows_the_notice_and_keeps_valid_answers(client, halfway_user, settings):
    settings.ONBOARDING_VERSION = 2
    client.force_login(halfway_user)

    landing = client.get("/o/")
    html = client.get("/o/profile/").content.decode()

    assert landing["Location"] == "/o/profile/"
    assert "Onboarding has changed since you started." in html
    assert 'value="Ada Lovelace"' in html
    session = OnboardingSession.objects.get(user=halfway_user)
    assert session.version == 2 and session.completed_steps == []


def test_a_stale_back_is_not_applied_and_shows_the_saved_answers(client, new_user):
    client.force_login(new_user)
    submit_step(client, "profile", valid_answers("profile"))
    stale_revision = revision_on(client.get("/o/work-profile/"))
    submit_step(client, "work-profile", valid_answers("work-profile"))  # another tab moves on

    response = client.post("/o/work-profile/", step_form_data("work-profile", revision=stale_revision, action="back"))

    assert response.status_code == 409
    assert re.search(r'value="2-10"[^>]*checked', response.content.decode())
    assert OnboardingSession.objects.get(user=new_user).completed_steps == ["profile", "work-profile"]


def test_a_submit_without_a_revision_is_not_saved_and_asks_to_submit_again(client, new_user):
    client.force_login(new_user)
    client.get("/o/profile/")

    response = client.post(
        "/o/profile/", step_form_data("profile", valid_answers("profile", full_name="Kept"), revision="")
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "Please submit this step again" in html
    assert 'value="Kept"' in html
    assert revision_on(response) == OnboardingSession.objects.get(user=new_user).revision
    assert OnboardingSession.objects.get(user=new_user).answers == {}
