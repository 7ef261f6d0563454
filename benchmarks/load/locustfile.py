"""Locust: people onboarding at once through the API, and staff polling the reports.

`benchmarks/load/run.py` starts the stack, seeds the accounts and runs this file headless; see
benchmarks/README.md. Each iteration of an `OnboardingPerson` is one new person: they sign up
through the sign-up form (then use the API with the session cookie and CSRF header, as the
same-origin SPA does) or log in for a bearer token (`POST /api/auth/token`, as a cross-origin SPA
does), read the manifest and their progress, and answer the six steps with think times between
them, some of them:

- autosaving a draft of a step before saving it (`action: "draft"`),
- skipping the skippable steps (`action: "skip"`),
- going back one step and saving it again (`action: "back"`),
- saving from a stale tab (`409 revision_conflict`), then re-reading their progress and retrying,
- sending an invalid answer first (`400 validation_failed`), then correcting it,

then complete (`POST /api/onboarding/complete`). `StaffMember` users poll the funnel and the
answers list. Every person comes from their own client address (`X-Forwarded-For`, the stack
trusting one proxy), as real users behind a load balancer do, so the per-address throttles and
lock-outs are the production ones, not a single address's. Like that proxy (nginx without upstream keep-alive,
the default), each request comes on its own connection (`Connection: close`): a client that
kept connections open would race gunicorn's 5 s keep-alive expiry, as a proxy never does.

Environment: LOAD_SEED_FILE (accounts and join codes written by run.py), LOAD_RESULTS_FILE (where
the raw timings and statuses are written at the end), LOAD_THINK_SECONDS ("min,max", default "1,5").
"""

import itertools
import json
import os
import random
import time
import uuid
from collections import defaultdict

from locust import HttpUser, between, events, task

SEED = json.loads(open(os.environ["LOAD_SEED_FILE"]).read()) if os.environ.get("LOAD_SEED_FILE") else {}
THINK_MIN, THINK_MAX = (float(x) for x in os.environ.get("LOAD_THINK_SECONDS", "1,5").split(","))

# Shares of people (or of steps, where it says so) who do each thing.
SIGNUP_SHARE = 0.3  # sign up through the form; the rest log in to an account made earlier
DRAFT_SHARE = 0.4  # per step: an autosaved draft before the save
SKIP_SHARE = 0.3  # per skippable step: skip it instead of answering
BACK_SHARE = 0.15  # go back one step once and save it again
STALE_SHARE = 0.15  # save once from a stale tab: 409, re-read, retry
INVALID_SHARE = 0.15  # send an invalid answer once: 400, correct it
JOIN_SHARE = 0.3  # join an existing workspace instead of creating one

PROGRESS = "/api/users/me/onboarding-progress"
COMPLETE = "/api/onboarding/complete"
ROLES = ["engineering", "design", "product", "data", "marketing", "sales", "support", "operations", "founder", "other"]
TEAM_SIZES = ["1", "2-10", "11-50", "51-200", "201-1000", "1000+"]
TIMEZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC"]
FUNCTIONS = ["engineering", "design", "product", "data", "marketing", "sales", "support", "operations", "finance", "hr"]
INTENTS = [
    "project_tracking",
    "sprint_planning",
    "bug_tracking",
    "roadmapping",
    "documentation",
    "automation",
    "reporting",
]
TOOLS = ["github", "gitlab", "jira", "linear", "asana", "notion", "slack", "figma", "google_workspace"]

_login_accounts = list(SEED.get("accounts", []))
_staff_accounts = itertools.cycle(SEED.get("staff", [{"username": "", "password": ""}]))
_address_counter = itertools.count(1)


def think() -> None:
    """Pause as a person reading the page and typing would (gevent-friendly under Locust)."""
    time.sleep(random.uniform(THINK_MIN, THINK_MAX))


def new_client_address() -> str:
    """An address of the benchmarking range (RFC 2544, 198.18.0.0/15), one per person."""
    n = next(_address_counter)
    return f"198.18.{(n >> 8) & 0xFF}.{n & 0xFF}"


def answers_for(step: str, rng: random.Random, username: str) -> dict:
    """Valid, varied answers for one step (the manifest's fields)."""
    if step == "profile":
        return {"full_name": f"Load Person {username}", "job_title": "Tester", "role": rng.choice(ROLES)}
    if step == "work-profile":
        return {
            "team_name": "Load",
            "team_size": rng.choice(TEAM_SIZES),
            "timezone": rng.choice(TIMEZONES),
            "functions": rng.sample(FUNCTIONS, rng.randint(1, 3)),
            "intents": rng.sample(INTENTS, rng.randint(1, 3)),
            "experience": rng.choice(["none", "beginner", "intermediate", "advanced"]),
        }
    if step == "tools":
        return {"tools": rng.sample(TOOLS, rng.randint(0, 4)), "other_tools": []}
    if step == "invites":
        return {"emails": [f"teammate{rng.randint(1, 999)}@example.com"], "invite_role": "member"}
    if step == "preferences":
        return {
            "theme": rng.choice(["system", "light", "dark"]),
            "email_digest": rng.choice(["never", "daily", "weekly"]),
            "notifications": rng.sample(["mentions", "assignments", "comments"], rng.randint(0, 2)),
            "language": rng.choice(["en", "de", "fr"]),
            "product_updates": rng.random() < 0.5,
        }
    codes = SEED.get("join_codes", [])
    if codes and rng.random() < JOIN_SHARE:
        return {"mode": "join", "join_code": rng.choice(codes), "workspace_name": ""}
    return {"mode": "create", "workspace_name": f"Load {uuid.uuid4().hex[:12]}", "join_code": ""}


