"""Chaos run of the browser client: whole onboarding journeys in real Chromium while requests fail.

usage: .venv/bin/python benchmarks/chaos.py [--journeys 20] [--failure-rate 0.3] [--seed 1] [--smoke]

It drops and recreates its own database (`onb_bench_chaos`), empties its own Redis database (14),
migrates, collects the static files, seeds accounts and joinable workspaces (load/seed.py), and
starts the Procfile's `web` (gunicorn, DEBUG off) and one `worker` (Celery) on 127.0.0.1.

Then, one after another, each journey opens a fresh browser context of Debian's Chromium
(Playwright), signs up or logs in, answers the six steps (skippable ones skipped now and then),
presses Finish and waits, at most --journey-timeout seconds, for /dashboard/. During the chaos
journeys about --failure-rate of the API and page requests fail at the network layer (503,
refused or reset connections, answers lost after the server committed, hung requests), the
browser goes offline for a few seconds now and then, and once in the run gunicorn is killed and
started again on the same port. Baseline journeys, interleaved, meet no failure.

Printed per journey and in total: answers lost (typed, not held by the session or its snapshot at
the end), things applied twice (step_saved / step_skipped events beyond the presses, completions,
sessions, snapshots, outbox messages, workspaces, memberships per user beyond one), journeys whose
page disagreed with the server at the end, and the time from "the server is reachable again" (the
last injected failure stopped) to "the server holds it" with the tab open, beside the same run's
baselines: the save latency when nothing failed, and the journeys' duration without failures.
"""

import argparse
import json
import os
import random
import re
import secrets
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.chaos_faults import HANG_CAP_SECONDS, FailureLog, ServerRestart  # noqa: E402
from benchmarks.chaos_journey import Journey, Outcome, audit  # noqa: E402
from benchmarks.local_stack import (  # noqa: E402
    ROOT,
    ProcfileProcess,
    drop_database,
    free_port,
    load_average,
    only_loopback,
    percentile,
    prepare_stack,
    recreate_database,
    seed_accounts,
    stack_environment,
    wait_for_outbox_drain,
    web_answers,
    worker_ready,
)
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TARGETS = "answers lost 0, applied twice 0, disagreements 0, recovery p95 <= 2 s"


@dataclass
class Config:
    rate: float
    offline_chance: float
    journey_timeout: float
    settle: float
    tag: str
    join_codes: list
    translate: Callable[[str, str], str]
    screenshots: Path | None = None


def main() -> int:
    args = parse_args()
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="onb-chaos-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    args.log_path = log_dir
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    print(
        f"=== chaos: {args.journeys} journeys with failures on ~{args.failure_rate:.0%} of requests, "
        f"{args.baseline_journeys} baseline journeys without; seed {args.seed}"
    )
    print(f"    web and worker on {origin}/ ; logs in {log_dir}; load average {load_average()}", flush=True)
    recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = stack_environment(
        port=port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        extra={"WEB_CONCURRENCY": "2", "WORKER_CONCURRENCY": "1", "LOG_LEVEL": "WARNING", "TRUSTED_PROXY_COUNT": "1"},
    )
    prepare_stack(env, log_dir / "prepare.log")
    args.translate = translator(env)
    seed_file = log_dir / "seed.json"
    seed_accounts(env, seed_file, accounts=args.journeys + args.baseline_journeys, workspaces=5)
    seed = json.loads(seed_file.read_text())
    web = ProcfileProcess("web", env, log_dir / "web.log", ready=web_answers(port))
    worker = ProcfileProcess("worker", env, log_dir / "worker.log", ready=worker_ready)
    try:
        worker.start()
        web.start()
        outcomes, restart = run_journeys(args, origin=origin, seed=seed, web=web)
        drained = wait_for_outbox_drain(args.database_url, timeout=60)
        totals = check_totals(env)
    finally:
        web.stop()
        worker.stop()
    report(args, outcomes, restart, drained=drained, totals=totals, web_log=(log_dir / "web.log").read_text())
    if not args.keep_db:
        drop_database(args.database_url)
    return 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[4:]),
    )
    parser.add_argument("--journeys", type=int, default=20, help="journeys with failures (default 20)")
    parser.add_argument(
        "--baseline-journeys", type=int, default=5, help="journeys without failures, interleaved (default 5)"
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.3, help="share of API and page requests failed (default 0.3)"
    )
    parser.add_argument(
        "--offline-chance",
        type=float,
        default=0.12,
        help="chance, before each button press, that the browser goes offline for 2-5 s (default 0.12)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the plans and the failures (default 1)")
    parser.add_argument("--journey-timeout", type=float, default=120, help="seconds to reach /dashboard/ (120)")
    parser.add_argument(
        "--settle", type=float, default=30, help="seconds the tab stays open afterwards, failures off (30)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CHAOS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/onb_bench_chaos"),
        help="the run's own database: dropped and recreated",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="the run's own Redis database (broker and cache): emptied first",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the run's database in place")
    parser.add_argument("--log-dir", default=None, help="keep the web and worker logs here (default: a temp dir)")
    add_smoke_flag(parser, journeys=2, baseline_journeys=1, failure_rate=0.15, offline_chance=0.15, settle=15)
    args = apply_smoke(parser.parse_args())
    for url in (args.database_url, args.redis_url):
        if not only_loopback(url):
            parser.error(f"{url}: the chaos run only ever targets 127.0.0.1")
    if not os.path.exists(CHROMIUM):
        parser.error(f"Chromium is missing at {CHROMIUM}: `make chromium` installs Debian's")
    return args


