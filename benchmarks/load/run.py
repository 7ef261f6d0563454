"""End-to-end load: people onboarding at once through `make stack`, then the books checked.

usage: .venv/bin/python benchmarks/load/run.py --database-url postgres://postgres@127.0.0.1:5432/onb_load_stack \\
           --redis-url redis://127.0.0.1:6379/12 [--compare] [--users 50] [--run-time 120] ...

For each configuration (`--compare`: "before" then "after", back to back; otherwise "after", the
product's defaults), it
1. drops and recreates the run's database, empties the run's Redis database;
2. starts the project's own stack, `make stack` (the Procfile: gunicorn with gunicorn.conf.py, a
   Celery worker, beat; DEBUG off) on a free 127.0.0.1 port, with the configuration's environment;
   waits for /readyz and for the worker, and seeds accounts (benchmarks/load/seed.py);
3. runs Locust headless (benchmarks/load/locustfile.py), bounded in users, spawn rate and time,
   against 127.0.0.1 only;
4. waits (bounded) until the outbox has no pending message, then reads from the database the
   completions and the completion -> snapshot lag (`onboarding_sessions.completed_at` ->
   `onboarding_answer_snapshots.ingested_at`), checks that every completed session has its
   snapshot, and runs `manage.py check_onboarding_totals`;
5. stops the stack as Ctrl-C does and prints the figures and the targets met or missed.

With `--webhook-receiver`, a receiver on 127.0.0.1 (benchmarks/webhooks.py's: answers 204, notes
each arrival, its webhook-id and whether its signature verified) is registered for
onboarding.completed with `manage.py add_webhook_endpoint` (the stack runs with
WEBHOOK_ALLOW_PRIVATE_NETWORKS=true), and the run also prints the completion -> receiver latency
(arrival - `onboarding_sessions.completed_at`, first arrival per session) and judges it against
p99 < 2 s.

With `--webhook-receiver-down [SECONDS]` (default 600), the receiver is down for the first SECONDS
of the load (its port refuses connections, as with a stopped process), then comes back on the same
port for `--run-time` more seconds of load; the run waits (bounded by `--webhook-drain-timeout`)
until every delivery is delivered, with the product's own retry schedule, and prints the events
created, received and lost, the webhook-ids per event, the attempts, and the time from the return
to the last delivery beside the schedule's last retry and the live path's latency after the return.
"""

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.load.webhook_receiver import (  # noqa: E402
    Receiver,
    outage_report,
    schedule_read,
)
from benchmarks.local_stack import (  # noqa: E402
    drop_database,
    free_port,
    load_average,
    only_loopback,
    percentile,
    postgres_pids,
    process_cpu_seconds,
    recreate_database,
    seed_accounts,
    wait_for_outbox_drain,
)
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent

