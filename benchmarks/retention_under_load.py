"""Benchmark: PATCH latency of the progress API while the retention purges old events (not a test).

In one run it

1. creates (drops first) its own database (default ``onb_bench_retention``), migrates it, seeds one
   user and session per client thread, as ``benchmarks/api_progress.py`` does, and serves it the same
   way (gunicorn sync workers on 127.0.0.1, the throttles off);
2. inserts ``--events`` old events to purge with one ``INSERT ... SELECT generate_series``: named
   ``resumed`` (no funnel figure counts it), 400 days old (past ONBOARDING_RETENTION_EVENTS_DAYS),
   and behind the fold's watermark (``onboarding_funnel_fold_state.folded_until`` set just after
   them, as a fold that reached them would have left it): exactly what the retention may delete;
3. runs the PATCH load (``api_progress.py``'s clients) for ``--baseline-seconds`` and records its
   p50/p99;
4. runs the same load while a separate process runs the product's retention
   (``aggregation.retention.retention_apply``, ``--batch`` rows per transaction, as beat does) until
   every purge is done, and records the PATCH p50/p99 during the purge, the purge's duration and rate;
5. prints both p99s beside each other and their ratio (target <= 2).

    .venv/bin/python benchmarks/retention_under_load.py                      # 1,000,000 events
    .venv/bin/python benchmarks/retention_under_load.py --events 200000      # a smaller size

Loopback only; the client threads, the server, the purge and PostgreSQL share the machine, so the
ratio is the figure to read. It never fails on a time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import api_progress  # noqa: E402
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

PYTHON = sys.executable

# Runs the product's retention in its own process (as the beat task's worker would), once told to go.
PURGE = """
import json, sys, time, django
django.setup()
from aggregation.retention import retention_apply
print("ready", flush=True)
sys.stdin.readline()
began = time.monotonic()
outcome = retention_apply(batch={batch})
print(json.dumps({{"seconds": time.monotonic() - began, "deleted": outcome.deleted,
                   "stopped_early": outcome.stopped_early}}), flush=True)
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (no database name)",
    )
    parser.add_argument("--database", default="onb_bench_retention")
    parser.add_argument("--events", type=int, default=1_000_000, help="old, folded events to purge (default 1,000,000)")
    parser.add_argument(
        "--batch", type=int, default=1000, help="rows per purge transaction (ONBOARDING_RETENTION_BATCH)"
    )
    parser.add_argument("--baseline-seconds", type=float, default=20.0, help="measured PATCH load without the purge")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load before the baseline")
    parser.add_argument("--port", type=int, default=0, help="0: a free port chosen at start")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=4, help="client threads (one user and session each)")
    parser.add_argument("--max-requests", type=int, default=10_000_000, help="cap per phase")
    parser.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place")
    add_smoke_flag(parser, events=2000, batch=200, baseline_seconds=1, warmup=0.2, threads=1, workers=1)
    return apply_smoke(parser.parse_args())


