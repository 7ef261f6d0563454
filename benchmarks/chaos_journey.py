"""One journey of the chaos run: a person signs up or logs in, answers the six steps and finishes.

The page is driven only through its public surface, as a user would: labels,
the buttons Continue / Skip / Finish, the status element ``[data-sync-state]`` and the URL. What the
journey typed is planned from the manifest the server gives this user (labels, controls,
choices), so the harness holds no copy of a choice list.

While the journey runs, ``DatabaseWatch`` (a thread) polls the session row every 50 ms and notes
when the server first held each thing the user did (a step saved with what was typed, a step
skipped, the completion). Together with the failure log that gives, per thing done: the time from
"the server is reachable again" (the last failure that stopped before the server held it) to "the
server holds it", or, when nothing failed meanwhile, the plain save latency: the run's baseline.
"""

import re
import threading
import time
from dataclasses import dataclass, field

import psycopg

from benchmarks.chaos_faults import Injector, OfflineSpell

# Each list answer is typed as one comma-separated line (as the form asks: comma separated).
LIST_FIELDS = {"other_tools", "emails"}
TEXT_VALUES = {
    "full_name": ["Ada Lovelace", "Zoë Müller-Łukasik", "José Ñúñez", "Grace Hopper", "李 小龙", "Ōno Taiichi"],
    "job_title": ["", "Analyst", "Staff engineer", "Head of Ops", "Designer"],
    "team_name": ["", "Platform", "Growth", "Équipe Données"],
    "other_tools": [[], ["Miro"], ["Miro", "Loom"], ["Sentry", "Grafana", "PagerDuty"]],
}
TIMEZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo", "UTC"]
POLL_SECONDS = 0.05
# Actions that failed on a page that did not move (a control not found in time) before the journey gives up.
MAX_STUMBLES = 3
# How long a person waits on a step that says its save is kept on the device before pressing again.
PATIENCE_SECONDS = 15.0
WAIT_SLICE_MS = 100


@dataclass
class StepPlan:
    key: str
    action: str  # "save" or "skip"
    typed: dict = field(default_factory=dict)  # field -> value as the user enters it
    fields: dict = field(default_factory=dict)  # field -> its manifest definition


@dataclass
class Thing:
    """Something the user did that the server must end up holding."""

    what: str  # "save", "skip" or "complete"
    step: str
    expected: dict
    done_at: float
    held_at: float | None = None


def plan_journey(manifest: dict, *, rng, n: int, tag: str, email: str, join_codes: list[str]) -> list[StepPlan]:
    """Valid answers for every step of ``manifest`` (skippable steps skipped now and then)."""
    plans = []
    for step in manifest["steps"]:
        if step["skippable"] and rng.random() < 0.3:
            plans.append(StepPlan(step["key"], "skip"))
            continue
        plan = StepPlan(step["key"], "save", fields={f["name"]: f for f in step["fields"]})
        for definition in step["fields"]:
            value = answer_for(definition, rng=rng, n=n, tag=tag, email=email, join_codes=join_codes)
            if value is not None:
                plan.typed[definition["name"]] = value
        if "mode" in plan.typed:  # the workspace: only the field its mode reveals
            plan.typed.pop("join_code" if plan.typed["mode"] == "create" else "workspace_name", None)
        plans.append(plan)
    return plans


def answer_for(definition: dict, *, rng, n, tag, email, join_codes):
    name, widget, choices = definition["name"], definition["widget"], definition["choices"] or []
    values = [choice["value"] for choice in choices]
    if name == "timezone":
        return rng.choice([zone for zone in TIMEZONES if zone in values] or values)
    if name == "mode":
        return "join" if join_codes and rng.random() < 0.4 else "create"
    if name == "workspace_name":
        return f"Chaos {tag} {n}"
    if name == "join_code":
        return rng.choice(join_codes) if join_codes else None
    if name == "emails":
        local = email.split("@")[0]
        return [f"{local}-mate{k}@example.org" for k in range(rng.randint(0, 3))]
    if name in TEXT_VALUES:
        return rng.choice(TEXT_VALUES[name])
    if widget == "checkboxes":
        count = rng.randint(1 if definition["required"] else 0, min(3, len(values)))
        return sorted(rng.sample(values, count))
    if widget in ("radio", "select"):
        return rng.choice(values)
    if widget == "checkbox":
        return rng.random() < 0.5
    return None  # a text field this run has no values for: left as the page shows it