# What a real deployment of this size runs with, and says so (the capacity plan, docs/operations.md):
# one proxy in front appends the client's address; the throttles and lock-outs keep their
# production defaults, counted per real client address and per user in Redis.
COMMON_ENV = {
    "TRUSTED_PROXY_COUNT": "1",
    "LOG_LEVEL": "WARNING",
}
# Each configuration is only environment: the product reads every one of these settings.
CONFIGS = {
    # The product as it was before threaded workers and the pool: one request per gunicorn process, and a new
    # PostgreSQL connection for every request and every task.
    "before": {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": "1", "DATABASE_POOL_MAX_SIZE": "0"},
    # The product's defaults now (gunicorn.conf.py, settings): 8 threads per gunicorn process and a
    # pool of PostgreSQL connections in every process.
    "after": {},
}
TARGETS = "zero 5xx, zero lost completions, completion -> snapshot lag p99 < 1 s, PATCH p99 < 100 ms"


def main() -> int:
    args = parse_args()
    names = ["before", "after"] if args.compare else args.config
    results = []
    for name in names:
        results.append(run_configuration(name, args))
    if len(results) > 1:
        print_comparison(results)
    return 0 if all(r["targets_met"] for r in results[-1:]) else 1


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[4:]),
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/onboarding_load"),
        help="the run's own database: dropped and recreated for each configuration",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/11"),
        help="the run's own Redis database (broker and cache): emptied before each configuration",
    )
    parser.add_argument("--users", type=int, default=50, help="concurrent virtual users, staff included (default 50)")
    parser.add_argument("--staff", type=int, default=2, help="of which staff polling the reports (default 2)")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second (default 5)")
    parser.add_argument(
        "--run-time",
        type=int,
        default=120,
        help="seconds of load, ramp-up included (default 120); with --webhook-receiver-down, after the receiver is back",
    )
    parser.add_argument(
        "--think", default="1,5", help="a person's pause between actions, min,max seconds (default 1,5)"
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=sorted(CONFIGS),
        default=None,
        help="configuration(s) to run (default: after)",
    )
    parser.add_argument("--compare", action="store_true", help="run 'before' then 'after' back to back")
    parser.add_argument(
        "--webhook-receiver",
        action="store_true",
        help="register a receiver on 127.0.0.1 for onboarding.completed and measure completion -> receiver latency",
    )
    parser.add_argument(
        "--webhook-receiver-down",
        type=float,
        nargs="?",
        const=600.0,
        default=None,
        metavar="SECONDS",
        help="the receiver refuses connections for the first SECONDS of the load (default 600), then is back: "
        "count events lost and webhook-ids per event, time the drain (implies --webhook-receiver)",
    )
    parser.add_argument(
        "--webhook-drain-timeout",
        type=float,
        default=None,
        help="with --webhook-receiver-down, seconds to wait for every delivery after the load (default 2 x SECONDS + 120)",
    )
    parser.add_argument("--drain-timeout", type=float, default=60, help="seconds to wait for the outbox to drain")
    parser.add_argument("--keep-db", action="store_true", help="leave the last run's database in place")
    parser.add_argument("--log-dir", default=None, help="keep the stack's and Locust's logs here (default: a temp dir)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the stack (e.g. --set WEB_CONCURRENCY=2), after the configuration's",
    )
    add_smoke_flag(
        parser,
        users=3,
        staff=1,
        spawn_rate=3,
        run_time=6,
        think="0.1,0.3",
        drain_timeout=30,
        accounts=40,
        set=["WEB_CONCURRENCY=1", "WORKER_CONCURRENCY=1"],  # one web and one worker process start faster
    )
    parser.set_defaults(accounts=None)  # the smoke run's only: else enough for every login of the run
    args = apply_smoke(parser.parse_args())
    args.config = args.config or ["after"]
    if args.webhook_receiver_down is not None:
        args.webhook_receiver = True
        if args.smoke:
            # A few seconds down, and the same retry code on a schedule of seconds, not minutes.
            args.webhook_receiver_down = min(args.webhook_receiver_down, 5.0)
            args.set = [*args.set, "WEBHOOK_RETRY_BASE_SECONDS=1", "WEBHOOK_SWEEP_SECONDS=1"]
        if args.webhook_drain_timeout is None:
            args.webhook_drain_timeout = 2 * args.webhook_receiver_down + 120
    for url in (args.database_url, args.redis_url):
        if not only_loopback(url):
            parser.error(f"{url}: the load run only ever targets 127.0.0.1")
    return args


