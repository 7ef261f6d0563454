"""Erasure of a person's onboarding data: everywhere, exactly, once; the command, the admin and user deletion."""

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from aggregation.erasure import onboarding_user_erase
from aggregation.export import answers_export
from aggregation.funnel import funnel_drift, funnel_figures, funnel_fold
from aggregation.models import AnswerGroupTotal, AnswerSnapshot, ErasedSession, FunnelSessionMarks
from aggregation.signals import onboarding_erased
from aggregation.snapshots.consistency import totals_drift
from aggregation.snapshots.services import snapshot_ingest
from onboarding.models import IdempotencyKey, Invitation, OnboardingEvent, OnboardingSession, OutboxMessage
from onboarding.services import completion_message

from .conftest import complete_through_services
from .export_support import run_dirs
from .factories import UserFactory
from .privacy_support import EMAIL, FULL_NAME, INVITEES, database_dump, dump_tables_containing, onboard_memorable_person

# The dump tests read the database with pg_dump: PostgreSQL only.
pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump dumps PostgreSQL")


@pytest.fixture(autouse=True)
def _no_fold_lag(settings):
    settings.ONBOARDING_FUNNEL_FOLD_LAG = 0


def _fold_everything():
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        funnel_fold()


@pg_only
@pytest.mark.django_db(transaction=True)  # pg_dump reads committed rows only
def test_after_erasure_a_database_dump_holds_neither_their_name_nor_their_invitees_and_their_email_only_in_the_account():
    user, _session = onboard_memorable_person()
    complete_through_services(UserFactory(username="bystander"))  # someone else's data stays
    before = database_dump()
    assert FULL_NAME in before and all(address in before for address in INVITEES)

    call_command("erase_onboarding_user", "zebedee", stdout=open("/dev/null", "w"))

    dump = database_dump()
    assert dump.lower().count(FULL_NAME.lower()) == 0
    assert all(dump.lower().count(address) == 0 for address in INVITEES)
    # Erasing onboarding data keeps the account: its e-mail is in auth_user and nowhere else.
    assert dump_tables_containing(dump, EMAIL) == ["public.auth_user"]
    assert get_user_model().objects.filter(pk=user.pk).exists()


@pg_only
@pytest.mark.django_db(transaction=True)
def test_deleting_the_user_leaves_not_even_their_email_in_a_database_dump():
    user, _session = onboard_memorable_person()
    user_id = user.pk

    user.delete()

    dump = database_dump()
    for needle in (FULL_NAME, EMAIL, *INVITEES):
        assert dump.lower().count(needle.lower()) == 0, needle
    assert ErasedSession.objects.filter(user_id=user_id, reason="account_deleted").count() == 1


@pg_only
@pytest.mark.django_db(transaction=True)
def test_the_command_with_delete_account_removes_the_account_too():
    onboard_memorable_person()

    call_command("erase_onboarding_user", "zebedee", "--delete-account", stdout=open("/dev/null", "w"))

    assert database_dump().lower().count(EMAIL) == 0
    assert not get_user_model().objects.filter(username="zebedee").exists()


@pytest.mark.django_db
def test_erasure_removes_every_row_of_theirs_and_keeps_everyone_elses():
    user, session = onboard_memorable_person()
    other = complete_through_services(UserFactory(username="other"))

    outcome = onboarding_user_erase(user_id=user.pk)

    assert outcome.erased and outcome.session_ids == [str(session.pk)]
    assert not OnboardingSession.objects.filter(user=user).exists()
    assert not AnswerSnapshot.objects.filter(user=user).exists()
    assert not OnboardingEvent.objects.filter(session_id=session.pk).exists()
    assert not OutboxMessage.objects.filter(session_id=session.pk).exists()
    assert not IdempotencyKey.objects.filter(user=user).exists()
    assert not Invitation.objects.filter(invited_by=user).exists()
    assert OnboardingSession.objects.filter(pk=other.pk).exists()
    assert OnboardingEvent.objects.filter(session_id=other.pk).exists()