def insert_old_events(args, users) -> float:
    """Insert ``args.events`` purgeable events and put the fold's watermark just after them; return seconds."""
    import psycopg

    began = time.monotonic()
    session_ids = [user["session_id"] for user in users]
    with psycopg.connect(api_progress.database_url(args)) as conn:
        user_ids = [
            conn.execute("SELECT user_id FROM onboarding_sessions WHERE id = %s", (sid,)).fetchone()[0]
            for sid in session_ids
        ]
        # Spread over the seeded sessions; one second apart, the newest 400 days old.
        conn.execute(
            """
            INSERT INTO onboarding_events (session_id, user_id, name, step, source, detail, created_at)
            SELECT (%(sessions)s::uuid[])[1 + n %% %(count)s], (%(users)s::int[])[1 + n %% %(count)s],
                   'resumed', '', 'system', '{}'::jsonb, now() - interval '400 days' - n * interval '1 second'
            FROM generate_series(0, %(events)s - 1) AS n
            """,
            {"sessions": session_ids, "users": user_ids, "count": len(session_ids), "events": args.events},
        )
        conn.execute(
            """
            INSERT INTO onboarding_funnel_fold_state (id, folded_until, folded_at)
            VALUES (1, now() - interval '399 days', now())
            ON CONFLICT (id) DO UPDATE SET folded_until = GREATEST(
                onboarding_funnel_fold_state.folded_until, EXCLUDED.folded_until)
            """
        )
    with psycopg.connect(api_progress.database_url(args), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE onboarding_events")
    return time.monotonic() - began


def old_events_left(args) -> int:
    import psycopg

    with psycopg.connect(api_progress.database_url(args)) as conn:
        return conn.execute(
            "SELECT count(*) FROM onboarding_events WHERE created_at < now() - interval '399 days'"
        ).fetchone()[0]


def run_load(args, users, *, seconds: float | None, purge_env=None):
    """Run the PATCH clients for ``seconds``, or, with ``purge_env``, for as long as the purge runs.

    Return (latencies, errors, measured seconds, the purge's JSON outcome or None).
    """
    args.threads = len(users)
    purge, outcome = None, None
    if purge_env is not None:
        purge = subprocess.Popen(
            [PYTHON, "-c", PURGE.format(batch=args.batch)],
            cwd=ROOT,
            env=purge_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if purge.stdout.readline().strip() != "ready":
            raise SystemExit("the purge process did not start")
    start_at = time.monotonic() + 0.2
    measure_from = start_at + (args.warmup if purge is None else 0)
    stop_at = measure_from + seconds if seconds is not None else float("inf")
    clients = [api_progress.Client(args, user, "patch", start_at, measure_from, stop_at) for user in users]
    for client in clients:
        client.start()
    if purge is not None:
        while time.monotonic() < start_at:
            time.sleep(0.01)
        purge.stdin.write("go\n")
        purge.stdin.flush()
        outcome = json.loads(purge.stdout.readline())
        if purge.wait(timeout=60) != 0:
            raise SystemExit(f"the purge process exited with {purge.returncode}")
        stop_at = time.monotonic()
        for client in clients:
            client.stop_at = stop_at
    for client in clients:
        client.join()
    latencies = [x for client in clients for x in client.latencies]
    errors = sum(client.errors for client in clients)
    return latencies, errors, stop_at - measure_from, outcome


def figures(latencies) -> tuple[float, float]:
    ordered = sorted(latencies)
    if not ordered:
        return float("nan"), float("nan")
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main():
    args = parse_args()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    env = api_progress.server_env(args)
    purge_env = {**env, "ONBOARDING_RETENTION_BATCH": str(args.batch)}
    print(f"Preparing database {args.database} ...", flush=True)
    api_progress.recreate_database(args)
    server = None
    try:
        users = api_progress.migrate_and_seed(args, env)
        print(f"Inserting {args.events:,} old, folded events ...", flush=True)
        insert_seconds = insert_old_events(args, users)
        before = old_events_left(args)
        print(f"  {before:,} old events in place in {insert_seconds:.1f} s", flush=True)
        server = api_progress.start_server(args, env)
        api_progress.obtain_tokens(args, users)
        print(f"PATCH load without the purge for {args.baseline_seconds:g} s ...", flush=True)
        base, base_errors, base_seconds, _ = run_load(args, users, seconds=args.baseline_seconds)
        print("PATCH load while the retention purges ...", flush=True)
        during, during_errors, during_seconds, outcome = run_load(args, users, seconds=None, purge_env=purge_env)
        after = old_events_left(args)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep_db:
            api_progress.drop_database(args)

    base_p50, base_p99 = figures(base)
    during_p50, during_p99 = figures(during)
    purged = outcome["deleted"].get("events", 0)
    print()
    print(
        f"gunicorn -w {args.workers} (sync) on 127.0.0.1, PostgreSQL, {args.threads} client threads, "
        f"purge batch {args.batch}, CPUs: {os.cpu_count()}, load average before: {load_before}"
    )
    print(
        f"purge: {purged:,} events deleted in {outcome['seconds']:.1f} s = {purged / outcome['seconds']:,.0f} events/s "
        f"(all deleted: {outcome['deleted']}; stopped early: {outcome['stopped_early']}; "
        f"old events before {before:,}, after {after:,})"
    )
    print(
        f"{'PATCH progress':24} {'seconds':>8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for label, latencies, errors, seconds, p50, p99 in (
        ("without the purge", base, base_errors, base_seconds, base_p50, base_p99),
        ("during the purge", during, during_errors, during_seconds, during_p50, during_p99),
    ):
        print(
            f"{label:24} {seconds:>8.1f} {len(latencies):>9} {len(latencies) / seconds:>8.1f} "
            f"{p50:>8.2f} {p99:>8.2f} {errors:>7}"
        )
    print()
    print(f"PATCH p99 without / during the purge: {base_p99:.2f} ms / {during_p99:.2f} ms")
    print(f"PATCH p99 during/without ratio: {during_p99 / base_p99:.2f}  (target <= 2.00)")


if __name__ == "__main__":
    main()