def stored_form(name: str, value):
    """What the server keeps for a typed value: text trimmed, lists in any order."""
    if isinstance(value, list):
        return sorted(str(item).strip().casefold() if name == "emails" else str(item).strip() for item in value)
    if isinstance(value, str):
        return value.strip()
    return value


def held(expected: dict, answers: dict | None) -> list[str]:
    """The fields of ``expected`` that ``answers`` (one step's, as the server holds them) lacks or differs on."""
    answers = answers or {}
    return [
        name
        for name, value in expected.items()
        if name not in answers or stored_form(name, answers[name]) != stored_form(name, value)
    ]


class DatabaseWatch(threading.Thread):
    """Polls the user's live session; notes when the server first held each ``Thing``."""

    QUERY = """
        SELECT s.id::text, s.state, s.data->'answers', s.data->'completed_steps', s.data->'skipped_steps',
               extract(epoch FROM s.updated_at)::float8
          FROM onboarding_sessions s JOIN auth_user u ON u.id = s.user_id
         WHERE u.username = %s AND s.state <> 'superseded'"""

    def __init__(self, database_url: str, username: str):
        super().__init__(name=f"watch-{username}", daemon=True)
        self.database_url, self.username = database_url, username
        self.lock = threading.Lock()
        self.things: list[Thing] = []
        self.halt = threading.Event()
        self.row = None

    def expect(self, thing: Thing) -> None:
        with self.lock:
            self.things.append(thing)

    def run(self) -> None:
        # The session's updated_at (wall clock, set by the write itself) says when it was written more
        # precisely than the poll that saw it: the monotonic clock of the failures is mapped onto it.
        wall_minus_monotonic = time.time() - time.monotonic()
        with psycopg.connect(self.database_url, autocommit=True) as db:
            while not self.halt.is_set():
                row = db.execute(self.QUERY, [self.username]).fetchone()
                now = time.monotonic()
                with self.lock:
                    self.row = row
                    for thing in self.things:
                        if thing.held_at is None and row is not None and self.holds(row, thing):
                            written = row[-1] - wall_minus_monotonic
                            thing.held_at = max(thing.done_at, min(now, written))
                time.sleep(POLL_SECONDS)

    @staticmethod
    def holds(row, thing: Thing) -> bool:
        _id, state, answers, completed, skipped, _updated = row
        if thing.what == "complete":
            return state == "completed"
        if thing.what == "skip":
            return thing.step in (skipped or [])
        return thing.step in (completed or []) and not held(thing.expected, (answers or {}).get(thing.step))

    def all_held(self) -> bool:
        with self.lock:
            return all(thing.held_at is not None for thing in self.things)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)


def label_pattern(text: str):
    """A label as its accessible name reads (a required field's name ends with " *", from the CSS)."""
    return re.compile(rf"^\s*{re.escape(text)}( \*)?\s*$")


def fill_field(page, definition: dict, value, say) -> None:
    """Answer one field as a person would, inside the page's main landmark (the footer has a language switcher).

    ``definition`` is the manifest's (in English); ``say`` gives a text in the page's language.
    """
    page = page.get_by_role("main")
    label, widget = say(definition["label"]), definition["widget"]
    labels = {choice["value"]: say(choice["label"]) for choice in definition["choices"] or []}
    if widget in ("radio", "checkboxes"):
        group = page.get_by_role("group", name=label_pattern(label))
        if widget == "radio":
            group.get_by_label(label_pattern(labels[value])).check()
            return
        for choice, text in labels.items():
            group.get_by_label(label_pattern(text)).set_checked(choice in value)
        return
    control = page.get_by_label(label_pattern(label))
    if widget == "select":
        control.select_option(value)
    elif widget == "checkbox":
        control.set_checked(bool(value))
    else:
        control.fill(", ".join(value) if isinstance(value, list) else value)