@pytest.mark.django_db
def test_totals_are_decremented_exactly_and_both_checks_stay_green():
    user, _session = onboard_memorable_person()
    other = complete_through_services(UserFactory(username="other"))
    snapshot_ingest(message=completion_message(other))
    _fold_everything()
    engineering = AnswerGroupTotal.objects.get(step="profile", question="role", answer="engineering")
    assert engineering.count == 2
    assert funnel_figures()[""].completed == 2

    onboarding_user_erase(user_id=user.pk)

    engineering.refresh_from_db()
    assert engineering.count == 1
    assert totals_drift() == []
    assert funnel_drift() == []
    assert funnel_figures()[""].completed == 1
    _fold_everything()
    assert funnel_drift() == [] and funnel_figures()[""].reached == 1
    assert not FunnelSessionMarks.objects.filter(session_id=_session.pk).exists()


@pytest.mark.django_db
def test_the_check_commands_report_no_drift_after_an_erasure(capsys):
    user, _session = onboard_memorable_person()
    _fold_everything()
    onboarding_user_erase(user_id=user.pk)

    call_command("check_onboarding_totals")
    call_command("check_onboarding_funnel")


@pytest.mark.django_db
def test_erasing_twice_is_a_no_op_that_says_so(capsys):
    onboard_memorable_person()
    call_command("erase_onboarding_user", "zebedee")
    assert "Erased the onboarding data of zebedee" in capsys.readouterr().out

    call_command("erase_onboarding_user", "zebedee")

    assert "Nothing to erase" in capsys.readouterr().out
    assert ErasedSession.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_user_is_a_clear_error_with_exit_status_1(capsys):
    with pytest.raises(CommandError, match="No user with the username 'nobody'"):
        call_command("erase_onboarding_user", "nobody")
    from aggregation.management.commands.erase_onboarding_user import Command

    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(["manage.py", "erase_onboarding_user", "nobody"])
    assert exit_.value.code == 1
    assert "No user with the username 'nobody'" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_command_refuses_a_missing_username():
    with pytest.raises(CommandError, match="username"):
        call_command("erase_onboarding_user")


@pytest.mark.django_db
def test_the_erased_signal_carries_the_user_and_session_ids_inside_the_transaction(django_capture_on_commit_callbacks):
    user, session = onboard_memorable_person()
    received = []

    def receiver(sender, user_id, session_ids, **kwargs):
        from django.db import connection

        received.append((user_id, session_ids, connection.in_atomic_block))

    onboarding_erased.connect(receiver)
    try:
        onboarding_user_erase(user_id=user.pk)
        onboarding_user_erase(user_id=user.pk)  # nothing left: no second signal
    finally:
        onboarding_erased.disconnect(receiver)
    assert received == [(user.pk, [str(session.pk)], True)]


@pytest.mark.django_db
def test_a_completion_message_arriving_after_the_erasure_stores_nothing():
    user, session = onboard_memorable_person()
    message = completion_message(session)
    onboarding_user_erase(user_id=user.pk)

    assert snapshot_ingest(message=message) == "erased"

    assert not AnswerSnapshot.objects.filter(session_id=session.pk).exists()
    assert totals_drift() == []


