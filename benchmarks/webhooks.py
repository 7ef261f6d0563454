"""Benchmark webhook delivery; not a test, it only prints figures and ratios.

    .venv/bin/python benchmarks/webhooks.py                                  # 2,000 deliveries, 200 completions
    .venv/bin/python benchmarks/webhooks.py --deliveries 300 --completions 30   # a quick run

Everything runs on 127.0.0.1: its own PostgreSQL database (``--database-url``, default onb_bench_webhooks,
created and migrated if missing), a Redis database (``--redis-url``, flushed), a receiver process
(http.server answering 204 and noting when each request arrived) and one ``celery worker`` process
(solo pool: one delivery at a time). In the same run it measures:
1. the baseline: a bare ``requests.post`` loop sending the same signed body to the same receiver;
2. deliveries per second of the worker, from its first attempt's start to its last attempt's end
   (``webhook_attempts``): a backlog handed over by beat's sweep (50 deliveries per task message, as
   after an outage), queued before the worker starts; then the live path, one task message per
   delivery, as each completion hands over its own (a task also sends other due deliveries, up to 50);
3. completion -> receiver latency: sessions completed through the onboarding services one after
   another, each through the whole path (outbox -> the worker ingests -> delivery row -> the worker
   sends); latency = arrival at the receiver - the session's completed_at.
Target: worker >= 0.5 of the bare loop.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/onb_bench_webhooks"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--completions", type=int, default=200)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--receiver", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)  # internal
    add_smoke_flag(parser, deliveries=40, completions=4)
    args = apply_smoke(parser.parse_args())
    if args.receiver:
        return run_receiver(int(args.receiver[0]), args.receiver[1])
    env = setup(args.database_url, args.redis_url)
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"onb-bench-webhooks-{os.getpid()}"
    log_dir.mkdir()
    port = free_port()
    arrivals = log_dir / "arrivals.log"
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(arrivals)], env=env)
    worker = None
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/hooks"
        endpoint, body, headers = prepare(url)
        baseline = bare_requests(url, body, headers, args.deliveries)
        report("bare requests.post loop", args.deliveries, baseline)
        backlog = queue_backlog(endpoint, args.deliveries, args.redis_url)
        worker = start_worker(env, log_dir / "worker.log")
        batched = worker_rate(backlog)
        report("worker, backlog (50/task)", args.deliveries, batched)
        print(f"ratio worker/bare     {batched / baseline:.2f}  (target >= 0.5)", flush=True)
        live = worker_rate(queue_live(endpoint, args.deliveries))
        report("worker, live path", args.deliveries, live)
        print(
            f"ratio worker/bare     {live / baseline:.2f}  (live path: one task message per delivery)",
            flush=True,
        )
        latencies = completion_latencies(args.completions, arrivals)
        report_latency(latencies)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        receiver.terminate()
        receiver.wait(timeout=10)


def setup(database_url: str, redis_url: str) -> dict:
    """Point Django at the benchmark's database and Redis, migrate, and return the environment for the worker."""
    from benchmarks.django_setup import ensure_database

    ensure_database(database_url)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key",
        "SECURE_SSL_REDIRECT": "false",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "DJANGO_SETTINGS_MODULE": "onboarding_project.settings",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # the completions' invitations
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE webhook_attempts, webhook_deliveries, webhook_events, webhook_endpoints CASCADE")
    return env


def prepare(url: str):
    """Register the receiver and return it with a real signed body (a sample completion document)."""
    from django.utils import timezone

    from webhooks.events import ONBOARDING_COMPLETED, event_body, sample_completed_data
    from webhooks.services import endpoint_register
    from webhooks.signing import signed_headers

    endpoint = endpoint_register(url=url, events=[ONBOARDING_COMPLETED])
    now = timezone.now()
    payload = event_body(event_type=ONBOARDING_COMPLETED, data=sample_completed_data(at=now), at=now)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = signed_headers(secrets_in_use=[endpoint.secret], webhook_id="msg_bench", at=now, body=body)
    return endpoint, body, {"Content-Type": "application/json", **headers}


def bare_requests(url: str, body: bytes, headers: dict, n: int) -> float:
    import requests

    started = time.perf_counter()
    for _ in range(n):
        requests.post(url, data=body, headers=headers, timeout=10).raise_for_status()
    return n / (time.perf_counter() - started)


def record_events(endpoint, n: int) -> list[int]:
    """Record ``n`` onboarding.completed events for the endpoint in one transaction; return their deliveries' ids.

    Each event's delivery is handed to the broker when the transaction commits, one task each, as
    completions do.
    """
    from django.db import transaction
    from django.utils import timezone

    from webhooks.events import ONBOARDING_COMPLETED, sample_completed_data
    from webhooks.services import event_record

    data = sample_completed_data(at=timezone.now())
    with transaction.atomic():
        events = [event_record(event_type=ONBOARDING_COMPLETED, data=data, endpoints=[endpoint]) for _ in range(n)]
    return [delivery.pk for event in events for delivery in event.deliveries.all()]


