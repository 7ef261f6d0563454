"""Subject access (the command and the admin download) and the access log of every staff view of one person's answers."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aggregation.models import AnswerSnapshot
from onboarding.models import AnswersAccess, OnboardingEvent

from .factories import StaffFactory, UserFactory
from .privacy_support import EMAIL, FULL_NAME, INVITEES, onboard_memorable_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return onboard_memorable_person()


def test_the_export_command_prints_one_document_with_everything_of_theirs(person, capsys):
    user, session = person

    call_command("export_onboarding_user", "zebedee")

    document = json.loads(capsys.readouterr().out)
    assert document["account"]["email"] == EMAIL and document["account"]["username"] == "zebedee"
    [stored] = document["sessions"]
    assert stored["id"] == str(session.pk) and stored["answers"]["profile"]["full_name"] == FULL_NAME
    assert stored["history"] and stored["completed_steps"][-1] == "workspace"
    assert len(document["events"]) == OnboardingEvent.objects.filter(user_id=user.pk).count() > 0
    assert [s["session_id"] for s in document["snapshots"]] == [str(session.pk)]
    assert document["workspaces"][0]["name"] == "Quill Works" and document["workspaces"][0]["created_by_you"]
    assert sorted(i["email"] for i in document["invitations_sent"]) == sorted(INVITEES)


def test_the_export_command_is_recorded_in_the_access_log(person, capsys):
    user, _session = person

    call_command("export_onboarding_user", "zebedee")

    record = AnswersAccess.objects.get()
    assert (record.subject_user_id, record.surface, record.viewer_id) == (user.pk, "subject_export", None)
    assert record.viewer_username.startswith("manage.py (")


def test_the_export_command_refuses_an_unknown_user_and_a_negative_indent(person):
    with pytest.raises(CommandError, match="No user with the username 'ghost'"):
        call_command("export_onboarding_user", "ghost")
    with pytest.raises(CommandError, match="--indent"):
        call_command("export_onboarding_user", "zebedee", "--indent", "-1")
    assert not AnswersAccess.objects.exists()


def test_the_export_of_someone_without_onboarding_is_an_empty_document(capsys):
    UserFactory(username="fresh")

    call_command("export_onboarding_user", "fresh", "--indent", "0")

    document = json.loads(capsys.readouterr().out)
    assert document["sessions"] == document["events"] == document["snapshots"] == []


def test_the_admin_download_action_returns_the_same_document_and_is_logged(person, staff, staff_user):
    user, session = person

    response = staff.post(
        "/admin/onboarding/onboardingsession/",
        {"action": "download_onboarding_data", "_selected_action": [str(session.pk)]},
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["sessions"][0]["answers"]["profile"]["full_name"] == FULL_NAME
    record = AnswersAccess.objects.get()
    assert (record.viewer_id, record.subject_user_id, record.surface, record.client_address) == (
        staff_user.pk,
        user.pk,
        "subject_export",
        "203.0.113.7",
    )


def test_the_session_admin_change_page_is_logged_with_who_whose_and_where_from(person, staff, staff_user):
    user, session = person

    response = staff.get(f"/admin/onboarding/onboardingsession/{session.pk}/change/", REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 200 and FULL_NAME.encode() in response.content
    record = AnswersAccess.objects.get()
    assert (record.viewer_id, record.viewer_username, record.subject_user_id, record.surface) == (
        staff_user.pk,
        "staff",
        user.pk,
        "session_admin",
    )
    assert (record.object_ref, record.client_address) == (str(session.pk), "198.51.100.4")
    assert record.accessed_at is not None


def test_the_snapshot_admin_change_page_is_logged(person, staff):
    user, session = person
    snapshot = AnswerSnapshot.objects.get(session_id=session.pk)

    response = staff.get(f"/admin/aggregation/answersnapshot/{snapshot.pk}/change/")

    assert response.status_code == 200
    record = AnswersAccess.objects.get()
    assert (record.subject_user_id, record.surface, record.client_address) == (user.pk, "snapshot_admin", "127.0.0.1")


def test_the_staff_api_answers_of_one_user_is_logged(person, staff, staff_user):
    user, _session = person

    response = staff.get(f"/api/admin/onboarding/answers/{user.pk}", REMOTE_ADDR="192.0.2.55")

    assert response.status_code == 200
    record = AnswersAccess.objects.get()
    assert (record.viewer_id, record.subject_user_id, record.surface, record.client_address) == (
        staff_user.pk,
        user.pk,
        "staff_api",
        "192.0.2.55",
    )


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(person, staff, settings):
    user, _session = person
    staff.get(f"/api/admin/onboarding/answers/{user.pk}", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6")
    settings.TRUSTED_PROXY_COUNT = 1
    staff.get(
        f"/api/admin/onboarding/answers/{user.pk}", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.9"
    )

    assert list(AnswersAccess.objects.order_by("pk").values_list("client_address", flat=True)) == [
        "10.0.0.2",
        "192.0.2.9",
    ]


def test_lists_and_unknown_users_are_not_logged(person, staff):
    assert staff.get("/admin/onboarding/onboardingsession/").status_code == 200
    assert staff.get("/api/admin/onboarding/answers").status_code == 200
    assert staff.get("/api/admin/onboarding/answers/999999").status_code == 404
    assert not AnswersAccess.objects.exists()


def test_the_access_log_is_read_only_and_for_superusers_only(person, client, staff):
    user, session = person
    staff.get(f"/admin/onboarding/onboardingsession/{session.pk}/change/")
    record = AnswersAccess.objects.get()

    assert staff.get("/admin/onboarding/answersaccess/").status_code == 200
    page = staff.get(f"/admin/onboarding/answersaccess/{record.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert staff.post(f"/admin/onboarding/answersaccess/{record.pk}/delete/").status_code == 403
    assert staff.get("/admin/onboarding/answersaccess/add/").status_code == 403

    clerk = StaffFactory(username="clerk", is_superuser=False)
    client.force_login(clerk)
    assert client.get("/admin/onboarding/answersaccess/").status_code == 403


def test_the_access_log_is_searched_by_subject_or_viewer(person, staff):
    user, session = person
    staff.get(f"/admin/onboarding/onboardingsession/{session.pk}/change/")

    assert str(session.pk).encode() in staff.get(f"/admin/onboarding/answersaccess/?q={user.pk}").content
    assert str(session.pk).encode() in staff.get("/admin/onboarding/answersaccess/?q=staff").content
    assert str(session.pk).encode() not in staff.get("/admin/onboarding/answersaccess/?q=999999").content
    assert staff.get("/admin/onboarding/answersaccess/?q=not-a-number").status_code == 200
