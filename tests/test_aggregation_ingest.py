"""The ingestion service: snapshots and totals, ordering, idempotence, concurrency, upgrades."""

import random
import threading
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction

from aggregation.models import AnswerGroupTotal, AnswerSnapshot
from aggregation.snapshots.consistency import totals_drift, totals_expected
from aggregation.snapshots.normalise import InvalidCompletionMessage, completion_from_message
from aggregation.snapshots.services import snapshot_ingest, snapshot_ingest_batch, totals_apply_delta
from aggregation.snapshots.upgrades import UPGRADES, UnsupportedSchemaVersion, answers_upgrade
from onboarding.manifest import STEP_KEYS
from onboarding.models import Workspace, WorkspaceMembership
from onboarding.services import COMPLETION_MESSAGE_VERSION, completion_message

from .aggregation_support import completion_message_for, later, varied_answers
from .conftest import complete_through_services
from .factories import UserFactory, valid_answers


def totals() -> Counter:
    return Counter({(t.step, t.question, t.answer): t.count for t in AnswerGroupTotal.objects.filter(count__gt=0)})


def counted(message) -> Counter:
    return Counter(completion_from_message(message).counted)


@pytest.fixture
def user(db):
    return UserFactory()


def test_it_creates_a_snapshot_and_counts_only_categorical_answers(user):
    message = completion_message_for(user, rng=random.Random(1))

    assert snapshot_ingest(message=message) == "created"

    snapshot = AnswerSnapshot.objects.get(pk=message["session_id"])
    assert snapshot.user_id == user.pk and snapshot.answer_schema_version == 1
    assert snapshot.role == message["answers"]["profile"]["role"]
    assert snapshot.answers["profile"]["full_name"] == "Ada Lovelace"
    assert {"step": "tools", "question": "other_tools", "value": "Babbage"} in snapshot.flattened
    assert snapshot.ingested_at is not None
    assert totals() == counted(message)
    questions = {(step, question) for step, question, _ in totals()}
    assert ("profile", "full_name") not in questions and ("tools", "other_tools") not in questions
    assert ("preferences", "product_updates") in questions and ("work-profile", "functions") in questions


def test_it_treats_a_repeated_message_as_an_unchanged_no_op(user):
    message = completion_message_for(user)
    snapshot_ingest(message=message)
    ingested_at = AnswerSnapshot.objects.get().ingested_at

    assert snapshot_ingest(message=message) == "unchanged"

    assert AnswerSnapshot.objects.get().ingested_at == ingested_at
    assert totals() == counted(message)


def test_a_newer_message_replaces_the_snapshot_and_moves_its_counts(user):
    first = completion_message_for(user, rng=random.Random(2))
    second = later(first, rng=random.Random(3))
    snapshot_ingest(message=first)
    ingested_at = AnswerSnapshot.objects.get().ingested_at

    assert snapshot_ingest(message=second) == "updated"

    snapshot = AnswerSnapshot.objects.get()
    assert snapshot.answers == completion_from_message(second).answers
    assert snapshot.ingested_at > ingested_at
    assert totals() == counted(second)
    assert not AnswerGroupTotal.objects.filter(count=0).exists()


def test_an_older_message_never_overwrites_a_newer_snapshot(user):
    first = completion_message_for(user, rng=random.Random(4))
    second = later(first, rng=random.Random(5))
    snapshot_ingest(message=second)

    assert snapshot_ingest(message=first) == "stale"

    assert AnswerSnapshot.objects.get().answers == completion_from_message(second).answers
    assert totals() == counted(second)


def test_at_the_same_time_a_higher_schema_version_wins(user):
    old_shape = completion_message_for(user, version=0, answers=v0_answers())
    current = {**old_shape, "answer_schema_version": 1, "answers": varied_answers(random.Random(6))}
    snapshot_ingest(message=current)

    assert snapshot_ingest(message=old_shape) == "stale"
    assert AnswerSnapshot.objects.get().answer_schema_version == 1


