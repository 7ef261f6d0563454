"""Helpers of the personal-data tests: a person with memorable data everywhere, and a database dump."""

import subprocess

from django.db import connection

from aggregation.snapshots.services import snapshot_ingest
from onboarding import services
from onboarding.models import IdempotencyKey, OutboxMessage

from .factories import UserFactory, valid_answers

FULL_NAME = "Zebedee Quillfeather"
EMAIL = "zebedee.quill@example.net"
INVITEES = ("marigold.invitee@example.com", "thaddeus.invitee@example.com")


def onboard_memorable_person(*, username: str = "zebedee", workspace_name: str = "Quill Works"):
    """Complete onboarding for a user whose name, e-mail and invitees are easy to find; ingest its snapshot.

    Also leaves a draft, an idempotency reply and browser telemetry behind, as a real user would.
    """
    user = UserFactory(username=username, email=EMAIL)
    session = services.session_get_or_start(user=user, source="api")
    answers = {
        "profile": valid_answers("profile", full_name=FULL_NAME),
        "invites": valid_answers("invites", emails=list(INVITEES)),
        "workspace": valid_answers("workspace", workspace_name=workspace_name),
    }
    for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
        session = services.session_save_step(
            user=user,
            step=step,
            answers=answers.get(step) or valid_answers(step),
            revision=session.revision,
            source="api",
        )
    session = services.session_complete(user=user, revision=session.revision, source="api")
    message = OutboxMessage.objects.get(session=session)
    snapshot_ingest(message=message.payload)
    services.outbox_acknowledge(message_id=message.pk)
    IdempotencyKey.objects.create(
        user=user,
        key="k1",
        fingerprint="f",
        status=200,
        body={"answers": session.answers},
        created_at=session.updated_at,
    )
    return user, session


def database_dump() -> str:
    """Return a full plain-text ``pg_dump`` of the test database (schema and data)."""
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "-h", db["HOST"] or "localhost", "-U", db["USER"], db["NAME"]]
    if db.get("PORT"):
        command[1:1] = ["-p", str(db["PORT"])]
    env = {"PGPASSWORD": db.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=120).stdout


def dump_tables_containing(dump: str, needle: str) -> list[str]:
    """Return the tables whose COPY block in ``dump`` contains ``needle`` (case-insensitive)."""
    tables, table, needle = [], None, needle.lower()
    for line in dump.splitlines():
        if line.startswith("COPY "):
            table = line.split()[1]
        elif line == "\\.":
            table = None
        elif table is not None and needle in line.lower() and table not in tables:
            tables.append(table)
    return tables