class Outcome(Exception):
    """The person stops here (an unexpected answer); counted and the next person starts."""


class OnboardingPerson(HttpUser):
    """One person per iteration: sign up or log in, answer every step, complete."""

    weight = 1
    wait_time = between(THINK_MIN, THINK_MAX)

    @task
    def onboard(self):
        self.client.cookies.clear()
        self.headers = {"X-Forwarded-For": new_client_address(), "Connection": "close"}
        rng = random.Random()
        try:
            username = self.authenticate(rng)
            self.call("GET", "/api/onboarding/manifest")
            progress = self.call("GET", PROGRESS)
            self.revision = progress["revision"]
            self.answer_steps(rng, [step["key"] for step in progress["steps"]], username)
            think()
            completed = self.call("POST", COMPLETE, {"revision": self.revision})
            RESULTS.person("completed" if completed.get("state") == "completed" else "not completed")
        except Outcome as exc:
            RESULTS.person(f"stopped: {exc}")

    def authenticate(self, rng: random.Random) -> str:
        if _login_accounts and rng.random() >= SIGNUP_SHARE:
            account = _login_accounts.pop()
            tokens = self.call(
                "POST", "/api/auth/token", {"username": account["username"], "password": account["password"]}
            )
            self.headers["Authorization"] = f"Bearer {tokens['access']}"
            return account["username"]
        username = f"load-{uuid.uuid4().hex[:16]}"
        self.call("GET", "/accounts/signup/", expect=(200,), json_body=False)
        think()
        self.call(
            "POST",
            "/accounts/signup/",
            expect=(302,),
            json_body=False,
            form={
                "username": username,
                "email": f"{username}@example.com",
                "password1": "load-test-Pa55word",
                "password2": "load-test-Pa55word",
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
        )
        return username

    def answer_steps(self, rng: random.Random, steps: list[str], username: str) -> None:
        back_at = rng.randrange(1, len(steps) - 1) if rng.random() < BACK_SHARE else None
        stale_at = rng.randrange(1, len(steps)) if rng.random() < STALE_SHARE else None
        invalid_at = rng.randrange(len(steps)) if rng.random() < INVALID_SHARE else None
        index = 0
        while index < len(steps):
            step = steps[index]
            think()
            answers = answers_for(step, rng, username)
            if rng.random() < DRAFT_SHARE:
                self.patch(step, "draft", dict(list(answers.items())[:1]))
                think()
            if step in ("tools", "invites") and rng.random() < SKIP_SHARE:
                self.patch(step, "skip", {})
                index += 1
                continue
            if index == invalid_at:
                invalid_at = None
                self.patch(step, "save", {**answers, **invalid_answer(step)}, expect=(400,))
                think()
            if index == stale_at:
                stale_at = None
                self.save_from_stale_tab(step, answers)
            else:
                self.patch(step, "save", answers)
            if index == back_at and index + 1 < len(steps):
                back_at = None
                think()
                self.patch(steps[index + 1], "back", {})
                continue  # the same step again, then onwards
            index += 1

    def save_from_stale_tab(self, step: str, answers: dict) -> None:
        """Save with the revision a tab opened before the last save still holds: 409, re-read, retry."""
        self.revision = self.previous_revision
        self.patch(step, "save", answers, expect=(409,))
        self.revision = self.call("GET", PROGRESS)["revision"]
        self.patch(step, "save", answers)

    def patch(self, step: str, action: str, answers: dict, expect=(200,)) -> None:
        body = self.call(
            "PATCH",
            PROGRESS,
            {"revision": self.revision, "step": step, "action": action, "answers": answers},
            expect=expect,
        )
        if body.get("revision", self.revision) != self.revision:
            self.previous_revision, self.revision = self.revision, body["revision"]

    def call(self, method: str, path: str, payload: dict | None = None, *, expect=(200,), json_body=True, form=None):
        headers = dict(self.headers)
        csrf = self.client.cookies.get("csrftoken")
        if csrf and "Authorization" not in headers:
            headers["X-CSRFToken"] = csrf
        with self.client.request(
            method,
            path,
            json=payload,
            data=form,
            headers=headers,
            name=path,
            catch_response=True,
            allow_redirects=False,
            context={"expected": expect},
        ) as response:
            if response.status_code not in expect:
                cause = f": {type(response.error).__name__}: {response.error}" if response.status_code == 0 else ""
                response.failure(f"{response.status_code} (expected {'/'.join(map(str, expect))}){cause}")
                raise Outcome(f"{method} {path} answered {response.status_code}")
            response.success()
            return response.json() if json_body else {}


def invalid_answer(step: str) -> dict:
    """One answer the step's form refuses (an unknown choice, a too-long text, a bad e-mail)."""
    return {
        "profile": {"role": "astronaut"},
        "work-profile": {"team_size": "a few"},
        "tools": {"tools": ["punch-cards"]},
        "invites": {"emails": ["not an e-mail"]},
        "preferences": {"theme": "sepia"},
        "workspace": {"mode": "elsewhere"},
    }[step]


class StaffMember(HttpUser):
    """Staff reading the reports: the funnel and the newest answers, now and then a second page."""

    fixed_count = int(os.environ.get("LOAD_STAFF_USERS", "2"))
    wait_time = between(2, 6)

    def on_start(self):
        self.account = next(_staff_accounts)
        self.headers = {"X-Forwarded-For": new_client_address(), "Connection": "close"}
        self.log_in()

    def log_in(self):
        with self.client.post(
            "/api/auth/token",
            json=self.account,
            headers=self.headers,
            name="/api/auth/token",
            catch_response=True,
            context={"expected": (200,)},
        ) as response:
            if response.status_code != 200:
                response.failure(str(response.status_code))
                return
            self.access, self.refresh, self.token_at = (
                response.json()["access"],
                response.json()["refresh"],
                time.monotonic(),
            )

    def auth_headers(self) -> dict:
        if time.monotonic() - getattr(self, "token_at", 0) > 240:  # access tokens live 300 s: renew before
            with self.client.post(
                "/api/auth/token/refresh",
                json={"refresh": self.refresh},
                headers=self.headers,
                name="/api/auth/token/refresh",
                catch_response=True,
                context={"expected": (200,)},
            ) as response:
                if response.status_code == 200:
                    body = response.json()
                    self.access, self.refresh = body["access"], body.get("refresh", self.refresh)
                    self.token_at = time.monotonic()
                else:
                    response.failure(str(response.status_code))
        return {**self.headers, "Authorization": f"Bearer {getattr(self, 'access', '')}"}

    @task(1)
    def funnel(self):
        self.client.get(
            "/api/admin/onboarding/funnel",
            headers=self.auth_headers(),
            name="/api/admin/onboarding/funnel",
            context={"expected": (200,)},
        )

    @task(2)
    def answers(self):
        response = self.client.get(
            "/api/admin/onboarding/answers?page_size=50",
            headers=self.auth_headers(),
            name="/api/admin/onboarding/answers",
            context={"expected": (200,)},
        )
        if response.status_code == 200 and response.json().get("next") and random.random() < 0.3:
            self.client.get(
                response.json()["next"],
                headers=self.auth_headers(),
                name="/api/admin/onboarding/answers",
                context={"expected": (200,)},
            )


class Results:
    """Every request's time and status, by endpoint, and what became of each person."""

    def __init__(self):
        self.times = defaultdict(list)
        self.statuses = defaultdict(lambda: defaultdict(int))
        self.unexpected = defaultdict(lambda: defaultdict(int))
        self.people = defaultdict(int)
        self.exceptions = defaultdict(int)
        self.patch_timeline = []
        self.started_at = self.stopped_at = None

    def request(self, request_type, name, response_time, response, context, exception, **kwargs):
        key = f"{request_type} {name}"
        status = getattr(response, "status_code", 0) or 0  # 0: no answer at all (connection refused or reset)
        self.times[key].append(response_time)
        if request_type == "PATCH":  # when in the run each save came, to tell a ramp-up from noise
            self.patch_timeline.append((kwargs.get("start_time") or time.time(), response_time))
        self.statuses[key][status] += 1
        if status not in (context or {}).get("expected", (200,)):
            self.unexpected[key][status] += 1
        if exception is not None and not status:
            self.exceptions[f"{key}: {type(exception).__name__}: {exception}"[:200]] += 1

    def person(self, outcome: str):
        self.people[outcome] += 1

    def write(self, path: str):
        with open(path, "w") as out:
            json.dump(
                {
                    "started_at": self.started_at,
                    "stopped_at": self.stopped_at,
                    "times_ms": self.times,
                    "statuses": self.statuses,
                    "unexpected": self.unexpected,
                    "people": self.people,
                    "exceptions": self.exceptions,
                    "patch_timeline": self.patch_timeline,
                },
                out,
            )


RESULTS = Results()
events.request.add_listener(RESULTS.request)


@events.test_start.add_listener
def _started(**kwargs):
    RESULTS.started_at = time.time()


@events.test_stop.add_listener
def _stopped(**kwargs):
    RESULTS.stopped_at = time.time()
    if os.environ.get("LOAD_RESULTS_FILE"):
        RESULTS.write(os.environ["LOAD_RESULTS_FILE"])
