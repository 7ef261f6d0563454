"""Stale-tab conflicts: only the fields that really differ, both values, keep mine or take theirs per field."""

import re

import pytest

from onboarding import services
from onboarding.errors import RevisionConflict
from onboarding.models import OnboardingSession
from onboarding.services.write_protocol import comparable

from .factories import valid_answers
from .wizard_client import revision_on, step_form_data, submit_step

pytestmark = pytest.mark.django_db

URL = "/api/users/me/onboarding-progress"


@pytest.fixture
def stale(client, new_user):
    """A tab opened on the saved profile step, then another tab changed the full name and the role."""
    client.force_login(new_user)
    submit_step(client, "profile", valid_answers("profile"))
    revision = revision_on(client.get("/o/profile/"))
    submit_step(client, "profile", valid_answers("profile", full_name="Saved Elsewhere", role="design"))
    return revision


def _choices(html: str) -> list[str]:
    return re.findall(r'data-conflict-field="([^"]+)"', html)


def _current(user) -> dict:
    return OnboardingSession.objects.get(user=user).answers["profile"]


def _submit_choices(client, stale: str, answers: dict, choices: dict):
    """Submit from the stale tab, then Continue on the conflict page with the choice per field."""
    page = client.post("/o/profile/", step_form_data("profile", answers, revision=stale))
    data = step_form_data("profile", answers, revision=revision_on(page))
    data["conflict_field"] = _choices(page.text)
    data.update({f"resolve-{name}": choice for name, choice in choices.items()})
    return client.post("/o/profile/", data)


def test_a_stale_submit_lists_only_the_fields_whose_values_really_differ(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="design", job_title=" Analyst ")

    response = client.post("/o/profile/", step_form_data("profile", typed, revision=stale))

    assert response.status_code == 409
    assert _choices(response.text) == ["full_name"]  # the role was changed to what was typed here too


def test_the_conflict_shows_both_values_by_label_as_a_choice(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="product")

    html = client.post("/o/profile/", step_form_data("profile", typed, revision=stale)).text

    assert _choices(html) == ["full_name", "role"]
    assert "<legend>Full name</legend>" in html and "<legend>Role</legend>" in html
    assert re.search(r'value="mine"[^>]*required[^>]*>\s*<label[^>]*>Keep mine: Typed Here</label>', html)
    assert re.search(r'value="theirs"[^>]*>\s*<label[^>]*>Take the one saved elsewhere: Saved Elsewhere</label>', html)
    assert "Keep mine: Product" in html and "Take the one saved elsewhere: Design" in html


def test_continue_after_choosing_saves_the_merged_answers_with_the_current_revision(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="product", job_title="Countess")

    response = _submit_choices(client, stale, typed, {"full_name": "theirs", "role": "mine"})

    assert response.status_code == 302
    assert _current(new_user) == {"full_name": "Saved Elsewhere", "role": "product", "job_title": "Countess"}


def test_keeping_mine_for_every_field_saves_what_was_typed(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="product")

    response = _submit_choices(client, stale, typed, {"full_name": "mine", "role": "mine"})

    assert response.status_code == 302
    assert _current(new_user)["full_name"] == "Typed Here"
    assert _current(new_user)["role"] == "product"


def test_continue_without_a_choice_for_every_field_saves_nothing_and_asks_again(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="product")

    response = _submit_choices(client, stale, typed, {"full_name": "theirs"})

    assert response.status_code == 409
    assert "Choose one value for each field below: nothing was saved yet." in response.text
    assert _choices(response.text) == ["full_name", "role"]
    assert re.search(r'value="theirs"[^>]*checked', response.text)  # the choice made is kept
    assert _current(new_user)["full_name"] == "Saved Elsewhere" and _current(new_user)["role"] == "design"


def test_a_choice_made_on_a_page_that_went_stale_again_is_not_saved(client, new_user, stale):
    typed = valid_answers("profile", full_name="Typed Here", role="product")
    page = client.post("/o/profile/", step_form_data("profile", typed, revision=stale))
    session = OnboardingSession.objects.get(user=new_user)
    services.session_save_step(
        user=new_user,
        step="profile",
        answers=valid_answers("profile", full_name="Third"),
        revision=session.revision,
        source="api",
    )
    data = step_form_data("profile", typed, revision=revision_on(page))
    data.update(conflict_field=["full_name", "role"], **{"resolve-full_name": "mine", "resolve-role": "mine"})

    response = client.post("/o/profile/", data)

    assert response.status_code == 409
    assert _current(new_user)["full_name"] == "Third"


def test_a_change_elsewhere_that_was_undone_is_not_a_changed_field(new_user):
    session = services.session_get_or_start(user=new_user, source="api")
    session = services.session_save_step(
        user=new_user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    stale = session.revision
    for name in ("Someone Else", "Ada Lovelace"):
        session = services.session_save_step(
            user=new_user,
            step="profile",
            answers=valid_answers("profile", full_name=name),
            revision=session.revision,
            source="api",
        )

    assert services.changed_fields_since(session, stale) == []


def test_empty_values_and_the_order_of_a_list_compare_equal():
    assert comparable("") == comparable(None) == comparable([]) == comparable(False)
    assert comparable(["slack", "github"]) == comparable(["github", "slack"])
    assert comparable(" Ada ") == comparable("Ada")
    assert comparable(True) != comparable(False)


def test_the_api_409_lists_only_the_fields_the_request_would_set_differently(as_user, halfway_user):
    client = as_user(halfway_user)
    stale = client.get(URL).json()["revision"]
    services.session_save_step(
        user=halfway_user,
        step="work-profile",
        answers=valid_answers("work-profile", team_size="11-50", experience="none"),
        revision=stale,
        source="wizard",
    )

    response = client.patch(
        URL,
        {"revision": stale, "step": "work-profile", "answers": valid_answers("work-profile", team_size="11-50")},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["changed_fields"] == [{"step": "work-profile", "field": "experience"}]


def test_a_stale_save_of_one_step_names_no_field_changed_only_in_another(new_user):
    session = services.session_get_or_start(user=new_user, source="api")
    session = services.session_save_step(
        user=new_user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    stale = session.revision
    services.session_save_step(
        user=new_user, step="work-profile", answers=valid_answers("work-profile"), revision=stale, source="api"
    )

    with pytest.raises(RevisionConflict) as exc:
        services.session_save_step(
            user=new_user, step="profile", answers=valid_answers("profile"), revision=stale, source="wizard"
        )

    assert exc.value.changed_fields == []
