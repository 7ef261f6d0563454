"""The load run's webhook receiver, and what reached it: live-path latency, or the books of an outage.

The receiver is benchmarks/webhooks.py's: it answers 204 and logs each completion's arrival time,
session id, webhook-id and whether its signature verified with the endpoint's secret (the
``standardwebhooks`` package). It is registered in the stack for onboarding.completed with
``manage.py add_webhook_endpoint`` (the run sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=true).

Down (``Receiver(down=True)``), its port is held bound but not listening until ``start``: every
connection is refused at once, as when the receiver's process is stopped, and no other process can
take the port meanwhile.
"""

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
# A delivery's webhook-id is "msg_" and its event's UUID in hex (webhooks.models.WebhookEvent.webhook_id).
WEBHOOK_ID_SQL = "'msg_' || replace(e.id::text, '-', '')"


@dataclass(frozen=True)
class Arrival:
    at: float
    session_id: str
    webhook_id: str
    verified: str  # "ok", "bad", or "-" (the receiver had no secret)


class Receiver:
    """benchmarks/webhooks.py's receiver on 127.0.0.1, registered in the stack for onboarding.completed."""

    def __init__(self, arrivals: Path, *, down: bool = False):
        self.arrivals, self.secret, self.process, self._held = arrivals, "", None, None
        arrivals.touch()
        if down:
            self._held = socket.socket()
            self._held.bind(("127.0.0.1", 0))  # bound, never listening: a connection is refused
            self.port = self._held.getsockname()[1]
        else:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def register(self, stack) -> None:
        """Register the receiver's URL in the stack and keep the secret it was given."""
        done = subprocess.run(
            [sys.executable, "manage.py", "add_webhook_endpoint", self.url, "--event", "onboarding.completed"],
            env={**stack.django_env(), "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"},
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        self.secret = json.loads(done.stdout.strip().splitlines()[-1])["secret"]
        state = "down: its port refuses connections" if self._held is not None else "up"
        print(f"    webhook receiver on {self.url} (onboarding.completed), {state}", flush=True)

    def start(self, timeout: float = 30) -> float:
        """Start the receiver on its port (freeing it if held); return the time.time() it accepted a connection."""
        if self._held is not None:
            self._held.close()
            self._held = None
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "webhooks.py"),
                "--receiver",
                str(self.port),
                str(self.arrivals),
            ],
            cwd=ROOT,
            env={**os.environ, "WEBHOOK_RECEIVER_SECRET": self.secret},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return time.time()
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"the webhook receiver exited with {self.process.returncode}") from None
                time.sleep(0.02)
        raise SystemExit(f"the webhook receiver did not accept connections within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self._held is not None:
            self._held.close()

    def read(self) -> list[Arrival]:
        """Every arrival the receiver logged, in order."""
        found = []
        for line in self.arrivals.read_text().splitlines():
            at, session_id, webhook_id, verified = line.split(" ")
            found.append(Arrival(float(at), session_id, webhook_id, verified))
        return found

    def wait_delivered(self, database_url: str, timeout: float, *, progress_every: float = 0) -> float | None:
        """Wait (bounded) until no delivery is pending; return the seconds waited, None if some still are."""
        started = last_progress = time.monotonic()
        with psycopg.connect(database_url, autocommit=True) as db:
            while time.monotonic() - started < timeout:
                pending, first, last = db.execute(
                    "SELECT count(*), extract(epoch FROM min(next_attempt_at) - now()),"
                    " extract(epoch FROM max(next_attempt_at) - now())"
                    " FROM webhook_deliveries WHERE state = 'pending'"
                ).fetchone()
                if pending == 0:
                    return time.monotonic() - started
                if progress_every and time.monotonic() - last_progress >= progress_every:
                    last_progress = time.monotonic()
                    print(
                        f"    {time.monotonic() - started:.0f} s: {pending} deliveries pending, next attempts due "
                        f"from {float(first):+.0f} s to {float(last):+.0f} s",
                        flush=True,
                    )
                time.sleep(0.5)
        return None

    def latencies(self, database_url: str, timeout: float) -> dict:
        """Wait (bounded) until no delivery is pending; return completion -> receiver latency as lines and checks."""
        self.wait_delivered(database_url, timeout)
        completed, states = completions_read(database_url), delivery_states(database_url)
        arrived = first_arrivals(self.read(), key="session_id")
        seconds = sorted(arrived[s] - at for s, at in completed.items() if s in arrived)
        missing = len(set(completed) - set(arrived))
        if not seconds:
            text = f"no arrivals; deliveries {states}"
            return {"lines": [f"completion -> webhook receiver: {text}"], "checks": {"webhook p99 < 2 s": False}}
        p50, p99 = percentile(seconds, 0.5), percentile(seconds, 0.99)
        text = (
            f"{len(seconds)} completions, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {seconds[-1] * 1000:.0f} ms; not arrived {missing}; deliveries {states} (target p99 < 2 s)"
        )
        return {
            "lines": [f"completion -> webhook receiver: {text}"],
            "checks": {"webhook p99 < 2 s": p99 < 2 and not missing},
        }


def schedule_read(database_url: str) -> dict[str, float]:
    """Return each pending delivery's next attempt (Unix time), by webhook-id."""
    with psycopg.connect(database_url, autocommit=True) as db:
        rows = db.execute(
            f"SELECT {WEBHOOK_ID_SQL}, extract(epoch FROM d.next_attempt_at)::float8 FROM webhook_deliveries d"
            " JOIN webhook_events e ON e.id = d.event_id WHERE d.state = 'pending'"
        ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class OutageRecords:
    """What the database and the receiver hold after an outage, keyed by session id or webhook-id."""

    completed: dict[str, float]  # session id -> completed_at (Unix time)
    events: dict[str, tuple[str, float]]  # webhook-id -> (session id, created_at)
    attempts: dict[str, int]  # webhook-id -> attempts recorded
    outcomes: dict[str, int]  # "delivered", "HTTP 503", "ConnectionRefusedError", ... -> attempts
    states: dict[str, int]  # delivery state -> deliveries
    arrivals: list[Arrival]


def outage_read(database_url: str, arrivals: list[Arrival]) -> OutageRecords:
    with psycopg.connect(database_url, autocommit=True) as db:
        events = db.execute(
            f"SELECT {WEBHOOK_ID_SQL}, e.payload->'data'->>'session_id', extract(epoch FROM e.created_at)::float8"
            " FROM webhook_events e WHERE e.type = 'onboarding.completed'"
        ).fetchall()
        attempts = db.execute(
            f"SELECT {WEBHOOK_ID_SQL}, count(a.id) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " LEFT JOIN webhook_attempts a ON a.delivery_id = d.id GROUP BY 1"
        ).fetchall()
        outcomes = db.execute(
            "SELECT CASE WHEN status_code BETWEEN 200 AND 299 THEN 'delivered'"
            " WHEN status_code IS NOT NULL THEN 'HTTP ' || status_code"
            " ELSE split_part(error, ':', 1) END, count(*) FROM webhook_attempts GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    return OutageRecords(
        completed=completions_read(database_url),
        events={webhook_id: (session_id, created) for webhook_id, session_id, created in events},
        attempts=dict(attempts),
        outcomes=dict(outcomes),
        states=delivery_states(database_url),
        arrivals=arrivals,
    )


def outage_report(
    *, database_url: str, arrivals: list[Arrival], down_from: float, back_at: float, scheduled: dict, waited
) -> dict:
    """The books of an outage: events created, received, lost, their webhook-ids, and the drain after the return.

    ``scheduled``: the pending deliveries' next attempts read just after the return (``schedule_read``);
    ``waited``: what ``Receiver.wait_delivered`` returned.
    """
    records = outage_read(database_url, arrivals)
    down = (
        f"webhook receiver down (its port refusing connections) for the first {back_at - down_from:.0f} s of the "
        "load, then back"
    )
    books, books_checks = _outage_books(records, back_at=back_at)
    drain, drain_checks = _outage_drain(records, back_at=back_at, scheduled=scheduled, waited=waited)
    return {"lines": [down, *books, *drain], "checks": {**books_checks, **drain_checks}}


def _outage_books(records: OutageRecords, *, back_at: float) -> tuple[list[str], dict]:
    """Events created, received and lost, and how many webhook-ids each event arrived with."""
    completed, events = records.completed, records.events
    receipts = Counter(arrival.webhook_id for arrival in records.arrivals)
    ids_by_session = defaultdict(set)
    for arrival in records.arrivals:
        ids_by_session[arrival.session_id].add(arrival.webhook_id)
    events_by_session = Counter(session_id for session_id, _ in events.values())
    lost, strangers = set(events) - set(receipts), set(receipts) - set(events)
    several = sum(1 for ids in ids_by_session.values() if len(ids) > 1)
    verified = Counter(arrival.verified for arrival in records.arrivals)
    while_down = sum(1 for _, created in events.values() if created < back_at)
    lines = [
        f"completions during the run: {len(completed)} ({sum(1 for at in completed.values() if at < back_at)} while "
        f"the receiver was down, {sum(1 for at in completed.values() if at >= back_at)} after it was back)",
        f"webhook events created: {len(events)} ({while_down} while down, {len(events) - while_down} after); "
        f"deliveries {records.states}",
        f"events received by the receiver: {len(set(receipts) & set(events))} distinct webhook-ids in "
        f"{sum(receipts.values())} receipts; signatures verified (standardwebhooks): {verified['ok']} of "
        f"{sum(receipts.values())}" + (f"; webhook-ids never created: {len(strangers)}" if strangers else ""),
        f"events lost (created - received): {len(lost)}; completed sessions without an event received: "
        f"{len(set(completed) - set(ids_by_session))}",
        f"redeliveries (a webhook-id received again): {sum(receipts.values()) - len(receipts)}; events with exactly "
        f"one webhook-id: {sum(1 for ids in ids_by_session.values() if len(ids) == 1)} of {len(ids_by_session)} "
        f"(more than one: {several}; sessions with more than one event: "
        f"{sum(1 for n in events_by_session.values() if n > 1)})",
    ]
    checks = {
        "webhook events lost 0": not lost and bool(events) and not set(completed) - set(ids_by_session),
        "one webhook-id per event": not several and all(n == 1 for n in events_by_session.values()),
        "signatures verified": verified["ok"] == sum(receipts.values()) > 0,
    }
    return lines, checks


def _outage_drain(records: OutageRecords, *, back_at: float, scheduled: dict, waited) -> tuple[list[str], dict]:
    """The attempts, and the return -> all delivered beside the schedule's last retry and the live path."""
    events, attempts, first = records.events, records.attempts, first_arrivals(records.arrivals, key="webhook_id")
    backlog = [w for w, (_, created) in events.items() if created < back_at]
    live = [w for w, (_, created) in events.items() if created >= back_at]
    waiting = [scheduled[w] - back_at for w in backlog if w in scheduled]
    drain = max((first[w] for w in backlog if w in first), default=back_at) - back_at
    floor = max([0.0, *waiting])
    late = sorted(first[w] - max(scheduled.get(w, back_at), back_at) for w in backlog if w in first)
    live_seconds = sorted(
        first[w] - records.completed[events[w][0]] for w in live if w in first and events[w][0] in records.completed
    )
    down_attempts = [attempts.get(w, 0) for w in backlog]
    lines = [
        f"attempts: {sum(records.outcomes.values())} ({', '.join(f'{k} {n}' for k, n in records.outcomes.items())}); "
        f"per event created while down: mean {sum(down_attempts) / max(len(down_attempts), 1):.1f}, max "
        f"{max(down_attempts, default=0)}; after the return: mean "
        f"{sum(attempts.get(w, 0) for w in live) / max(len(live), 1):.1f}",
        f"at the return: {len(waiting)} deliveries waiting for their next attempt, due from "
        f"{min(waiting, default=0):+.0f} s to {floor:+.0f} s (p50 {percentile(waiting, 0.5):+.0f} s), as the backoff "
        "scheduled them",
        "receiver back -> all delivered: NOT all delivered within the wait"
        if waited is None
        else f"receiver back -> all delivered: {drain:.1f} s (the last event created while down); the schedule's "
        f"last retry was due at {floor:+.1f} s: drain / schedule = {drain / floor if floor else 0:.2f}",
    ]
    if late:
        lines.append(
            f"each event created while down, arrival after its scheduled retry: p50 {percentile(late, 0.5):.1f} s, "
            f"p99 {percentile(late, 0.99):.1f} s, max {late[-1]:.1f} s; delivered by minute after the return: "
            + ", ".join(f"{m}: {n}" for m, n in minutes_delivered(first, backlog, back_at))
        )
    p99 = percentile(live_seconds, 0.99)
    lines.append(
        f"live path after the return (same run): {len(live_seconds)} completions, completion -> receiver "
        f"p50 {percentile(live_seconds, 0.5) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {live_seconds[-1] * 1000:.0f} "
        f"ms; drain / live-path p99 = {drain / max(p99, 0.001):,.0f}x"
        if live_seconds
        else "live path after the return: no completion after the receiver was back"
    )
    checks = {
        "all delivered after the return": waited is not None,
        "live-path webhook p99 < 2 s": bool(live_seconds) and p99 < 2,
    }
    return lines, checks


def minutes_delivered(first: dict[str, float], webhook_ids: list[str], since: float) -> list[tuple[int, int]]:
    """How many of ``webhook_ids`` had arrived by the end of each minute after ``since`` (cumulative)."""
    minutes = Counter(max(0, int((first[w] - since) // 60)) + 1 for w in webhook_ids if w in first)
    total, found = 0, []
    for minute in range(1, max(minutes, default=0) + 1):
        total += minutes[minute]
        found.append((minute, total))
    return found


def completions_read(database_url: str) -> dict[str, float]:
    """Each completed session's completed_at (Unix time), by session id."""
    with psycopg.connect(database_url, autocommit=True) as db:
        return dict(
            db.execute(
                "SELECT id::text, extract(epoch FROM completed_at)::float8 FROM onboarding_sessions"
                " WHERE state = 'completed'"
            ).fetchall()
        )


def delivery_states(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as db:
        return dict(db.execute("SELECT state, count(*) FROM webhook_deliveries GROUP BY state").fetchall())


def first_arrivals(arrivals: list[Arrival], *, key: str) -> dict[str, float]:
    """The first arrival time per session or per webhook-id."""
    found = {}
    for arrival in arrivals:
        found.setdefault(getattr(arrival, key), arrival.at)
    return found


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