@pytest.mark.django_db
def test_the_next_export_run_writes_the_erased_session_ids(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    user, session = onboard_memorable_person()
    start = timezone.now()
    with time_machine.travel(start + timedelta(seconds=5)):
        answers_export()
    with time_machine.travel(start + timedelta(seconds=7)):
        onboarding_user_erase(user_id=user.pk)
    with time_machine.travel(start + timedelta(seconds=10)):
        answers_export()

    run = run_dirs(tmp_path)[-1]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["erased"]["rows"] == 1 and manifest["erased"]["name"] == "erased.ndjson"
    lines = [json.loads(line) for line in (run / "erased.ndjson").read_text().splitlines()]
    assert [(line["session_id"], line["user_id"]) for line in lines] == [(str(session.pk), user.pk)]
    first = json.loads((run_dirs(tmp_path)[0] / "manifest.json").read_text())
    assert first["erased"]["rows"] == 0 and not (run_dirs(tmp_path)[0] / "erased.ndjson").exists()


@pytest.mark.django_db
def test_the_admin_action_asks_for_confirmation_then_erases(staff):
    user, session = onboard_memorable_person()
    url = "/admin/onboarding/onboardingsession/"
    form = {"action": "erase_onboarding_data", "_selected_action": [str(session.pk)]}

    page = staff.post(url, form)

    assert page.status_code == 200 and b"Yes, erase it" in page.content and b"zebedee" in page.content
    assert OnboardingSession.objects.filter(pk=session.pk).exists()
    done = staff.post(url, {**form, "confirm": "yes"}, follow=True)
    assert done.status_code == 200 and b"Erased the onboarding data of 1 person" in done.content
    assert not OnboardingSession.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_erase_action_is_offered_to_superusers_only(client):
    onboard_memorable_person()
    clerk = UserFactory(username="clerk", is_staff=True)
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_onboardingsession", "change_onboardingsession"])
    )
    client.force_login(clerk)

    page = client.get("/admin/onboarding/onboardingsession/")

    assert page.status_code == 200
    assert b"erase_onboarding_data" not in page.content and b"download_onboarding_data" in page.content


@pytest.mark.django_db
def test_erasing_someone_with_folded_and_unfolded_events_and_a_superseded_session_leaves_no_drift():
    from onboarding import services

    user, session = onboard_memorable_person()
    _fold_everything()
    services.session_restart(user=user, source="admin")  # the completed session is superseded, a new one starts
    fresh = services.session_get_or_start(user=user, source="api")
    OnboardingEvent.objects.create(session=fresh, user=user, name="save_retried", step="profile", source="browser")

    outcome = onboarding_user_erase(user_id=user.pk)

    assert sorted(outcome.session_ids) == sorted([str(session.pk), str(fresh.pk)])
    assert funnel_drift() == [] and totals_drift() == []
    _fold_everything()
    assert funnel_drift() == [] and not FunnelSessionMarks.objects.exists()


def _in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pg_only
@pytest.mark.django_db(transaction=True)
def test_an_erasure_waits_for_an_ingestion_in_flight_and_then_erases_its_snapshot():
    session = complete_through_services(UserFactory(username="racer"))
    message = completion_message(session)
    ingested, release, outcomes = threading.Event(), threading.Event(), []

    def ingest():
        with transaction.atomic():
            outcomes.append(snapshot_ingest(message=message))
            ingested.set()
            release.wait(10)

    ingestion = _in_thread(ingest)
    assert ingested.wait(10)
    erasure = _in_thread(lambda: outcomes.append(onboarding_user_erase(user_id=session.user_id)))
    erasure.join(0.5)
    assert erasure.is_alive()  # it waits for the ingestion's lock on the session
    release.set()
    ingestion.join(10)
    erasure.join(10)

    assert outcomes[0] == "created" and outcomes[1].snapshots == 1
    assert not AnswerSnapshot.objects.filter(session_id=session.pk).exists()
    assert totals_drift() == []


@pg_only
@pytest.mark.django_db(transaction=True)
def test_an_ingestion_that_waited_for_an_erasure_finds_the_tombstone_and_stores_nothing():
    session = complete_through_services(UserFactory(username="racer"))
    message = completion_message(session)
    erased, release, outcomes = threading.Event(), threading.Event(), []

    def erase():
        with transaction.atomic():
            onboarding_user_erase(user_id=session.user_id)
            erased.set()
            release.wait(10)

    erasure = _in_thread(erase)
    assert erased.wait(10)
    ingestion = _in_thread(lambda: outcomes.append(snapshot_ingest(message=message)))
    ingestion.join(0.5)
    assert ingestion.is_alive()  # it waits for the erasure's lock on the session
    release.set()
    erasure.join(10)
    ingestion.join(10)

    assert outcomes == ["erased"]
    assert not AnswerSnapshot.objects.filter(session_id=session.pk).exists()
    assert totals_drift() == []
