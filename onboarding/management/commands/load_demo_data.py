"""Create demo accounts and a few dozen onboarding sessions, all through the services.

The services write every row at the real time; each user's story is then dated back with targeted
updates (``StoryTimeline``), so the demo spreads over the last ~45 days without faking the clock.
Idempotent: an account that already exists is left as it is (only the named demo accounts get
their printed password set again), so running it twice adds nothing.
"""

import contextlib
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone
from tqdm import tqdm
from waffle import get_waffle_flag_model

from onboarding import services
from onboarding.errors import StepValidationError
from onboarding.manifest import AI_QUESTION_FLAG, STEP_KEYS, get_step
from onboarding.models import (
    Invitation,
    OnboardingEvent,
    OnboardingSession,
    OutboxMessage,
    Workspace,
    WorkspaceMembership,
)
from onboarding.selectors import manifest_of, session_live_for_user

SOURCE = "wizard"
ADMIN_PASSWORD = "onboarding-admin"
DEMO_PASSWORD = "onboarding-demo"
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Annie",
    "Niklaus",
    "Sophie",
    "Guido",
    "Jean",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Easley",
    "Wirth",
    "Wilson",
]
JOB_TITLES = ["Engineer", "Designer", "Product manager", "Analyst", "Team lead", "CTO", "Marketer", "", ""]
TIMEZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Europe/Paris",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "UTC",
]
# username, password, staff, stop before step index (None: complete), skipped steps, workspace name
NAMED_ACCOUNTS = (
    ("admin", ADMIN_PASSWORD, True, None, (), "Demo HQ"),
    ("demo_new", DEMO_PASSWORD, False, 0, (), None),
    ("demo_halfway", DEMO_PASSWORD, False, 3, ("tools",), None),
    ("demo_done", DEMO_PASSWORD, False, None, (), "Demo Workspace"),
)
WORKSPACE_WORDS = (
    ["Blue", "Quiet", "Rapid", "Bright", "Northern", "Clever", "Golden", "Open"],
    ["Otters", "Harbor", "Labs", "Works", "Foundry", "Orbit", "Garden", "Collective"],
)


class StoryTimeline:
    """Moves one demo user's rows back in time as their story is told, so it spans minutes and days.

    The services stamp every row with the real time, and nothing pretends otherwise. Before each
    action the user's rows so far are moved back by the time the user "thought" about it, so the
    services themselves measure that time between events (``duration_ms``, the resume rule). When
    the story is told, all of it is moved back to the day it began, and the completion message
    still waiting in the outbox is rebuilt from the moved session, so the snapshot its consumer
    writes after the commit carries the historic completion time too.
    """

    def __init__(self, user, *, began: datetime):
        self.user, self.began = user, began

    def think(self, rng: random.Random, low: int = 20, high: int = 400) -> None:
        """Let ``low``..``high`` seconds pass before the next action."""
        self._move_back(timedelta(seconds=rng.randint(low, high)))

    def settle(self) -> None:
        """Move the whole story back so that it began at ``began``; re-date the completion message."""
        started = OnboardingSession.objects.filter(user=self.user).order_by("started_at").values("started_at").first()
        if started is not None:
            self._move_back(started["started_at"] - self.began)
        get_user_model().objects.filter(pk=self.user.pk, date_joined__gt=self.began).update(date_joined=self.began)
        for session in OnboardingSession.objects.filter(user=self.user, completed_at__isnull=False):
            session.outbox_messages.filter(state=OutboxMessage.State.PENDING).update(
                payload=services.completion_message(session),
            )

    def _move_back(self, by: timedelta) -> None:
        user = self.user
        earlier = {name: F(name) - by for name in ("started_at", "updated_at", "completed_at", "last_event_at")}
        OnboardingSession.objects.filter(user=user).update(**earlier)
        OnboardingEvent.objects.filter(user_id=user.pk).update(created_at=F("created_at") - by)
        OutboxMessage.objects.filter(session__user=user).update(created_at=F("created_at") - by)
        WorkspaceMembership.objects.filter(user=user).update(joined_at=F("joined_at") - by)
        Workspace.objects.filter(created_by=user).update(created_at=F("created_at") - by)
        Invitation.objects.filter(invited_by=user).update(created_at=F("created_at") - by)


