"""Benchmark: erasing one person, and the retention's purge of old events in batches, at scale (not a test).

On the data of ``benchmarks/staff_scale_data.py`` (1,000,000 sessions by default, ~6.6 events
each, snapshots and outbox rows; generated once per size and reused), with the funnel's rollups
built, it

1. erases ``--erasures`` people who completed onboarding, one at a time, through
   ``aggregation.erasure.onboarding_user_erase`` (the command's and the admin's path: sessions,
   snapshots with the exact totals decrement, the funnel's rollups, events, outbox, tombstones),
   and prints the p50, p90 and max of one erasure. Target: p50 under 1 s;
2. purges old events the way the retention does (``onboarding.services.retention.events_purge_batch``,
   the events before the fold's watermark that no funnel figure needs), ``--batch`` rows per
   transaction, until ``--purge-events`` are gone or ``--purge-seconds`` have passed, and prints
   the rate and the p50/p99 of one batch.

    .venv/bin/python benchmarks/privacy.py                              # 1,000,000 sessions
    .venv/bin/python benchmarks/privacy.py --sessions 200000            # a smaller size (its own data)
    .venv/bin/python benchmarks/privacy.py --check                      # then check totals and funnel

Both parts delete data for real: a later run erases other people and purges what is left (its
figures are printed with the row counts they ran on). ``--regenerate`` starts from fresh data.
It never fails on a time.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.django_setup import ensure_database, setup_django  # noqa: E402
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/onb_bench_privacy"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions to generate (default 1,000,000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--regenerate", action="store_true", help="drop and generate the data again")
    parser.add_argument("--erasures", type=int, default=21, help="people erased, one at a time (default 21)")
    parser.add_argument("--batch", type=int, default=1000, help="events per purge transaction (default 1000)")
    parser.add_argument("--purge-events", type=int, default=1_000_000, help="stop purging after this many events")
    parser.add_argument("--purge-seconds", type=float, default=300, help="stop purging after this long (default 300)")
    parser.add_argument("--check", action="store_true", help="check the totals and the funnel afterwards (slow)")
    add_smoke_flag(parser, sessions=2000, erasures=3, batch=200, purge_events=2000, purge_seconds=10, check=True)
    return apply_smoke(parser.parse_args())


def ensure_totals() -> None:
    """The generated data has snapshots but no totals: count them once (check_onboarding_totals --repair)."""
    from aggregation.models import AnswerGroupTotal
    from aggregation.snapshots.consistency import totals_repair

    if AnswerGroupTotal.objects.exists():
        return
    started = time.perf_counter()
    mended = totals_repair()
    print(
        f"totals counted from the snapshots in {time.perf_counter() - started:.0f} s ({len(mended)} rows)", flush=True
    )


def erase_people(count: int) -> None:
    from aggregation.erasure import onboarding_user_erase
    from aggregation.models import AnswerSnapshot

    candidates = list(AnswerSnapshot.objects.order_by().values_list("user_id", flat=True)[:200_000])
    people = random.Random(23).sample(candidates, min(count, len(candidates)))
    timings, rows = [], 0
    for user_id in people:
        started = time.perf_counter()
        outcome = onboarding_user_erase(user_id=user_id)
        timings.append((time.perf_counter() - started) * 1000)
        rows += outcome.onboarding.events + outcome.snapshots + outcome.onboarding.sessions
    timings.sort()
    print(
        f"erase one person ({len(timings)} people, {rows} rows deleted in all): "
        f"p50 {statistics.median(timings):.0f} ms, p90 {timings[int(0.9 * (len(timings) - 1))]:.0f} ms, "
        f"max {timings[-1]:.0f} ms  (target: p50 < 1000 ms)",
        flush=True,
    )


def purge_events(*, batch: int, limit: int, seconds: float) -> None:
    from django.utils import timezone

    from aggregation.funnel import funnel_watermark
    from aggregation.funnel.figures import COUNTED_EVENTS
    from onboarding.models import OnboardingEvent
    from onboarding.services.retention import events_purge_batch

    watermark = funnel_watermark()
    before = min(timezone.now(), watermark)
    total = OnboardingEvent.objects.count()
    print(f"purging folded events no figure needs (of {total:,} events), {batch} per transaction ...", flush=True)
    timings, deleted, started = [], 0, time.perf_counter()
    while deleted < limit and time.perf_counter() - started < seconds:
        tick = time.perf_counter()
        n = events_purge_batch(before=before, keep_names=COUNTED_EVENTS, batch=batch)
        timings.append((time.perf_counter() - tick) * 1000)
        deleted += n
        if n < batch:
            break
    elapsed = time.perf_counter() - started
    timings.sort()
    print(
        f"purged {deleted:,} events in {elapsed:.1f} s ({deleted / elapsed:,.0f} events/s) in {len(timings)} batches: "
        f"batch p50 {statistics.median(timings):.0f} ms, p99 {timings[int(0.99 * (len(timings) - 1))]:.0f} ms, "
        f"max {timings[-1]:.0f} ms",
        flush=True,
    )


def check() -> None:
    from aggregation.funnel import funnel_drift
    from aggregation.snapshots.consistency import totals_drift

    started = time.perf_counter()
    print(
        f"totals drift: {len(totals_drift())}, funnel drift: {len(funnel_drift())} "
        f"(checked in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )


def main():
    args = parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from benchmarks.staff_scale import ensure_data, ensure_rollups

    ensure_data(args.sessions, args.regenerate)
    ensure_rollups(False)
    ensure_totals()
    erase_people(args.erasures)
    purge_events(batch=args.batch, limit=args.purge_events, seconds=args.purge_seconds)
    if args.check:
        check()


if __name__ == "__main__":
    main()