@dataclass
class Outcome:
    """What one journey did and what the server held at its end."""

    number: int
    username: str
    baseline: bool
    signup: bool
    plans: list
    things: list = field(default_factory=list)
    reached_dashboard: bool = False
    started_at: float = 0.0  # monotonic: the first step shown, failures on
    ended_at: float = 0.0  # ... the tab closed
    duration: float = 0.0
    presses: dict = field(default_factory=dict)  # (step, action) -> how often pressed
    reloads: int = 0
    stumbles: int = 0
    states_seen: set = field(default_factory=set)
    spells: int = 0
    restart: tuple | None = None  # (killed_at, answering_at)
    final_url: str = ""
    final_state: str | None = None
    page_errors: int = 0
    lost: list = field(default_factory=list)
    snapshot_lost: list = field(default_factory=list)
    twice: dict = field(default_factory=dict)
    disagreement: str = ""
    eligible: dict = field(default_factory=dict)
    injected: dict = field(default_factory=dict)
    released: int = 0
    note: str = ""


class Journey:
    """Drive one person through the wizard while ``injector`` (and the run) fail things under it."""

    def __init__(self, *, browser, origin, database_url, account, plan_rng, fault_rng, config, log, on_step=None):
        self.browser, self.origin, self.database_url = browser, origin, database_url
        self.account, self.plan_rng, self.fault_rng = account, plan_rng, fault_rng
        self.config, self.log, self.on_step = config, log, on_step
        self.spell = None

    # --- the run of it ------------------------------------------------------------------

    def run(self, outcome: Outcome) -> Outcome:
        self.outcome = outcome
        # A proxy in front would append each person's own address (the stack trusts one proxy, as the
        # load run's does): the sign-up limit per network then counts people, not this one machine.
        self.context = self.browser.new_context(extra_http_headers={"X-Forwarded-For": self.account["address"]})
        self.context.set_default_timeout(5_000)  # a control on a page that shows
        self.context.set_default_navigation_timeout(30_000)
        self.injector = Injector(origin=self.origin, rate=self.config.rate, rng=self.fault_rng, log=self.log)
        self.injector.attach(self.context)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda _error: self._count_page_error())
        try:
            self.enter()
            outcome.plans = self.plan()
            self.watch = DatabaseWatch(self.database_url, self.account["username"])
            self.watch.start()
            self.injector.enabled = self.config.rate > 0
            started = outcome.started_at = time.monotonic()
            try:
                self.walk(outcome.plans, deadline=started + self.config.journey_timeout)
            finally:
                outcome.duration = time.monotonic() - started
                self.calm()
            self.settle()
            outcome.final_url, outcome.final_state = self.page.url, self.sync_state()
        except Exception:
            if self.config.screenshots is not None:  # what the page showed when the harness gave up
                self.page.screenshot(path=self.config.screenshots / f"journey-{outcome.number:02d}.png", full_page=True)
            raise
        finally:
            if hasattr(self, "watch"):
                self.watch.stop()
                outcome.things = self.watch.things
                self.final_row = self.watch.row
            outcome.eligible, outcome.injected = dict(self.injector.eligible), dict(self.injector.injected)
            outcome.released = self.injector.released
            self.context.close()
            outcome.ended_at = time.monotonic()
        return outcome

    def _count_page_error(self):
        self.outcome.page_errors += 1

    def enter(self) -> None:
        """Sign up (a new account) or log in (a seeded one); the wizard's first step opens."""
        page, account = self.page, self.account
        if self.outcome.signup:
            page.goto(f"{self.origin}/accounts/signup/")
            page.get_by_label("Username").fill(account["username"])
            page.get_by_label("Email").fill(account["email"])
            page.get_by_label("Password", exact=True).fill(account["password"])
            page.get_by_label("Password confirmation").fill(account["password"])
            page.get_by_role("button", name="Sign up").click()
        else:
            page.goto(f"{self.origin}/accounts/login/")
            page.get_by_label("Username").fill(account["username"])
            page.get_by_label("Password").fill(account["password"])
            page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/o/[a-z-]+/$"), timeout=60_000)

    def plan(self) -> list[StepPlan]:
        manifest = self.context.request.get(f"{self.origin}/api/onboarding/manifest").json()
        return plan_journey(
            manifest,
            rng=self.plan_rng,
            n=self.outcome.number,
            tag=self.config.tag,
            email=self.account["email"],
            join_codes=self.config.join_codes,
        )

    def walk(self, plans: list[StepPlan], *, deadline: float) -> None:
        """Until the dashboard (or the deadline): answer the step the page shows, press its button, wait."""
        by_step = {plan.key: plan for plan in plans}
        last = plans[-1].key
        pressed_at = {}  # step -> when its button was last pressed
        while time.monotonic() < deadline:
            self.tick()
            step = self.current_step()
            if step == "dashboard":
                self.outcome.reached_dashboard = True
                return
            if step is None or not self.enhanced(until=min(deadline, time.monotonic() + 10)):
                self.reload(deadline)
                continue
            state = self.sync_state()
            self.outcome.states_seen.add(state)
            finished = any(thing.what == "complete" for thing in self.watch.things)
            since_press = time.monotonic() - pressed_at.get(step, float("-inf"))
            if step == last and finished and state in ("queued", "saving", "retrying", "saved"):
                self.wait(0.5)  # Finish was accepted (kept on the device or on its way): nothing to press
                continue
            if state in ("saving", "retrying") or (state == "queued" and since_press < PATIENCE_SECONDS):
                self.wait(0.2)  # the page is at it: a person waits a while before pressing again
                continue
            self.maybe_go_offline()
            try:
                self.act(by_step[step], last=step == last)
            except Exception as error:  # noqa: BLE001 - judged below
                if self.current_step() != step:
                    continue  # the page moved on while the user was typing: start over on the page it shows
                self.outcome.stumbles += 1
                if self.outcome.stumbles > MAX_STUMBLES:
                    raise
                self.outcome.note = f"stumbled: {str(error).splitlines()[0][:160]} ({self.describe_page()})"
                if self.config.screenshots is not None:  # what the page showed when the user could not act
                    name = f"stumble-{self.outcome.number:02d}-{self.outcome.stumbles}.png"
                    self.page.screenshot(path=self.config.screenshots / name, full_page=True)
                continue
            pressed_at[step] = time.monotonic()
            self.wait_to_leave(step, deadline)

    def act(self, plan: StepPlan, *, last: bool) -> None:
        page, now = self.page, time.monotonic
        action = plan.action
        language = page.locator("html").get_attribute("lang") or "en"  # the preferences step may change it

        def say(text):
            return self.config.translate(text, language)

        if action == "save":
            for name, value in plan.typed.items():
                try:
                    fill_field(page, plan.fields[name], value, say)
                except Exception as error:
                    raise RuntimeError(f"{plan.key}.{name} = {value!r}: {str(error).splitlines()[0]}") from error
            button = "Finish" if last else "Continue"
        else:
            button = "Skip"
        page.get_by_role("button", name=say(button), exact=True).click()
        key = (plan.key, action)
        self.outcome.presses[key] = self.outcome.presses.get(key, 0) + 1
        expected = {name: value for name, value in plan.typed.items()}
        self.watch.expect(Thing(action, plan.key, expected, now()))
        if last:
            self.watch.expect(Thing("complete", plan.key, {}, now()))
        if self.on_step is not None:
            self.on_step(self, plan.key)

    def wait_to_leave(self, step: str, deadline: float) -> None:
        """Wait (bounded) until the page leaves ``step`` or says something a user would act on."""
        pressed = time.monotonic()
        while time.monotonic() < deadline:
            self.wait(0.1)
            if self.current_step() != step:
                return
            state = self.sync_state()
            self.outcome.states_seen.add(state)
            waited = time.monotonic() - pressed
            if state in ("failed", "conflict", "auth-required") and waited > 1:
                return  # the user reads it and tries again
            if state in ("idle", "saved", "queued") and waited > 5:
                return  # the page stays put: back to the loop, which waits or presses again

    # --- the user's patience and the run's clock ----------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        self.injector.tick(now)
        if self.spell is not None and self.spell.tick(now):
            self.spell = None

    def wait(self, seconds: float) -> None:
        """Wait while Playwright keeps serving the routes (a plain sleep would stall them)."""
        end = time.monotonic() + seconds
        while True:
            self.tick()
            left = end - time.monotonic()
            if left <= 0:
                return
            self.page.wait_for_timeout(min(WAIT_SLICE_MS, left * 1000))

    def maybe_go_offline(self) -> None:
        if self.spell is None and self.config.rate > 0 and self.fault_rng.random() < self.config.offline_chance:
            self.spell = OfflineSpell(self.context, self.fault_rng.uniform(2.0, 5.0), self.log)
            self.outcome.spells += 1

    def calm(self) -> None:
        """The failures stop: no more injected, the spell over, hung requests let go."""
        self.injector.stop()
        if self.spell is not None:
            self.spell.tick(None)
            self.spell = None

    def settle(self) -> None:
        """With the tab open and nothing failing, wait (bounded) until the server holds everything."""
        end = time.monotonic() + self.config.settle
        while time.monotonic() < end and not (self.watch.all_held() and self.current_step() == "dashboard"):
            self.wait(0.1)
        self.wait(0.3)  # one more poll of the database after the last change

    # --- what the page shows --------------------------------------------------------------

    def current_step(self) -> str | None:
        path = self.page.url.removeprefix(self.origin)
        if path.startswith("/dashboard/"):
            return "dashboard"
        match = re.fullmatch(r"/o/([a-z-]+)/", path.split("?")[0])
        return match.group(1) if match else None

    def describe_page(self) -> str:
        """Where the page was when the user could not act: its URL, how the step came, its status."""
        try:
            form = self.page.evaluate(
                """() => {
                    const form = document.getElementById("wizard-step-form");
                    if (!form) return "no step form";
                    const kind = form.hasAttribute("data-shell") ? "shell" : form.hasAttribute("data-local") ? "local" : "server";
                    const inert = [...form.querySelectorAll("input, select, textarea")].filter((c) => c.disabled).length;
                    return `${kind} ${form.dataset.step}${form.hidden ? " hidden" : ""}, ${inert} disabled, `
                        + `readyState ${document.readyState}`;
                }"""
            )
        except Exception as error:  # noqa: BLE001 - the page is navigating or gone
            form = f"unreadable: {str(error).splitlines()[0][:60]}"
        return f"{self.page.url.removeprefix(self.origin)}: {form}, status {self.sync_state()}"

    def sync_state(self) -> str | None:
        status = self.page.locator("[data-sync-state]")
        try:
            return status.first.get_attribute("data-sync-state", timeout=1000) if status.count() else None
        except Exception:  # noqa: BLE001 - the page navigated away meanwhile
            return None

    def enhanced(self, *, until: float) -> bool:
        while time.monotonic() < until:
            try:
                if self.page.locator("[data-sync-state]:not([hidden])").count():
                    return True
            except Exception:  # noqa: BLE001 - the page is navigating
                pass
            if self.current_step() in (None, "dashboard"):
                return self.current_step() == "dashboard"
            self.wait(0.1)
        return False

    def reload(self, deadline: float) -> None:
        """What a user does on an error page: load the wizard again (the server says where)."""
        self.outcome.reloads += 1
        step = self.current_step()
        target = f"{self.origin}/o/{step}/" if step not in (None, "dashboard") else f"{self.origin}/o/"
        try:
            self.page.goto(target, timeout=max(1000, min(20_000, (deadline - time.monotonic()) * 1000)))
        except Exception:  # noqa: BLE001 - still failing: the loop tries again
            self.wait(1.0)