def test_every_message_delivered_three_times_in_shuffled_order_gives_exact_totals(db):
    rng = random.Random(7)
    finals, deliveries = [], []
    for _ in range(12):
        versions = [completion_message_for(UserFactory(), rng=rng)]
        for _ in range(rng.randint(0, 2)):  # some sessions were re-sent with other answers
            versions.append(later(versions[-1], rng=rng))
        finals.append(versions[-1])
        deliveries.extend(versions * 3)
    rng.shuffle(deliveries)

    outcomes = Counter(snapshot_ingest(message=message) for message in deliveries)

    assert sum(map(counted, finals), Counter()) == totals()
    assert totals_drift() == []
    assert outcomes["created"] == 12 and AnswerSnapshot.objects.count() == 12
    assert {str(s.session_id): s.completed_at.isoformat() for s in AnswerSnapshot.objects.all()} == {
        m["session_id"]: m["completed_at"] for m in finals
    }


def test_a_batch_gives_the_same_result_as_one_message_at_a_time(db):
    rng = random.Random(8)
    first = [completion_message_for(UserFactory(), rng=rng) for _ in range(5)]
    batch = first + [later(first[0], rng=rng), first[1], later(first[2], seconds=-1, rng=rng)]

    assert snapshot_ingest_batch(messages=batch) == ["created"] * 5 + ["updated", "unchanged", "stale"]

    assert totals() == sum(map(counted, [batch[5], *first[1:]]), Counter())


def test_totals_never_go_negative(user):
    first = completion_message_for(user, rng=random.Random(9))
    snapshot_ingest(message=first)
    AnswerGroupTotal.objects.update(count=0)  # a drifted table: the decrement has nothing to take away

    snapshot_ingest(message=later(first, rng=random.Random(10)))

    assert not AnswerGroupTotal.objects.filter(count__lt=0).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        AnswerGroupTotal.objects.update(count=-1)


def test_totals_apply_delta_adds_and_subtracts_by_key(db):
    totals_apply_delta(delta={("profile", "role", "data"): 3, ("tools", "tools", "jira"): 1})
    totals_apply_delta(delta={("profile", "role", "data"): -1, ("tools", "tools", "jira"): 0})

    assert totals() == Counter({("profile", "role", "data"): 2, ("tools", "tools", "jira"): 1})


def test_it_rejects_a_malformed_message(user):
    with pytest.raises(InvalidCompletionMessage):
        snapshot_ingest(message={"user_id": user.pk, "answers": {}})
    with pytest.raises(InvalidCompletionMessage):
        snapshot_ingest(message=completion_message_for(user, version=99))

    assert not AnswerSnapshot.objects.exists()


def version_1(message: dict) -> dict:
    """Return ``message`` as a version 1 producer sent it: no message_version, no workspace_id."""
    return {key: value for key, value in message.items() if key not in ("message_version", "workspace_id")}


def test_a_completion_message_carries_the_workspace_the_completion_created(db):
    session = complete_through_services(UserFactory(), workspace_name="Difference Engine")

    message = completion_message(session)

    assert message["message_version"] == COMPLETION_MESSAGE_VERSION == 2
    assert message["workspace_id"] == Workspace.objects.get(slug="difference-engine").pk


def test_ingestion_takes_the_workspace_from_the_message_without_deriving_it(db):
    session = complete_through_services(UserFactory(), workspace_name="Difference Engine")
    other = Workspace.objects.create(name="Elsewhere", slug="elsewhere", created_by=session.user)

    snapshot_ingest(message={**completion_message(session), "workspace_id": other.pk})

    assert AnswerSnapshot.objects.get().workspace_id == other.pk  # not the workspace the answers name


def test_a_workspace_deleted_before_ingestion_leaves_the_snapshot_without_one(db):
    session = complete_through_services(UserFactory(), workspace_name="Difference Engine")
    message = completion_message(session)
    Workspace.objects.filter(pk=message["workspace_id"]).delete()

    snapshot_ingest(message=message)

    assert AnswerSnapshot.objects.get().workspace_id is None