def run_configuration(name: str, args) -> dict:
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="onb-load-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env_overrides = {**COMMON_ENV, **CONFIGS[name], **dict(s.split("=", 1) for s in args.set)}
    if args.webhook_receiver:
        env_overrides["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = "true"
    print(f"\n=== configuration {name!r}: {' '.join(f'{k}={v}' for k, v in env_overrides.items())}")
    print(f"    stack on http://127.0.0.1:{port}/ ; logs in {log_dir}; load average {load_average()}")
    recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    stack = Stack(
        port=port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        env=env_overrides,
        log_path=log_dir / f"stack-{name}.log",
        # The people and staff of a run link none of the admin's, the API docs' or DRF's static
        # files (a page that did would answer 500, a failed target): a smoke run does not collect
        # them, which saves nearly all of collectstatic's hashing and compressing.
        make_args=["COLLECTSTATIC_ARGS=-i admin -i drf_spectacular_sidecar -i rest_framework"] if args.smoke else [],
    )
    down = args.webhook_receiver_down
    receiver = (
        Receiver(log_dir / f"webhook-arrivals-{name}.log", down=down is not None) if args.webhook_receiver else None
    )
    outage = {}
    try:
        stack.start()
        if receiver is not None:
            receiver.register(stack)
            if down is None:
                receiver.start()
        seed_file = log_dir / f"seed-{name}.json"
        accounts = args.accounts or max(200, args.users * args.run_time // 10)
        seed_accounts(stack.django_env(), seed_file, accounts=accounts, staff=args.staff)
        cpu_before = stack.cpu_seconds()
        locust = run_locust(
            args,
            port=port,
            seed_file=seed_file,
            results_file=log_dir / f"locust-{name}.json",
            log_path=log_dir / f"locust-{name}.log",
            at=(down, lambda: outage.update(receiver_back(receiver, args.database_url))) if down is not None else None,
        )
        cpu_after = stack.cpu_seconds()
        drained_in = wait_for_outbox_drain(args.database_url, args.drain_timeout)
        books = read_books(args.database_url, locust)
        webhooks = None
        if down is not None:
            webhooks = receiver_outage_figures(receiver, args, locust=locust, **outage)
        elif receiver is not None:
            webhooks = receiver.latencies(args.database_url, args.drain_timeout)
        totals = subprocess.run(
            [sys.executable, "manage.py", "check_onboarding_totals"],
            env=stack.django_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stopped = stack.stop()
        if receiver is not None:
            receiver.stop()
    # A process that started during the load counts whole. PostgreSQL connections that closed
    # during it are not seen: without a pool (a connection per request) that figure is a floor.
    cpu = {kind: 0.0 for kind in ("web", "worker", "beat", "postgres")}
    for (kind, pid), seconds in cpu_after.items():
        cpu[kind] += seconds - cpu_before.get((kind, pid), 0.0)
    locust["password_hash_cpu_seconds"] = json.loads(seed_file.read_text())["password_hash_cpu_seconds"]
    result = summarise(name, args, locust, books, drained_in, totals, stopped, cpu, webhooks)
    if not args.keep_db:
        drop_database(args.database_url)
    return result


def receiver_back(receiver: Receiver, database_url: str) -> dict:
    """Start the receiver again on its port; read the deliveries' schedule a second later (failures in flight landed)."""
    back_at = receiver.start()
    print(f"    webhook receiver back on {receiver.url}", flush=True)
    time.sleep(1)
    return {"back_at": back_at, "scheduled": schedule_read(database_url)}


def receiver_outage_figures(receiver: Receiver, args, *, locust: dict, back_at: float, scheduled: dict) -> dict:
    """Wait (bounded) until every delivery is delivered; return the outage's books as lines and checks."""
    stack_env = {**os.environ, **dict(item.split("=", 1) for item in args.set)}  # what the stack runs with
    retry = [
        f"{k}={v}" for k, v in stack_env.items() if k.startswith("WEBHOOK_") and k != "WEBHOOK_ALLOW_PRIVATE_NETWORKS"
    ]
    print(
        f"    waiting up to {args.webhook_drain_timeout:.0f} s for every webhook delivery; retries on "
        + (f"the schedule of {' '.join(retry)}" if retry else "the product's default schedule"),
        flush=True,
    )
    waited = receiver.wait_delivered(args.database_url, args.webhook_drain_timeout, progress_every=60)
    return outage_report(
        database_url=args.database_url,
        arrivals=receiver.read(),
        down_from=locust["started_at"],
        back_at=back_at,
        scheduled=scheduled,
        waited=waited,
    )


class Stack:
    """`make stack` on a port of our own: started, waited for, measured and stopped like Ctrl-C."""

    def __init__(self, *, port, database_url, redis_url, env, log_path, make_args=()):
        self.port, self.database_url, self.redis_url, self.extra_env, self.log_path = (
            port,
            database_url,
            redis_url,
            env,
            log_path,
        )
        self.make_args = list(make_args)
        self.process = None

    def start(self, timeout: float = 600) -> None:
        self.log = open(self.log_path, "w")
        command = [
            "make",
            "--no-print-directory",
            "stack",
            "HOST=127.0.0.1",
            f"PORT={self.port}",
            f"STACK_DATABASE_URL={self.database_url}",
            f"STACK_REDIS_URL={self.redis_url}",
            *self.make_args,
        ]
        self.env = {**os.environ, **self.extra_env, "SECRET_KEY": "load-run-" + os.urandom(16).hex()}
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"make stack exited with {self.process.returncode}; see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.5)
        raise SystemExit(f"the stack was not ready within {timeout:.0f} s; see {self.log_path}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                web_ready = response.status == 200
        except OSError:
            return False
        log = self.log_path.read_text(errors="replace")
        return web_ready and re.search(r"worker\.\d+\s*\|.*\bready\.", log) is not None

    def django_env(self) -> dict:
        return {**self.env, "DEBUG": "false", "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}

    def processes(self) -> dict[int, str]:
        """Every process under `make stack`, by pid, named web, worker or beat."""
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
        found, frontier = {}, [self.process.pid]
        while frontier:
            pid = frontier.pop()
            for child, parent in parents.items():
                if parent == pid:
                    frontier.append(child)
                    cmdline = (
                        Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        if Path(f"/proc/{child}/cmdline").exists()
                        else ""
                    )
                    kind = (
                        "web"
                        if "gunicorn" in cmdline
                        else "worker"
                        if " worker" in cmdline
                        else "beat"
                        if " beat" in cmdline
                        else None
                    )
                    if kind:
                        found[child] = kind
        return found

    def cpu_seconds(self) -> dict[tuple[str, int], float]:
        """CPU seconds used so far by each web, worker and beat process, and each database connection."""
        processes = {**self.processes(), **{pid: "postgres" for pid in postgres_pids(self.database_url)}}
        return {
            (kind, pid): seconds for pid, kind in processes.items() if (seconds := process_cpu_seconds(pid)) is not None
        }

    def stop(self, timeout: float = 60) -> str:
        """Ctrl-C: SIGINT to make and honcho, which stop gunicorn, the worker and beat."""
        if self.process is None or self.process.poll() is not None:
            return "not running"
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout)
            leftovers = self.processes()
            return f"stopped cleanly in {time.monotonic() - started:.1f} s" + (
                f" ({len(leftovers)} left)" if leftovers else ""
            )
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return f"did not stop within {timeout:.0f} s: killed"
        finally:
            self.log.close()


def run_locust(args, *, port, seed_file, results_file, log_path, at=None) -> dict:
    """Run Locust headless and return its results; ``at``: (seconds, action) to call that far into the load.

    With ``at``, the load lasts those seconds more than --run-time.
    """
    run_time = args.run_time + (at[0] if at else 0)
    env = {
        **os.environ,
        "LOAD_SEED_FILE": str(seed_file),
        "LOAD_RESULTS_FILE": str(results_file),
        "LOAD_THINK_SECONDS": args.think,
        "LOAD_STAFF_USERS": str(args.staff),
    }
    command = [
        str(VENV_BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--only-summary",
        "--host",
        f"http://127.0.0.1:{port}",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{run_time:.0f}s",
        "--stop-timeout",
        "0",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    print(
        f"    locust: {args.users} users ({args.staff} staff), spawn {args.spawn_rate}/s, {run_time:.0f} s, "
        f"think {args.think} s",
        flush=True,
    )
    deadline = time.monotonic() + run_time + 120
    with open(log_path, "w") as log:
        locust = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if at is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    locust.wait(timeout=at[0])
                at[1]()
            returncode = locust.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            if locust.poll() is None:
                locust.kill()
                locust.wait()
    if returncode:
        raise subprocess.CalledProcessError(returncode, command)
    return json.loads(results_file.read_text())


def read_books(database_url: str, locust: dict) -> dict:
    """Completions, lost ones and the completion -> snapshot lag, from the database."""
    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute("""
            SELECT count(*),
                   count(*) FILTER (WHERE snap.session_id IS NULL),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY snap.ingested_at - s.completed_at),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY snap.ingested_at - s.completed_at),
                   max(snap.ingested_at - s.completed_at),
                   min(s.completed_at), max(s.completed_at)
              FROM onboarding_sessions s
              LEFT JOIN onboarding_answer_snapshots snap ON snap.session_id = s.id
             WHERE s.state = 'completed'""").fetchone()
        # Where the lag goes: the rest of the completing request until its commit and publish
        # (completed_at -> the outbox row's first dispatch), then the broker and the worker.
        split = db.execute("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY o.dispatched_at - s.completed_at),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY o.dispatched_at - s.completed_at),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY snap.ingested_at - o.dispatched_at),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY snap.ingested_at - o.dispatched_at),
                   count(*) FILTER (WHERE o.attempts > 1)
              FROM onboarding_sessions s
              JOIN onboarding_outbox o ON o.session_id = s.id
              JOIN onboarding_answer_snapshots snap ON snap.session_id = s.id
             WHERE s.state = 'completed'""").fetchone()
        outbox = dict(db.execute("SELECT state, count(*) FROM onboarding_outbox GROUP BY state").fetchall())
        snapshots = db.execute("SELECT count(*) FROM onboarding_answer_snapshots").fetchone()[0]
    completed, lost, p50, p99, worst, first, last = row
    seconds = lambda d: d.total_seconds() if d is not None else None  # noqa: E731
    return {
        "completed": completed,
        "lost": lost,
        "snapshots": snapshots,
        "outbox": outbox,
        "to_dispatch_p50": seconds(split[0]),
        "to_dispatch_p99": seconds(split[1]),
        "to_ingest_p50": seconds(split[2]),
        "to_ingest_p99": seconds(split[3]),
        "redispatched": split[4],
        "lag_p50": seconds(p50),
        "lag_p99": seconds(p99),
        "lag_max": seconds(worst),
    }


def summarise(name, args, locust, books, drained_in, totals, stopped, cpu, webhooks=None) -> dict:
    duration = (locust["stopped_at"] or time.time()) - locust["started_at"]
    print(
        f"\n--- {name}: {args.users} users ({args.users - args.staff} onboarding, {args.staff} staff) for "
        f"{duration:.0f} s, spawn {args.spawn_rate}/s, think {args.think} s; load average now {load_average()}"
    )
    print(f"{'endpoint':<46}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    every = []
    for key in sorted(locust["times_ms"], key=lambda k: (k.split()[1], k.split()[0])):
        times = locust["times_ms"][key]
        every += times
        statuses = " ".join(f"{s}:{n}" for s, n in sorted(locust["statuses"][key].items()))
        print(
            f"{key:<46}{len(times):>9}{len(times) / duration:>8.1f}{percentile(times, 0.5):>9.1f}"
            f"{percentile(times, 0.95):>9.1f}{percentile(times, 0.99):>9.1f}{max(times):>9.1f}  {statuses}"
        )
    print(
        f"{'all':<46}{len(every):>9}{len(every) / duration:>8.1f}{percentile(every, 0.5):>9.1f}"
        f"{percentile(every, 0.95):>9.1f}{percentile(every, 0.99):>9.1f}{max(every):>9.1f}"
    )
    windows = {}
    for started, ms in locust.get("patch_timeline", []):
        windows.setdefault(int((started - locust["started_at"]) // 30), []).append(ms)
    print(
        "PATCH p99 ms by 30 s of the run: "
        + ", ".join(f"{w * 30}-{w * 30 + 30} s: {percentile(times, 0.99):.0f}" for w, times in sorted(windows.items()))
    )
    ramp = (
        args.users / args.spawn_rate
    )  # every user started: the load the targets are about, without the ramp's burst of logins
    steady = [ms for started, ms in locust.get("patch_timeline", []) if started - locust["started_at"] >= ramp]
    if steady:
        print(
            f"PATCH once all {args.users} users had started (from {ramp:.0f} s): {len(steady)} requests, "
            f"p50 {percentile(steady, 0.5):.1f} ms, p99 {percentile(steady, 0.99):.1f} ms (the target is judged on the whole run)"
        )
    unexpected = {f"{status} {key}": n for key, by in locust["unexpected"].items() for status, n in by.items()}
    server_errors = sum(
        n for key, by in locust["statuses"].items() for s, n in by.items() if int(s) >= 500 or int(s) == 0
    )
    intended = {
        f"{s} {key}": n
        for key, by in locust["statuses"].items()
        for s, n in by.items()
        if 400 <= int(s) < 500 and n > locust["unexpected"].get(key, {}).get(s, 0)
    }
    print(f"errors by status, unexpected: {', '.join(f'{k} x{n}' for k, n in unexpected.items()) or 'none'}")
    for text, n in sorted(locust.get("exceptions", {}).items()):
        print(f"  no answer (status 0) x{n}: {text}")
    print(
        f"  4xx the scenario asks for (stale tab 409, invalid answer 400): "
        f"{', '.join(f'{k} x{n}' for k, n in intended.items()) or 'none'}"
    )
    print(f"people: {', '.join(f'{k} {n}' for k, n in sorted(locust['people'].items())) or 'none finished'}")
    print(
        f"completions: {books['completed']} in {duration:.0f} s = {books['completed'] / duration:.2f}/s; "
        f"snapshots {books['snapshots']}; outbox {books['outbox']}; "
        + (
            f"drained {drained_in:.1f} s after the load stopped"
            if drained_in is not None
            else f"NOT drained within {args.drain_timeout:.0f} s"
        )
    )
    lag = (
        f"p50 {books['lag_p50'] * 1000:.0f} ms, p99 {books['lag_p99'] * 1000:.0f} ms, max {books['lag_max'] * 1000:.0f} ms"
        + f" (completed_at -> published p50 {books['to_dispatch_p50'] * 1000:.0f} / p99 "
        f"{books['to_dispatch_p99'] * 1000:.0f} ms; published -> ingested p50 {books['to_ingest_p50'] * 1000:.0f} / p99 "
        f"{books['to_ingest_p99'] * 1000:.0f} ms; sent again by the sweep: {books['redispatched']})"
        if books["lag_p99"] is not None
        else "no snapshots"
    )
    print(f"completion -> snapshot lag: {lag}")
    print(f"lost completions (completed sessions without a snapshot): {books['lost']}")
    totals_line = (totals.stdout.strip() or totals.stderr.strip()).splitlines()[-1:] or [""]
    print(f"check_onboarding_totals: exit {totals.returncode} ({totals_line[0]})")
    per = books["completed"] or 1
    print(
        "CPU seconds during the load: "
        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        + "; per completed onboarding: "
        + ", ".join(f"{k} {v / per * 1000:.0f} ms" for k, v in cpu.items())
    )
    logins = sum(len(locust["times_ms"].get(k, [])) for k in ("POST /api/auth/token", "POST /accounts/signup/"))
    hashing = logins * locust["password_hash_cpu_seconds"]
    print(
        f"  of the web's, password hashing (PBKDF2, {locust['password_hash_cpu_seconds'] * 1000:.0f} ms each, "
        f"x{logins} logins and sign-ups): ~{hashing:.1f} s; the rest: {max(0.0, cpu['web'] - hashing) / per * 1000:.0f} ms "
        f"per completed onboarding"
    )
    for line in webhooks["lines"] if webhooks is not None else []:
        print(line)
    print(f"stack: {stopped}")
    patch = locust["times_ms"].get("PATCH /api/users/me/onboarding-progress", [0])
    checks = {
        "zero 5xx": server_errors == 0,
        "zero lost completions": books["lost"] == 0 and drained_in is not None and books["completed"] > 0,
        "totals check exits 0": totals.returncode == 0,
        "lag p99 < 1 s": books["lag_p99"] is not None and books["lag_p99"] < 1,
        "PATCH p99 < 100 ms": percentile(patch, 0.99) < 100,
    }
    checks.update(webhooks["checks"] if webhooks is not None else {})
    print("targets: " + "; ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in checks.items()))
    return {
        "name": name,
        "targets_met": all(checks.values()),
        "checks": checks,
        "duration": duration,
        "requests": len(every),
        "patch_p50": percentile(patch, 0.5),
        "patch_p99": percentile(patch, 0.99),
        "all_p99": percentile(every, 0.99),
        "server_errors": server_errors,
        "completions": books["completed"],
        "lag_p50": books["lag_p50"],
        "lag_p99": books["lag_p99"],
        "lost": books["lost"],
        "cpu": cpu,
        "totals_exit": totals.returncode,
    }


def print_comparison(results: list[dict]) -> None:
    print("\n=== before / after (same run)")
    rows = [
        ("requests/s", lambda r: f"{r['requests'] / r['duration']:.1f}"),
        ("PATCH p50 ms", lambda r: f"{r['patch_p50']:.1f}"),
        ("PATCH p99 ms", lambda r: f"{r['patch_p99']:.1f}"),
        ("all requests p99 ms", lambda r: f"{r['all_p99']:.1f}"),
        ("5xx / no answer", lambda r: str(r["server_errors"])),
        ("completions/s", lambda r: f"{r['completions'] / r['duration']:.2f}"),
        ("lag p50 ms", lambda r: f"{r['lag_p50'] * 1000:.0f}" if r["lag_p50"] is not None else "-"),
        ("lag p99 ms", lambda r: f"{r['lag_p99'] * 1000:.0f}" if r["lag_p99"] is not None else "-"),
        ("lost completions", lambda r: str(r["lost"])),
        ("check_onboarding_totals exit", lambda r: str(r["totals_exit"])),
        ("web CPU ms / completion", lambda r: f"{r['cpu']['web'] / (r['completions'] or 1) * 1000:.0f}"),
        ("postgres CPU ms / completion", lambda r: f"{r['cpu']['postgres'] / (r['completions'] or 1) * 1000:.0f}"),
        ("all targets met", lambda r: "yes" if r["targets_met"] else "no"),
    ]
    print(f"{'':<30}" + "".join(f"{r['name']:>12}" for r in results))
    for label, cell in rows:
        print(f"{label:<30}" + "".join(f"{cell(r):>12}" for r in results))
    print(f"targets: {TARGETS}")


if __name__ == "__main__":
    sys.exit(main())