def schedule(args) -> list[bool]:
    """Which journeys are baselines (True): spread among the chaos journeys, not bunched at one end."""
    total = args.journeys + args.baseline_journeys
    every = total / args.baseline_journeys if args.baseline_journeys else 0
    baselines = {int(every * k + every / 2) for k in range(args.baseline_journeys)}
    return [n in baselines for n in range(total)]


def run_journeys(args, *, origin, seed, web):
    from playwright.sync_api import sync_playwright

    log = FailureLog()
    rng = random.Random(args.seed)
    order = schedule(args)
    chaos_numbers = [n for n, baseline in enumerate(order) if not baseline]
    restart_at = (chaos_numbers[len(chaos_numbers) // 2], rng.choice(["work-profile", "tools", "invites"]))
    restart = None
    tag = secrets.token_hex(3)
    outcomes = []

    def on_step(journey, step):
        nonlocal restart
        if restart is None and (journey.outcome.number, step) == restart_at:
            restart = ServerRestart(web, rng.uniform(2.0, 4.0), log)
            restart.start()
            journey.outcome.restart = restart

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for n, baseline in enumerate(order):
                outcome = run_one(
                    args, n, baseline, browser=browser, origin=origin, seed=seed, tag=tag, log=log, on_step=on_step
                )
                if restart is not None and restart.is_alive():
                    restart.join(timeout=120)
                if restart is not None and restart.error is not None:
                    raise SystemExit(f"the server restart failed: {restart.error}")
                outcomes.append(audit(outcome, args.database_url))
                print(journey_line(outcome, log), flush=True)
                with open(args.log_path / "timeline.jsonl", "a") as timeline:
                    timeline.write(json.dumps(timeline_entry(outcome, log)) + "\n")
        finally:
            browser.close()
    return outcomes, (restart, log)


def run_one(args, n, baseline, *, browser, origin, seed, tag, log, on_step) -> Outcome:
    plan_rng, fault_rng = random.Random(f"{args.seed}-plan-{n}"), random.Random(f"{args.seed}-faults-{n}")
    signup = plan_rng.random() < 0.5
    if signup:
        name = f"chaos-{tag}-{n:03d}"
        account = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-" + tag}
    else:
        account = {**seed["accounts"][n], "email": f"{seed['accounts'][n]['username']}@example.com"}
    # An address of the benchmarking range (RFC 2544), one per person, as the load run's.
    account["address"] = f"198.18.{n // 250}.{n % 250 + 1}"
    config = Config(
        rate=0.0 if baseline else args.failure_rate,
        offline_chance=0.0 if baseline else args.offline_chance,
        journey_timeout=args.journey_timeout,
        settle=args.settle,
        tag=tag,
        join_codes=seed["join_codes"],
        translate=args.translate,
        screenshots=args.log_path,
    )
    journey = Journey(
        browser=browser,
        origin=origin,
        database_url=args.database_url,
        account=account,
        plan_rng=plan_rng,
        fault_rng=fault_rng,
        config=config,
        log=log,
        on_step=None if baseline else on_step,
    )
    outcome = Outcome(number=n, username=account["username"], baseline=baseline, signup=signup, plans=[])
    try:
        journey.run(outcome)
    except Exception as error:  # noqa: BLE001 - a journey that broke is reported, the run goes on
        outcome.note = f"harness error: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
    return outcome


def translator(env: dict) -> Callable[[str, str], str]:
    """Say an English text of the site (a label, a button) in another of its languages, as its pages do.

    The answer to the language question changes the wizard's language mid-journey;
    a person reads the page in it, and so does the journey, through the project's own catalogs.
    """
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding_project.settings")
    import django
    from django.utils import translation

    django.setup()

    def say(text: str, language: str) -> str:
        with translation.override(language):
            return translation.gettext(text)

    return say


def check_totals(env) -> str:
    import subprocess

    done = subprocess.run(
        [sys.executable, "manage.py", "check_onboarding_totals"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:] or [""]
    return f"exit {done.returncode} ({last[0]})"


# --- the figures --------------------------------------------------------------------------


def samples(outcome: Outcome, log: FailureLog) -> tuple[list[tuple[float, str]], list[float], int]:
    """(recoveries with the kind of failure they followed, clean save latencies, things never held) of one journey.

    A thing the user did (a step saved or skipped, the completion) that some failure held up:
    from the last failure that stopped before the server held it to that moment. One no failure
    touched: from the press to the server holding it. In seconds.
    """
    recoveries, clean, never = [], [], 0
    for thing in outcome.things:
        if thing.held_at is None:
            never += 1
            continue
        ends = log.ends_between(thing.done_at, thing.held_at)
        if ends:
            at, kind = max(ends)
            recoveries.append((thing.held_at - at, kind))
        else:
            clean.append(thing.held_at - thing.done_at)
    return recoveries, clean, never


def timeline_entry(outcome: Outcome, log: FailureLog) -> dict:
    """One journey's things and failures, in seconds from its first step (the log directory's timeline.jsonl)."""
    t0 = outcome.started_at

    def offset(at):
        return None if at is None else round(at - t0, 3)

    return {
        "journey": outcome.number,
        "username": outcome.username,
        "baseline": outcome.baseline,
        "dashboard": outcome.reached_dashboard,
        "duration": round(outcome.duration, 3),
        "things": [[t.what, t.step, offset(t.done_at), offset(t.held_at)] for t in outcome.things],
        "failures_stopped": [[offset(at), kind] for at, kind in log.ends_between(t0, outcome.ended_at)],
        "restart": [offset(outcome.restart.killed_at), offset(outcome.restart.answering_at)]
        if outcome.restart
        else None,
        "presses": {f"{step} {action}": n for (step, action), n in outcome.presses.items()},
        "final": [outcome.final_url, outcome.final_state],
        "note": outcome.note,
    }


def journey_line(outcome: Outcome, log: FailureLog) -> str:
    recoveries, _clean, never = samples(outcome, log)
    eligible = sum(outcome.eligible.values())
    failed = sum(outcome.injected.values())
    skipped = [plan.key for plan in outcome.plans if plan.action == "skip"]
    workspace = next((plan.typed.get("mode", "") for plan in outcome.plans if plan.key == "workspace"), "")
    parts = [
        f"#{outcome.number:02d} {'baseline' if outcome.baseline else 'chaos   '} "
        f"{'sign-up' if outcome.signup else 'log-in '} {outcome.username}:",
        (
            f"dashboard in {outcome.duration:.1f} s"
            if outcome.reached_dashboard
            else f"NO dashboard ({outcome.duration:.0f} s)"
        ),
        f"skipped {','.join(skipped) or '-'}, workspace {workspace or '-'};",
        f"failed {failed}/{eligible} requests ({kinds_text(outcome.injected)})" if not outcome.baseline else "",
        f"offline x{outcome.spells}" if outcome.spells else "",
        f"restart (down {outcome.restart.answering_at - outcome.restart.killed_at:.1f} s)" if outcome.restart else "",
        f"; lost {len(outcome.lost)}, twice {sum(outcome.twice.values())},",
        "agrees" if not outcome.disagreement else f"DISAGREES: {outcome.disagreement}",
        f"; recovery max {max(r for r, _kind in recoveries):.2f} s of {len(recoveries)}" if recoveries else "",
        f"; never held {never}" if never else "",
        f"; reloads {outcome.reloads}" if outcome.reloads else "",
        f"; page errors {outcome.page_errors}" if outcome.page_errors else "",
        f"; stumbles {outcome.stumbles}" if outcome.stumbles else "",
        f"; states {','.join(sorted(s for s in outcome.states_seen if s))}",
    ]
    if outcome.lost:
        parts.append(f"; lost: {', '.join(outcome.lost)}")
    if outcome.snapshot_lost:
        parts.append(f"; snapshot lacks: {', '.join(outcome.snapshot_lost)}")
    twice = {k: v for k, v in outcome.twice.items() if v}
    if twice:
        parts.append(f"; twice: {', '.join(f'{k} +{v}' for k, v in twice.items())}")
    if outcome.note:
        parts.append(f"; {outcome.note}")
    return " ".join(part for part in parts if part).replace(" ;", ";")


def kinds_text(counts) -> str:
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items())) or "none"


def seconds_text(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
        f"max {max(values):.2f} s ({len(values)} samples)"
    )


def report(args, outcomes: list[Outcome], restart_and_log, *, drained, totals, web_log) -> None:
    restart, log = restart_and_log
    chaos = [o for o in outcomes if not o.baseline]
    baseline = [o for o in outcomes if o.baseline]
    recoveries, clean, never = [], [], 0
    for outcome in outcomes:
        r, c, n = samples(outcome, log)
        recoveries += r
        clean += c
        never += n
    eligible = sum(sum(o.eligible.values()) for o in chaos)
    injected = Counter()
    for o in chaos:
        injected.update(o.injected)
    lost = sum(len(o.lost) for o in outcomes)
    twice = Counter()
    for o in outcomes:
        for key, extra in o.twice.items():
            twice[key.split(" ")[0]] += extra  # "step_saved tools" counts under step_saved
    disagreed = [o for o in outcomes if o.disagreement]
    server_errors = Counter(re.findall(r'"(?:GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/[\d.]+" (5\d\d) ', web_log))
    print(f"\n--- totals ({len(chaos)} chaos + {len(baseline)} baseline journeys; load average now {load_average()})")
    print(
        f"journeys reaching /dashboard/: chaos {sum(o.reached_dashboard for o in chaos)}/{len(chaos)}, "
        f"baseline {sum(o.reached_dashboard for o in baseline)}/{len(baseline)}"
    )
    print(
        f"requests failed: {sum(injected.values())} of {eligible} API and page requests "
        f"({sum(injected.values()) / (eligible or 1):.0%}): {kinds_text(injected)}; hung requests the client never "
        f"gave up, let go after {HANG_CAP_SECONDS:.0f} s: {sum(o.released for o in chaos)}; "
        f"offline spells: {sum(o.spells for o in chaos)}"
    )
    if restart is not None:
        print(
            f"server restart: gunicorn killed during journey #{next(o.number for o in outcomes if o.restart):02d}, "
            f"answering again {restart.answering_at - restart.killed_at:.1f} s later on the same port"
        )
    else:
        print("server restart: none happened (the chosen journey never reached its step)")
    print(
        f"answers lost (typed, not held at the end): {lost}; snapshots lacking typed answers: "
        f"{sum(len(o.snapshot_lost) for o in outcomes)}"
    )
    print(f"applied twice: {sum(twice.values())} ({', '.join(f'{k} {v}' for k, v in sorted(twice.items()))})")
    print(f"journeys whose page disagreed with the server at the end: {len(disagreed)}")
    for o in disagreed:
        print(f"  #{o.number:02d} {o.username}: {o.disagreement}")
    seconds = [r for r, _kind in recoveries]
    print(f"recovery, server reachable again -> server holds it (tab open): {seconds_text(seconds)}")
    by_kind = {}
    for r, kind in recoveries:
        by_kind.setdefault(kind, []).append(r)
    for kind, values in sorted(by_kind.items()):
        print(f"  after {kind}: {seconds_text(values)}")
    print(f"  things never held by the end: {never}")
    print(f"baseline, same run: pressed -> server holds it, nothing failing: {seconds_text(clean)}")
    if seconds and clean:
        print(
            f"  recovery p95 / clean save p95 = {percentile(seconds, 0.95) / percentile(clean, 0.95):.1f}; "
            f"recovery p50 / clean save p50 = {percentile(seconds, 0.5) / percentile(clean, 0.5):.1f}"
        )
    chaos_times = [o.duration for o in chaos if o.reached_dashboard]
    base_times = [o.duration for o in baseline if o.reached_dashboard]
    print(f"journey duration with failures: {seconds_text(chaos_times)}")
    print(f"journey duration without (baseline): {seconds_text(base_times)}")
    ratio = percentile(chaos_times, 0.5) / percentile(base_times, 0.5) if chaos_times and base_times else None
    print(f"  with / without, p50 = {f'{ratio:.1f}' if ratio is not None else 'n/a'}")
    print(
        f"server: 5xx answered by gunicorn itself: {sum(server_errors.values())}"
        + (f" ({', '.join(f'{s} {p} x{n}' for (p, s), n in server_errors.items())})" if server_errors else "")
        + f"; tracebacks in the web log: {web_log.count('Traceback')}; outbox "
        + (f"drained {drained:.1f} s after the last journey" if drained is not None else "NOT drained within 60 s")
        + f"; check_onboarding_totals {totals}"
    )
    p95 = percentile(seconds, 0.95) if seconds else None
    checks = {
        "answers lost 0": lost == 0,
        "applied twice 0": sum(twice.values()) == 0,
        "disagreements 0": not disagreed,
        "recovery p95 <= 2 s": p95 is not None and p95 <= 2 and never == 0,
        "every journey reached /dashboard/": all(o.reached_dashboard for o in outcomes),
    }
    print("targets: " + "; ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in checks.items()))


if __name__ == "__main__":
    sys.exit(main())
