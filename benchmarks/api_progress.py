"""Benchmark: GET and PATCH /api/users/me/onboarding-progress beside a bare pk read + UPDATE.

Not a test: it prints figures and the PATCH/baseline ratio, and never fails on a time.

    .venv/bin/python benchmarks/api_progress.py [--rounds 3] [--seconds 5] [--threads 4] [--workers 2]

It creates (drops first) its own PostgreSQL database (default ``onb_bench_api`` on
postgres://postgres@127.0.0.1:5432), migrates it, seeds one user and session per client
thread, serves the project with ``gunicorn onboarding_project.wsgi -w 2`` on 127.0.0.1 with
the settings ``benchmarks.baseline_site.settings`` (the project's, whose URLconf adds
``POST /api/bench/baseline/<session_id>``: one
primary-key read + one UPDATE, answered as JSON by plain Django in the same process), and
drives it from ``http.client`` threads (one connection each; gunicorn's sync workers close it
after each response and the client reconnects) for a bounded time per scenario, the three
scenarios interleaved over a few rounds so drifting background load hits them alike:

- baseline: POST /api/bench/baseline/<session_id>
- GET progress: bearer token, the full progress document
- PATCH progress: bearer token, alternating ``save`` of profile and ``draft`` of work-profile,
  each with the revision the previous response returned (so every write is a real write).

Loopback only. The client threads share the machine with the server, so absolute figures
depend on the host; the ratio is the figure to read.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-password-not-secret"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (no database name)",
    )
    parser.add_argument("--database", default="onb_bench_api")
    parser.add_argument("--port", type=int, default=0, help="0: a free port chosen at start")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=4, help="client threads (one user and session each)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per scenario and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time per scenario and round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="scenarios run interleaved this many times, so drifting background load hits all alike",
    )
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per scenario")
    parser.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place")
    add_smoke_flag(parser, rounds=1, seconds=0.5, warmup=0.2, threads=1, workers=1)
    return apply_smoke(parser.parse_args())


def database_url(args) -> str:
    parts = urlsplit(args.pg_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{args.database}", "", ""))


def server_env(args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(
        {
            # The project's settings plus the baseline's URL (benchmarks/baseline_site/).
            "DJANGO_SETTINGS_MODULE": "benchmarks.baseline_site.settings",
            "DATABASE_URL": database_url(args),
            "DEBUG": "false",  # DEBUG keeps every query in memory: not what production runs
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on 127.0.0.1, as `make stack` serves
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "API_WRITE_THROTTLE_RATE": "",  # the throttle is off: the benchmark measures the endpoint
            "API_TOKEN_THROTTLE_RATE": "",
            "API_ACCESS_TOKEN_LIFETIME_SECONDS": "3600",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
    )
    return env


def recreate_database(args) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')


def drop_database(args) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


SEED = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from onboarding import services
User = get_user_model()
hashed = make_password({password!r})
out = []
for n in range({count}):
    user = User.objects.create(username=f"bench{{n}}", email=f"bench{{n}}@example.org", password=hashed)
    session = services.session_get_or_start(user=user, source="system")
    out.append({{"username": user.username, "session_id": str(session.pk)}})
print(json.dumps(out))
"""


