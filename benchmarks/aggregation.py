"""Benchmark of the aggregation pipeline; not a test, it only prints figures and ratios.

    .venv/bin/python benchmarks/aggregation.py                 # 100,000 sessions
    .venv/bin/python benchmarks/aggregation.py --sessions 5000 # a quick run
    .venv/bin/python benchmarks/aggregation.py --smoke         # a tiny run: it works (figures mean nothing)

It (re)creates its own PostgreSQL database (``--database-url``, default onb_bench_agg), generates
completed sessions with bulk COPY, then measures, each beside a baseline from the same run:
1. the backfill (sessions/s) beside the raw limit: the same snapshot rows written per batch by
   psycopg alone (``executemany``, one multi-row INSERT, and COPY) into a scratch copy of the
   snapshot table (same indexes);
2. live ingestion: ``snapshot_ingest`` called once per message in this one process (one worker);
3. a totals read for one step/question beside the same counts by a GROUP BY over the JSON answers
   in onboarding_sessions.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/onb_bench_agg"
ROLES = ("engineering", "design", "product", "data", "marketing", "sales", "support", "operations", "founder", "other")
TEAM_SIZES = ("1", "2-10", "11-50", "51-200", "201-1000", "1000+")
ZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Lagos",
)
FUNCTIONS = (
    "engineering",
    "design",
    "product",
    "data",
    "marketing",
    "sales",
    "support",
    "operations",
    "finance",
    "hr",
    "other",
)
INTENTS = (
    "project_tracking",
    "sprint_planning",
    "bug_tracking",
    "roadmapping",
    "documentation",
    "automation",
    "reporting",
)
TOOLS = (
    "github",
    "gitlab",
    "bitbucket",
    "jira",
    "linear",
    "asana",
    "trello",
    "notion",
    "confluence",
    "slack",
    "teams",
    "figma",
    "google_workspace",
    "microsoft_365",
)
WORKSPACES = 1000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="completed sessions to generate (100,000)")
    parser.add_argument("--live-messages", type=int, default=5000, help="messages for the live ingestion (5,000)")
    parser.add_argument("--batch-size", type=int, default=1000, help="backfill batch size (1,000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    add_smoke_flag(parser, sessions=300, live_messages=50, batch_size=100)
    return apply_smoke(parser.parse_args())


def setup_django(database_url: str):
    import environ
    import psycopg

    config = environ.Env.db_url_config(database_url)
    with psycopg.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
    from benchmarks.django_setup import production_environment

    production_environment(database_url)  # nothing is published here: the services are called directly
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def raw_cursor():
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.cursor()


def answers_for(rng: random.Random, workspace: tuple[str, str], *, ai_question: bool) -> dict:
    name, code = workspace
    mode = "create" if rng.random() < 0.3 else "join"
    answers = {
        "profile": {"full_name": f"Person {rng.randrange(10**6)}", "job_title": "", "role": rng.choice(ROLES)},
        "work-profile": {
            "team_name": "",
            "team_size": rng.choice(TEAM_SIZES),
            "timezone": rng.choice(ZONES),
            "functions": rng.sample(FUNCTIONS, rng.randint(1, 3)),
            "intents": rng.sample(INTENTS, rng.randint(1, 3)),
            "experience": rng.choice(("none", "beginner", "intermediate", "advanced")),
        },
        "tools": {"tools": rng.sample(TOOLS, rng.randint(0, 4)), "other_tools": []},
        "invites": {"emails": [], "invite_role": "member"},
        "preferences": {
            "theme": rng.choice(("system", "light", "dark")),
            "email_digest": rng.choice(("never", "daily", "weekly")),
            "notifications": rng.sample(("mentions", "assignments", "comments", "status_changes"), rng.randint(0, 2)),
            "language": rng.choice(("en", "de", "fr", "es", "ja", "pt-br")),
            "product_updates": rng.random() < 0.4,
        },
        "workspace": {
            "mode": mode,
            "workspace_name": name if mode == "create" else "",
            "join_code": code if mode == "join" else "",
        },
    }
    if ai_question:  # the experiment's arm "on" answers the AI question
        answers["work-profile"]["ai_usage"] = rng.choice(("", "none", "exploring", "weekly", "daily"))
    return answers


def generate(sessions: int) -> None:
    """Write users, workspaces and completed sessions with COPY (varied answers, seeded)."""
    rng, now = random.Random(4), datetime.now(UTC)
    workspaces = [(f"Workspace {i}", f"workspace-{i}", f"code-{i:05d}") for i in range(WORKSPACES)]
    with raw_cursor() as cursor:
        with cursor.copy(
            "COPY auth_user (id, password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined) FROM STDIN"
        ) as copy:
            for i in range(1, sessions + 1):
                copy.write_row((i, "!", False, f"bench{i}", "", "", f"bench{i}@example.org", False, True, now))
        cursor.execute("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), %s)", (sessions,))
        with cursor.copy("COPY onboarding_workspaces (name, slug, join_code, joinable, created_at) FROM STDIN") as copy:
            for name, slug, code in workspaces:
                copy.write_row((name, slug, code, True, now))
        with cursor.copy(
            "COPY onboarding_sessions (id, user_id, state, revision, version, answer_schema_version, "
            "current_step, data, started_at, updated_at, completed_at) FROM STDIN"
        ) as copy:
            for i in range(1, sessions + 1):
                name, _slug, code = rng.choice(workspaces)
                completed_at = now - timedelta(seconds=sessions - i)
                ai_question = rng.random() < 0.5  # every session decided the experiment's flag: half are in
                data = {
                    "answers": answers_for(rng, (name, code), ai_question=ai_question),
                    "completed_steps": [],
                    "skipped_steps": [],
                    "drafts": {},
                    "history": [],
                    "flags": {"onboarding-ai-question": ai_question},
                }
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128)),
                        i,
                        "completed",
                        uuid.uuid4().hex[:20],
                        1,
                        1,
                        "",
                        json.dumps(data),
                        completed_at - timedelta(minutes=5),
                        completed_at,
                        completed_at,
                    )
                )
    raw_cursor().connection.commit()


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def raw_limit(batch_size: int) -> dict[str, float]:
    """Write the snapshot rows the backfill wrote into a scratch table, per batch: executemany, one
    multi-row INSERT, COPY. Returns rows/s by method."""
    columns = (
        "session_id, user_id, workspace_id, role, answer_schema_version, completed_at, answers, flattened, flags, "
        "ingested_at"
    )
    with raw_cursor() as cursor:
        as_text = columns.replace("answers", "answers::text").replace("flattened", "flattened::text")
        cursor.execute(
            f"SELECT {as_text.replace('flags', 'flags::text')} FROM onboarding_answer_snapshots ORDER BY completed_at"
        )
        rows = cursor.fetchall()
    connection = raw_cursor().connection
    connection.commit()
    placeholders = ", ".join(["%s"] * 10)
    rates = {}
    for method in ("executemany", "multi-row INSERT", "COPY"):
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_snapshots_raw")
            cursor.execute("CREATE TABLE bench_snapshots_raw (LIKE onboarding_answer_snapshots INCLUDING ALL)")
            connection.commit()
            start = time.perf_counter()
            for offset in range(0, len(rows), batch_size):
                batch = rows[offset : offset + batch_size]
                if method == "executemany":
                    cursor.executemany(f"INSERT INTO bench_snapshots_raw ({columns}) VALUES ({placeholders})", batch)
                elif method == "multi-row INSERT":
                    values = ", ".join([f"({placeholders})"] * len(batch))
                    cursor.execute(
                        f"INSERT INTO bench_snapshots_raw ({columns}) VALUES {values}",
                        [value for row in batch for value in row],
                    )
                else:
                    with cursor.copy(f"COPY bench_snapshots_raw ({columns}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                connection.commit()
            rates[method] = len(rows) / (time.perf_counter() - start)
            cursor.execute("DROP TABLE bench_snapshots_raw")
            connection.commit()
    return rates


def median_time(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        samples.append(timed(function)[1])
    return statistics.median(samples)


def totals_vs_json_scan(step: str, question: str, multi: bool) -> tuple[float, float, float, bool]:
    """Time the totals read (SQL, and through the ORM) and the JSON scan; both SQL through psycopg."""
    from aggregation.models import AnswerGroupTotal

    def totals_read():
        with raw_cursor() as cursor:
            cursor.execute(
                "SELECT answer, count FROM onboarding_answer_group_totals WHERE step = %s AND question = %s",
                (step, question),
            )
            return dict(cursor.fetchall())

    def totals_read_orm():
        return dict(AnswerGroupTotal.objects.filter(step=step, question=question).values_list("answer", "count"))

    path = "data->'answers'->%s::text->%s::text"
    sql = (
        (
            f"SELECT value, count(*) FROM onboarding_sessions, jsonb_array_elements_text({path}) AS value "
            "WHERE completed_at IS NOT NULL GROUP BY value"
        )
        if multi
        else (
            f"SELECT {path.replace('->%s::text->%s::text', '->%s::text->>%s::text')} AS value, count(*) FROM onboarding_sessions "
            "WHERE completed_at IS NOT NULL GROUP BY value"
        )
    )

    def json_scan():
        with raw_cursor() as cursor:
            cursor.execute(sql, (step, question))
            return {value: count for value, count in cursor.fetchall()}

    same = totals_read() == json_scan() == totals_read_orm()
    return median_time(totals_read, 50), median_time(totals_read_orm, 50), median_time(json_scan, 5), same


def live_ingestion(count: int) -> float:
    """Ingest ``count`` new completion messages one by one (each its own transaction)."""
    from aggregation.models import AnswerSnapshot
    from aggregation.snapshots.services import snapshot_ingest
    from onboarding.models import OnboardingSession
    from onboarding.services import completion_message

    sessions = list(OnboardingSession.objects.order_by("?")[:count])
    messages = [{**completion_message(session), "session_id": str(uuid.uuid4())} for session in sessions]
    _, seconds = timed(lambda: [snapshot_ingest(message=message) for message in messages])
    AnswerSnapshot.objects.filter(session_id__in=[m["session_id"] for m in messages]).delete()
    from aggregation.snapshots.consistency import totals_repair

    totals_repair()  # take the extra messages' counts back out
    return len(messages) / seconds


def main():
    args = parse_args()
    setup_django(args.database_url)
    from aggregation.snapshots.backfill import answers_backfill

    print(
        f"aggregation benchmark: {args.sessions:,} completed sessions, batch size {args.batch_size}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    _, seconds = timed(generate, args.sessions)
    print(f"generated {args.sessions:,} sessions with COPY in {seconds:.1f}s")

    summary, seconds = timed(answers_backfill, batch_size=args.batch_size)
    backfill_rate = args.sessions / seconds
    print(f"backfill (first run):  {backfill_rate:10,.0f} sessions/s  ({seconds:.1f}s; {dict(summary)})")
    summary, seconds = timed(answers_backfill, batch_size=args.batch_size)
    print(f"backfill (re-run):     {args.sessions / seconds:10,.0f} sessions/s  ({seconds:.1f}s; {dict(summary)})")

    print(
        f"backfill >= 2,000 sessions/s: {'yes' if backfill_rate >= 2000 else 'NO'}; "
        "raw limit (the same rows, psycopg, one transaction per batch; target backfill / raw >= 0.33):"
    )
    for method, rate in raw_limit(args.batch_size).items():
        print(f"  raw {method:17} {rate:10,.0f} rows/s      backfill / raw = {backfill_rate / rate:.2f}")

    live = min(args.live_messages, args.sessions)
    print(
        f"live ingestion:        {live_ingestion(live):10,.0f} messages/s per worker "
        f"(snapshot_ingest x {live:,}, one process, one transaction each)"
    )

    for step, question, multi in (("work-profile", "functions", True), ("profile", "role", False)):
        read, read_orm, scan, same = totals_vs_json_scan(step, question, multi)
        print(
            f"totals {step}.{question}: {read * 1000:.3f} ms (ORM {read_orm * 1000:.3f} ms)   JSON GROUP BY scan: "
            f"{scan * 1000:.1f} ms   ratio {scan / read:,.0f}x (ORM {scan / read_orm:,.0f}x; target >= 100x)  "
            f"same counts: {same}"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
