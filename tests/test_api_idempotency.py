"""Idempotency-Key on PATCH progress and POST complete."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from onboarding import services
from onboarding.models import IdempotencyKey, OnboardingEvent, OnboardingSession, OutboxMessage
from onboarding.tasks import idempotency_keys_purge_task

from .conftest import complete_through_services
from .factories import UserFactory, valid_answers

pytestmark = pytest.mark.django_db

PROGRESS = "/api/users/me/onboarding-progress"
COMPLETE = "/api/onboarding/complete"


def _patch(client, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.patch(PROGRESS, body, format="json", **headers)


def _save_profile(revision, **answers):
    return {"revision": revision, "step": "profile", "action": "save", "answers": valid_answers("profile", **answers)}


def _events(user, name):
    return OnboardingEvent.objects.filter(user=user, name=name).count()


def test_the_same_key_twice_writes_once_and_answers_the_first_response_again(new_user, as_user):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    body = _save_profile(session.revision)

    first = _patch(client, body, key="save-profile-1")
    again = _patch(client, body, key="save-profile-1")

    assert first.status_code == 200
    assert again.status_code == 200  # not a 409, though its revision is no longer current
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    session.refresh_from_db()
    assert session.revision == first.json()["revision"]
    assert len(session.data["history"]) == 1
    assert _events(new_user, "step_saved") == 1
    assert _events(new_user, "revision_conflict") == 0


def test_a_repeat_after_later_writes_still_gets_the_first_answer(new_user, as_user):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    first = _patch(client, _save_profile(session.revision), key="k1")
    _patch(
        client,
        {
            "revision": first.json()["revision"],
            "step": "work-profile",
            "action": "save",
            "answers": valid_answers("work-profile"),
        },
        key="k2",
    )

    again = _patch(client, _save_profile(session.revision), key="k1")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["completed_steps"] == ["profile"]
    assert _events(new_user, "step_saved") == 2


def test_the_same_key_with_a_different_body_is_refused_with_422(new_user, as_user):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    _patch(client, _save_profile(session.revision), key="k1")
    session.refresh_from_db()

    reused = _patch(client, _save_profile(session.revision, job_title="Countess"), key="k1")

    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    session.refresh_from_db()
    assert session.answers["profile"]["job_title"] == "Analyst"
    assert _events(new_user, "step_saved") == 1


def test_users_never_share_keys(new_user, outsider, as_user):
    revisions = {user: services.session_get_or_start(user=user, source="api").revision for user in (new_user, outsider)}

    mine = _patch(as_user(new_user), _save_profile(revisions[new_user], full_name="Ada"), key="shared-key")
    theirs = _patch(as_user(outsider), _save_profile(revisions[outsider], full_name="Grace"), key="shared-key")

    assert (mine.status_code, theirs.status_code) == (200, 200)
    assert theirs.json()["session_id"] != mine.json()["session_id"]
    assert theirs.json()["answers"]["profile"]["full_name"] == "Grace"
    assert IdempotencyKey.objects.filter(key="shared-key").count() == 2


def test_complete_with_the_same_key_twice_completes_once(as_user):
    user = UserFactory(username="finisher")
    session = services.session_get_or_start(user=user, source="api")
    for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
        session = services.session_save_step(
            user=user, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    client = as_user(user)

    first = client.post(COMPLETE, {"revision": session.revision}, format="json", HTTP_IDEMPOTENCY_KEY="finish-1")
    again = client.post(COMPLETE, {"revision": session.revision}, format="json", HTTP_IDEMPOTENCY_KEY="finish-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert first.json()["state"] == "completed"
    assert _events(user, "completed") == 1
    assert OutboxMessage.objects.filter(session_id=session.pk).count() == 1


def test_a_refused_request_is_kept_so_its_repeat_gets_the_same_answer_and_records_nothing(new_user, as_user):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    invalid = _save_profile(session.revision, role="astronaut")

    first = _patch(client, invalid, key="k1")
    again = _patch(client, invalid, key="k1")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert _events(new_user, "validation_failed") == 1
    assert _patch(client, _save_profile(session.revision), key="k1").status_code == 422  # a fixed body needs a new key
    assert _patch(client, _save_profile(session.revision), key="k2").status_code == 200


def test_a_stale_request_repeated_with_its_key_gets_its_first_conflict_again(new_user, as_user):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    services.session_save_draft(
        user=new_user, step="profile", answers={"fullName": "A"}, revision=session.revision, source="api"
    )
    stale = _save_profile(session.revision)

    first = _patch(client, stale, key="k1")
    services.session_save_draft(
        user=new_user,
        step="profile",
        answers={"fullName": "B"},
        revision=first.json()["current"]["revision"],
        source="api",
    )
    again = _patch(client, stale, key="k1")

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert _events(new_user, "revision_conflict") == 1


def test_an_expired_key_is_forgotten_and_purged(new_user, as_user, settings):
    client = as_user(new_user)
    session = services.session_get_or_start(user=new_user, source="api")
    expire = lambda: IdempotencyKey.objects.update(  # noqa: E731
        created_at=timezone.now() - timedelta(seconds=settings.ONBOARDING_IDEMPOTENCY_TTL_SECONDS + 1)
    )
    _patch(client, _save_profile(session.revision), key="k1")
    expire()

    late = _patch(client, _save_profile(session.revision), key="k1")

    assert late.status_code == 409  # evaluated again: that revision is long gone
    expire()
    assert idempotency_keys_purge_task() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_key_longer_than_255_characters_is_refused(new_user, as_user):
    session = services.session_get_or_start(user=new_user, source="api")

    response = _patch(as_user(new_user), _save_profile(session.revision), key="k" * 256)

    assert response.status_code == 400
    assert response.json()["issues"][0]["field"] == "Idempotency-Key"
    assert _events(new_user, "step_saved") == 0


def test_a_request_without_a_key_keeps_nothing(new_user, as_user):
    session = services.session_get_or_start(user=new_user, source="api")

    assert _patch(as_user(new_user), _save_profile(session.revision)).status_code == 200
    assert not IdempotencyKey.objects.exists()


def test_a_completed_users_repeat_of_complete_is_kept_like_the_first(as_user):
    user = complete_through_services(UserFactory(username="done-already")).user
    client = as_user(user)

    first = client.post(COMPLETE, {"revision": "anything"}, format="json", HTTP_IDEMPOTENCY_KEY="again")

    assert first.status_code == 200
    assert (
        client.post(COMPLETE, {"revision": "anything"}, format="json", HTTP_IDEMPOTENCY_KEY="again").json()
        == first.json()
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's (SQLite serialises writers)")
def test_a_retry_racing_its_first_attempt_waits_for_it_and_gets_its_answer(as_user):
    user = UserFactory(username="racer")
    session = services.session_get_or_start(user=user, source="api")
    body = _save_profile(session.revision)
    answers = []

    def send():
        try:
            answers.append(_patch(as_user(user), body, key="same-click"))
        finally:
            connections.close_all()

    senders = [threading.Thread(target=send) for _ in range(2)]
    with transaction.atomic():  # hold the session's row lock until both requests wait on it
        OnboardingSession.objects.select_for_update().get(pk=session.pk)
        for sender in senders:
            sender.start()
        _wait_until_waiting_on_locks(2)
    for sender in senders:
        sender.join(timeout=30)

    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert _events(user, "step_saved") == 1
    assert _events(user, "revision_conflict") == 0


def _wait_until_waiting_on_locks(count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees one snapshot only
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"{count} requests never waited on the session's lock")