def test_an_old_message_is_upgraded_with_the_workspace_its_answers_name_or_the_latest_membership(db):
    created = complete_through_services(UserFactory(), workspace_name="Difference Engine")
    workspace = Workspace.objects.get(slug="difference-engine")
    joiner, stranger = UserFactory(), UserFactory()
    join = {step: valid_answers(step) for step in STEP_KEYS}
    join["workspace"] = {"mode": "join", "join_code": workspace.join_code, "workspace_name": ""}
    gone = {**join, "workspace": {"mode": "join", "join_code": "no-such-code", "workspace_name": ""}}
    WorkspaceMembership.objects.create(workspace=workspace, user=stranger)

    snapshot_ingest_batch(
        messages=[
            version_1(completion_message(created)),
            completion_message_for(joiner, answers=join),
            completion_message_for(stranger, answers=gone),
        ]
    )

    assert list(AnswerSnapshot.objects.values_list("workspace_id", flat=True)) == [workspace.pk] * 3


def test_it_rejects_a_message_of_an_unknown_version(user):
    message = {**completion_message_for(user), "message_version": COMPLETION_MESSAGE_VERSION + 1, "workspace_id": None}

    with pytest.raises(InvalidCompletionMessage):
        snapshot_ingest(message=message)


def v0_answers() -> dict:
    """Answers as the first wizard (answer schema 0) stored them."""
    return {
        "profile": {"name": "Ada Lovelace", "jobTitle": "Analyst", "role": "data"},
        "workProfile": {
            "teamName": "Engines",
            "teamSize": 7,
            "timezone": "Europe/London",
            "functions": ["data"],
            "intents": ["reporting"],
            "experience": "advanced",
        },
        "tools": {"tools": ["github"], "otherTools": []},
        "preferences": {
            "theme": "dark",
            "emailDigest": "daily",
            "notifications": [],
            "language": "en",
            "productUpdates": False,
        },
        "workspace": {"mode": "create", "workspaceName": "Analytical Engines"},
    }


def test_the_upgrade_registry_turns_a_version_0_payload_into_the_current_shape(user):
    message = completion_message_for(user, version=0, answers=v0_answers())

    snapshot_ingest(message=message)

    snapshot = AnswerSnapshot.objects.get()
    assert snapshot.answer_schema_version == 0  # the schema the user answered under
    assert snapshot.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "Analyst", "role": "data"}
    assert snapshot.answers["work-profile"]["team_size"] == "2-10"
    assert snapshot.answers["preferences"]["email_digest"] == "daily"
    assert totals()[("work-profile", "team_size", "2-10")] == 1
    assert totals()[("preferences", "product_updates", "false")] == 1


def test_the_upgrade_registry_covers_every_version_up_to_the_current_one():
    assert sorted(UPGRADES) == list(range(len(UPGRADES)))
    assert answers_upgrade({"workProfile": {"teamSize": 1000}}, from_version=0) == {
        "work-profile": {"team_size": "201-1000"}
    }
    assert answers_upgrade({"workProfile": {"teamSize": 5000}}, from_version=0)["work-profile"]["team_size"] == "1000+"
    with pytest.raises(UnsupportedSchemaVersion):
        answers_upgrade({}, from_version=2)


@pytest.mark.django_db(transaction=True)
def test_many_threads_ingesting_at_once_leave_totals_equal_to_a_recomputation():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: concurrency is PostgreSQL's to prove")
    rng = random.Random(11)
    users = [UserFactory() for _ in range(10)]
    messages = []
    for index in range(30):
        first = completion_message_for(users[index % len(users)], rng=rng)
        messages += [first, later(first, rng=rng), first, later(first, seconds=2, rng=rng)]
    rng.shuffle(messages)
    errors = []

    def ingest(share):
        try:
            for message in share:
                snapshot_ingest(message=message)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(messages[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AnswerSnapshot.objects.count() == 30
    assert totals() == +totals_expected() and totals_drift() == []