def migrate_and_seed(args, env) -> list[dict]:
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [PYTHON, "-c", SEED.format(password=PASSWORD, count=args.threads)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(seeded.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, env) -> subprocess.Popen:
    args.port = args.port or free_port()
    # gunicorn also reads ./gunicorn.conf.py (gthread threads): the sync worker is named here so
    # this benchmark keeps measuring what it always has, one request per process at a time.
    command = [
        str(Path(PYTHON).parent / "gunicorn"),
        "onboarding_project.wsgi",
        "-w",
        str(args.workers),
        "--worker-class",
        "sync",
        "--threads",
        "1",
        "-b",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/api/schema/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def request(conn, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload


def obtain_tokens(args, users) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    for user in users:
        status, payload = request(conn, "POST", "/api/auth/token", {"username": user["username"], "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"token request failed: {status} {payload[:200]!r}")
        user["token"] = json.loads(payload)["access"]
    conn.close()


class Client(threading.Thread):
    """One keep-alive connection, one user; records the latency of each request in the window."""

    def __init__(self, args, user, scenario, start_at, measure_from, stop_at):
        super().__init__(daemon=True)
        self.args, self.user, self.scenario = args, user, scenario
        self.start_at, self.measure_from, self.stop_at = start_at, measure_from, stop_at
        self.latencies: list[float] = []
        self.errors = 0
        self.revision = None
        self.turn = 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=30)
        if self.scenario == "patch":
            status, payload = request(conn, "GET", "/api/users/me/onboarding-progress", token=self.user["token"])
            self.revision = json.loads(payload)["revision"]
        while time.monotonic() < self.start_at:
            time.sleep(0.001)
        cap = self.args.max_requests // self.args.threads
        while len(self.latencies) < cap:
            began = time.monotonic()
            if began >= self.stop_at:
                break
            ok = self.one(conn)
            if began >= self.measure_from:
                self.latencies.append(time.monotonic() - began)
                self.errors += 0 if ok else 1
        conn.close()

    def one(self, conn) -> bool:
        if self.scenario == "baseline":
            status, _ = request(conn, "POST", f"/api/bench/baseline/{self.user['session_id']}", {})
            return status == 200
        if self.scenario == "get":
            status, _ = request(conn, "GET", "/api/users/me/onboarding-progress", token=self.user["token"])
            return status == 200
        self.turn += 1
        if self.turn % 2:
            body = {
                "revision": self.revision,
                "step": "profile",
                "action": "save",
                "answers": {"fullName": f"Ada {self.turn}", "role": "engineering"},
            }
        else:
            body = {
                "revision": self.revision,
                "step": "workProfile",
                "action": "draft",
                "answers": {"teamName": f"Engines {self.turn}"},
            }
        status, payload = request(conn, "PATCH", "/api/users/me/onboarding-progress", body, token=self.user["token"])
        if status in (200, 409):
            document = json.loads(payload)
            self.revision = document["revision"] if status == 200 else document["current"]["revision"]
        return status == 200


def run_scenario(args, users, scenario) -> list[float]:
    """Run one scenario for --warmup + --seconds; return the latencies (s) of its measured requests."""
    now = time.monotonic()
    start_at = now + 0.2
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.seconds
    clients = [Client(args, user, scenario, start_at, measure_from, stop_at) for user in users]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    errors = sum(c.errors for c in clients)
    return [x for client in clients for x in client.latencies], errors


def summarise(scenario, latencies, errors, measured_seconds) -> dict:
    latencies = sorted(latencies)
    count = len(latencies)
    return {
        "scenario": scenario,
        "requests": count,
        "errors": errors,
        "rps": count / measured_seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000 if latencies else float("nan"),
    }


LOAD_BEFORE = ""
LABELS = {"baseline": "baseline (pk read + UPDATE)", "get": "GET progress", "patch": "PATCH progress"}


def main():
    global LOAD_BEFORE
    args = parse_args()
    LOAD_BEFORE = " ".join(f"{x:.2f}" for x in os.getloadavg())
    env = server_env(args)
    print(f"Preparing database {args.database} ...", flush=True)
    recreate_database(args)
    server = None
    try:
        users = migrate_and_seed(args, env)
        server = start_server(args, env)
        obtain_tokens(args, users)
        scenarios = ("baseline", "get", "patch")
        collected = {scenario: ([], 0) for scenario in scenarios}
        for _ in range(args.rounds):
            for scenario in scenarios:
                latencies, errors = run_scenario(args, users, scenario)
                collected[scenario] = (collected[scenario][0] + latencies, collected[scenario][1] + errors)
        results = [summarise(s, *collected[s], args.seconds * args.rounds) for s in scenarios]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep_db:
            drop_database(args)

    print()
    print(
        f"gunicorn -w {args.workers} (sync) on 127.0.0.1, PostgreSQL, {args.threads} client threads, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s measured per scenario (after {args.warmup:g} s warm-up each), "
        f"CPUs: {os.cpu_count()}, load average before: {LOAD_BEFORE}"
    )
    print(f"{'scenario':30} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(
            f"{LABELS[r['scenario']]:30} {r['requests']:>9} {r['rps']:>9.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>7}"
        )
    by = {r["scenario"]: r for r in results}
    print()
    print(f"GET/baseline throughput ratio:   {by['get']['rps'] / by['baseline']['rps']:.2f}")
    print(f"PATCH/baseline throughput ratio: {by['patch']['rps'] / by['baseline']['rps']:.2f}  (target >= 0.50)")


if __name__ == "__main__":
    main()
