"""Seed the load run's database: accounts that log in, staff, joinable workspaces (run by run.py).

usage: DATABASE_URL=... python benchmarks/load/seed.py --accounts N --staff N --workspaces N OUT.json

Accounts are written in bulk with one password hash shared by all (hashing each of thousands of
passwords would take minutes); the run's logins still check that hash, at full cost, each time.
OUT.json gets the credentials and join codes the locustfile reads (LOAD_SEED_FILE), and the CPU
time one password hash took here (the runner's capacity figures set logins apart with it).
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding_project.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402

from onboarding.models import Workspace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--staff", type=int, default=2)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("out")
    args = parser.parse_args()
    User = get_user_model()
    password = "load-" + secrets.token_urlsafe(12)
    samples = []
    for _ in range(5):  # the median of a few: one sample on a shared machine can be far off
        cpu = time.process_time()
        encoded = make_password(password)
        samples.append(time.process_time() - cpu)
    hash_cpu_seconds = statistics.median(samples)  # what each login and sign-up of the run costs the web tier
    tag = secrets.token_hex(3)
    people = [
        User(username=f"person-{tag}-{n:05d}", email=f"person-{tag}-{n:05d}@example.com", password=encoded)
        for n in range(args.accounts)
    ]
    staff = [
        User(username=f"staff-{tag}-{n}", email=f"staff-{tag}-{n}@example.com", password=encoded, is_staff=True)
        for n in range(args.staff)
    ]
    User.objects.bulk_create(people + staff, batch_size=1000)
    workspaces = Workspace.objects.bulk_create(
        [Workspace(name=f"Load team {tag} {n}", slug=f"load-team-{tag}-{n}") for n in range(args.workspaces)]
    )
    Path(args.out).write_text(
        json.dumps(
            {
                "accounts": [{"username": u.username, "password": password} for u in people],
                "staff": [{"username": u.username, "password": password} for u in staff],
                "join_codes": [w.join_code for w in workspaces],
                "password_hash_cpu_seconds": hash_cpu_seconds,
            }
        )
    )
    print(f"seeded {len(people)} accounts, {len(staff)} staff, {len(workspaces)} joinable workspaces")


if __name__ == "__main__":
    main()