class Command(BaseCommand):
    help = "Create demo accounts (admin, new, half-way, completed) and ~70 generated onboarding sessions."

    def add_arguments(self, parser):
        parser.add_argument("--completed", type=int, default=40, help="generated users who completed onboarding")
        parser.add_argument("--abandoned", type=int, default=30, help="generated users who stopped part-way")
        parser.add_argument("--seed", type=int, default=20261125, help="random seed (the same seed, the same data)")
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Refusing to load demo accounts with DEBUG off (pass --force if you mean it).")
        self.rng = random.Random(options["seed"])
        self.shared_hash = make_password(DEMO_PASSWORD)  # hashing once keeps ~70 accounts fast
        plan = [("completed", n) for n in range(1, options["completed"] + 1)]
        plan += [("abandoned", n) for n in range(1, options["abandoned"] + 1)]
        self.experiment = self._experiment()
        with self._quiet(options["verbosity"]):
            created = self._named_accounts()
            for kind, number in tqdm(plan, desc="demo users", unit="user", disable=options["verbosity"] == 0):
                created += self._generated_user(kind, number)
        self._report(created, options)

    @contextlib.contextmanager
    def _quiet(self, verbosity: int):
        """Keep demo invitations out of the mail and per-event log lines off the screen (unless -v 2)."""
        if verbosity >= 2:
            yield
            return
        loggers = [logging.getLogger(name) for name in ("onboarding.events", "celery", "aggregation")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
                yield
        finally:
            for logger, level in zip(loggers, levels, strict=False):
                logger.setLevel(level)

    def _experiment(self) -> str:
        """Show the AI question to half of the new demo users, unless its flag is set up already."""
        flag, _ = get_waffle_flag_model().objects.get_or_create(name=AI_QUESTION_FLAG, defaults={"superusers": False})
        untouched = (
            flag.everyone is None
            and not flag.percent
            and not flag.staff
            and not flag.superusers
            and not flag.authenticated
            and not flag.users.exists()
            and not flag.groups.exists()
        )
        if untouched:
            flag.percent = 50
            flag.save()
        return f"{flag.name} at {float(flag.percent):g}%" if untouched else f"{flag.name} as configured (left alone)"

    # --- accounts -------------------------------------------------------------------------

    def _named_accounts(self) -> int:
        """Create the printed accounts; one without a session gets its story (again) too."""
        created = 0
        for username, password, staff, stop_before, skip, workspace in NAMED_ACCOUNTS:
            with transaction.atomic():
                user, new = self._account(username, password=password, staff=staff)
                if session_live_for_user(user) is None:
                    self._walk(user, days_ago=3, stop_before=stop_before, skip=skip, workspace_name=workspace)
            created += new
        return created

    def _account(self, username: str, *, password: str, staff: bool = False):
        """Return (user, created); the named accounts always get their printed password back."""
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "is_staff": staff, "is_superuser": staff},
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        return user, created

    def _generated_user(self, kind: str, number: int) -> int:
        username = f"{kind}{number:02d}"
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            return 0
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        days_ago = self.rng.uniform(0.5, 45)
        skip = tuple(step for step, chance in (("tools", 0.3), ("invites", 0.45)) if self.rng.random() < chance)
        stop_before = None if kind == "completed" else self.rng.randint(0, len(STEP_KEYS) - 1)
        with transaction.atomic():  # a user exists with their whole story, or not at all
            user = User.objects.create(
                username=username,
                email=f"{username}@example.com",
                first_name=first,
                last_name=last,
                password=self.shared_hash,
                date_joined=timezone.now() - timedelta(days=days_ago),
            )
            self._walk(user, days_ago=days_ago, stop_before=stop_before, skip=skip, full_name=f"{first} {last}")
        return 1

    # --- one user's story, told through the services ---------------------------------------

    def _walk(self, user, *, days_ago: float, stop_before: int | None, skip=(), workspace_name=None, full_name=None):
        """Start, answer each step (skipping some), and complete unless ``stop_before`` a step index.

        Runs inside the caller's transaction: the completion message is sent once it commits,
        after ``settle`` has dated the story ``days_ago`` days back.
        """
        self.timeline = StoryTimeline(user, began=timezone.now() - timedelta(days=days_ago))
        session = services.session_get_or_start(user=user, source=SOURCE)
        for step in STEP_KEYS[:stop_before]:  # None: every step
            self.timeline.think(self.rng)
            if step in skip:
                session = services.session_skip_step(user=user, step=step, revision=session.revision, source=SOURCE)
                continue
            session = self._save(user, session, step, workspace_name=workspace_name, full_name=full_name)
        if stop_before is None:
            self.timeline.think(self.rng, 2, 30)
            services.session_complete(user=user, revision=session.revision, source=SOURCE)
        self.timeline.settle()

    def _save(self, user, session, step: str, *, workspace_name, full_name):
        if step == "work-profile" and self.rng.random() < 0.15:  # some people miss a required field first
            with contextlib.suppress(StepValidationError):
                services.session_save_step(
                    user=user,
                    step=step,
                    revision=session.revision,
                    source=SOURCE,
                    answers={**self._answers(step), "functions": []},
                )
            self.timeline.think(self.rng, 5, 60)
        answers = self._answers(step, user=user, workspace_name=workspace_name, full_name=full_name)
        shown = manifest_of(session).get_step(step)
        for name in shown.field_flags:  # the experimental questions this session's flags show: some answer them
            answers[name] = self.rng.choice(["", *(value for value, _ in shown.form_class.base_fields[name].choices)])
        return services.session_save_step(
            user=user, step=step, answers=answers, revision=session.revision, source=SOURCE
        )

    # --- answers ---------------------------------------------------------------------------

    def _answers(self, step: str, *, user=None, workspace_name=None, full_name=None) -> dict:
        """Return plausible answers for ``step``, choosing among the form's own choices."""
        rng, fields = self.rng, get_step(step).form_class.base_fields

        def pick(name):
            return rng.choice([value for value, _ in fields[name].choices if value])

        def some(name, most=3):
            values = [value for value, _ in fields[name].choices]
            return rng.sample(values, rng.randint(1, min(most, len(values))))

        if step == "profile":
            return {
                "full_name": full_name or user.get_full_name() or user.get_username(),
                "job_title": rng.choice(JOB_TITLES),
                "role": pick("role"),
            }
        if step == "work-profile":
            return {
                "team_name": rng.choice(["Platform", "Growth", "Core", "Mobile", ""]),
                "team_size": pick("team_size"),
                "timezone": rng.choice(TIMEZONES),
                "functions": some("functions"),
                "intents": some("intents"),
                "experience": pick("experience"),
            }
        if step == "tools":
            return {"tools": some("tools", 4), "other_tools": rng.choice([[], [], ["Miro"], ["Zapier", "Sentry"]])}
        if step == "invites":
            emails = [f"teammate{rng.randint(100, 999)}@example.net" for _ in range(rng.randint(1, 3))]
            return {"emails": emails, "invite_role": pick("invite_role")}
        if step == "preferences":
            return {
                "theme": pick("theme"),
                "email_digest": pick("email_digest"),
                "notifications": some("notifications"),
                "language": pick("language"),
                "product_updates": rng.random() < 0.35,
            }
        return self._workspace_answers(workspace_name)

    def _workspace_answers(self, name=None) -> dict:
        joinable = list(Workspace.objects.filter(joinable=True).values_list("join_code", flat=True)[:50])
        if name is None and joinable and self.rng.random() < 0.3:
            return {"mode": "join", "workspace_name": "", "join_code": self.rng.choice(joinable)}
        if name is not None and Workspace.objects.filter(name=name).exists():
            name = None
        while name is None or Workspace.objects.filter(name=name).exists():
            adjective, noun = self.rng.choice(WORKSPACE_WORDS[0]), self.rng.choice(WORKSPACE_WORDS[1])
            name = f"{adjective} {noun} {self.rng.randint(1, 999)}"
        return {"mode": "create", "workspace_name": name, "join_code": ""}

    # --- report ----------------------------------------------------------------------------

    def _report(self, created: int, options) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo data ready ({created} new accounts; existing ones left as they were)."))
        out.write("")
        out.write("Accounts:")
        out.write(f"  admin         / {ADMIN_PASSWORD}   staff superuser, onboarding completed (/admin/)")
        out.write(f"  demo_new      / {DEMO_PASSWORD}    signed up, nothing answered yet")
        out.write(f"  demo_halfway  / {DEMO_PASSWORD}    profile and work profile done, tools skipped, at invites")
        out.write(f'  demo_done     / {DEMO_PASSWORD}    completed, workspace "Demo Workspace"')
        generated = f"completed01..{options['completed']:02d}, abandoned01..{options['abandoned']:02d}"
        out.write(f"  {generated} / {DEMO_PASSWORD}   generated users")
        out.write("")
        out.write(
            f"Experiment: {self.experiment} for sessions started now (staff: /admin/waffle/flag/; the readout: "
            "/admin/onboarding/funnel/?flag=onboarding-ai-question)."
        )
        # The command does not know where the site is served: `make run` prints the full address.
        out.write("Log in at /accounts/login/ (staff: /admin/), or sign up at /accounts/signup/.")