def queue_backlog(endpoint, n: int, redis_url: str) -> list[int]:
    """Queue ``n`` deliveries as a backlog is handed over (after a broker outage): by beat's sweep, 50 per task."""
    import redis

    from webhooks.models import WebhookDelivery
    from webhooks.services import deliveries_dispatch_due

    ids = record_events(endpoint, n)
    redis.Redis.from_url(redis_url).flushdb()  # the broker "lost" the one-per-delivery messages
    WebhookDelivery.objects.filter(pk__in=ids).update(dispatched_at=None)
    while deliveries_dispatch_due():
        pass
    return ids


def queue_live(endpoint, n: int) -> list[int]:
    return record_events(endpoint, n)


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).parent / "celery"
    worker = subprocess.Popen(
        [str(celery), "-A", "onboarding_project", "worker", "--pool", "solo", "-l", "warning"]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return worker


def worker_rate(ids: list[int]) -> float:
    """Wait until the worker delivered ``ids``; return deliveries per second from its first attempt's start to its last's end."""
    from django.db.models import Max, Min

    from webhooks.models import WebhookAttempt, WebhookDelivery

    deadline = time.monotonic() + 600
    while WebhookDelivery.objects.filter(pk__in=ids, state="delivered").count() < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not deliver everything within 10 minutes")
        time.sleep(0.5)
    attempts = WebhookAttempt.objects.filter(delivery_id__in=ids)
    span = attempts.aggregate(first=Min("started_at"), last=Max("started_at"))
    last = attempts.filter(started_at=span["last"]).first()
    seconds = (span["last"] - span["first"]).total_seconds() + last.duration_ms / 1000
    return len(ids) / seconds


def completion_latencies(n: int, arrivals: Path) -> list[float]:
    """Complete ``n`` sessions one after another; return each one's completion -> receiver latency (seconds)."""
    from onboarding.models import OnboardingSession
    from tests.conftest import complete_through_services
    from tests.factories import UserFactory

    stamp = int(time.time())
    completed_at = {}
    for k in range(n):
        session = complete_through_services(
            UserFactory(username=f"bench-{stamp}-{k}"), workspace_name=f"Bench {stamp} {k}"
        )
        completed_at[str(session.pk)] = session.completed_at.timestamp()
    deadline = time.monotonic() + 300
    while len(seen := read_arrivals(arrivals)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(seen)} of {n} completions reached the receiver within 5 minutes")
        time.sleep(0.5)
    assert OnboardingSession.objects.filter(pk__in=list(completed_at)).count() == n
    return sorted(seen[session_id] - at for session_id, at in completed_at.items() if session_id in seen)


def read_arrivals(path: Path) -> dict[str, float]:
    """Return each session's first arrival time at the receiver (its log: ``time session_id webhook_id verified``)."""
    arrived = {}
    for line in path.read_text().splitlines():
        at, session_id = line.split(" ", 2)[:2]
        arrived.setdefault(session_id, float(at))
    return arrived


def run_receiver(port: int, log_path: str) -> None:
    """Answer every POST with 204 and note each completion's arrival: time, session, webhook-id, signature.

    With WEBHOOK_RECEIVER_SECRET set (the endpoint's secret), each signature is verified with the
    ``standardwebhooks`` package, as a receiver would, and noted ``ok`` or ``bad``; without, ``-``.
    """
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    secret = os.environ.get("WEBHOOK_RECEIVER_SECRET")
    verifier = Webhook(secret) if secret else None
    log = open(log_path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()
            webhook_id = self.headers.get("webhook-id", "msg_bench")
            if webhook_id == "msg_bench":
                return
            verified = "-"
            if verifier is not None:
                try:
                    verifier.verify(body, dict(self.headers.items()), json_parse=False)
                    verified = "ok"
                except WebhookVerificationError:
                    verified = "bad"
            session_id = json.loads(body)["data"]["session_id"]
            if session_id != "00000000-0000-4000-8000-000000000000":  # the sample of the throughput run
                log.write(f"{arrived} {session_id} {webhook_id} {verified}\n")

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def report(name: str, n: int, rate: float) -> None:
    print(f"{name:<22}{n:>7,} deliveries {rate:>9,.0f} per second", flush=True)


def report_latency(latencies: list[float]) -> None:
    def pct(p):
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    print(
        f"completion -> receiver {len(latencies):>5} completions  p50 {pct(50) * 1000:,.0f} ms"
        f"  p99 {pct(99) * 1000:,.0f} ms  max {latencies[-1] * 1000:,.0f} ms"
        f"  mean {statistics.mean(latencies) * 1000:,.0f} ms  (target p99 < 2 s)",
        flush=True,
    )
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the receiver did not start")


if __name__ == "__main__":
    main()