# --- the books at the end of a journey -----------------------------------------------------

BOOKS = {
    "events": """SELECT name, step, count(*) FROM onboarding_events
                  WHERE user_id = %(user)s AND name IN ('step_saved', 'step_skipped', 'completed') GROUP BY 1, 2""",
    "sessions": "SELECT count(*) FROM onboarding_sessions WHERE user_id = %(user)s",
    "snapshots": "SELECT count(*) FROM onboarding_answer_snapshots WHERE user_id = %(user)s",
    "outbox": """SELECT count(*) FROM onboarding_outbox o JOIN onboarding_sessions s ON s.id = o.session_id
                  WHERE s.user_id = %(user)s""",
    "workspaces": "SELECT count(*) FROM onboarding_workspaces WHERE created_by_id = %(user)s",
    "memberships": "SELECT count(*) FROM onboarding_workspace_memberships WHERE user_id = %(user)s",
}


def audit(outcome: Outcome, database_url: str) -> Outcome:
    """Compare what the journey typed and did with what the server holds; fill in lost, twice, disagreement."""
    with psycopg.connect(database_url, autocommit=True) as db:
        found = db.execute("SELECT id FROM auth_user WHERE username = %s", [outcome.username]).fetchone()
        if found is None:  # the sign-up never went through: nothing to compare
            return outcome
        user = found[0]
        row = db.execute(
            """SELECT s.state, s.data->'answers', snap.answers FROM onboarding_sessions s
                 LEFT JOIN onboarding_answer_snapshots snap ON snap.session_id = s.id
                WHERE s.user_id = %s AND s.state <> 'superseded'""",
            [user],
        ).fetchone()
        counts = {name: db.execute(sql, {"user": user}).fetchall() for name, sql in BOOKS.items()}
    state, answers, snapshot = row if row else (None, {}, None)
    saved = {thing.step: thing.expected for thing in outcome.things if thing.what == "save"}
    for step, expected in saved.items():
        outcome.lost += [f"{step}.{name}" for name in held(expected, (answers or {}).get(step))]
        if state == "completed":
            outcome.snapshot_lost += [f"{step}.{name}" for name in held(expected, (snapshot or {}).get(step))]
    events = {(name, step): n for name, step, n in counts.pop("events")}
    for (step, action), pressed in outcome.presses.items():
        name = "step_saved" if action == "save" else "step_skipped"
        outcome.twice[f"{name} {step}"] = max(0, events.get((name, step), 0) - pressed)
    outcome.twice["completed events"] = max(0, sum(n for (name, _s), n in events.items() if name == "completed") - 1)
    for name, rows in counts.items():
        outcome.twice[name] = max(0, rows[0][0] - 1)
    outcome.disagreement = disagreement(outcome, state)
    return outcome


def disagreement(outcome: Outcome, server_state: str | None) -> str:
    """How the page's last word (URL, status) contradicts the server's state, or ""."""
    on_dashboard = "/dashboard/" in outcome.final_url
    if server_state == "completed" and not on_dashboard:
        return f"server completed, page at {outcome.final_url} ({outcome.final_state})"
    if on_dashboard and server_state != "completed":
        return f"page on the dashboard, server {server_state}"
    unheld = [f"{t.what} {t.step}" for t in outcome.things if t.held_at is None]
    if unheld and outcome.final_state in ("idle", "saved"):
        return f"page says {outcome.final_state}, server lacks {', '.join(unheld)}"
    return ""
