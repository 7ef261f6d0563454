"""Reads behind the staff surfaces: the answers list, a user's history, totals and the funnel.

The views parse query parameters into the typed arguments below; every function here returns
querysets or plain data and knows nothing of HTTP.
"""
import statistics
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q

from aggregation.documents import SNAPSHOT_DOCUMENT_FIELDS, snapshot_document
from aggregation.models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot
from onboarding.manifest import STEP_KEYS, STEPS, session_manifest, step_index
from onboarding.models import OnboardingEvent, OnboardingSession
from onboarding.selectors import ARMS, sessions_in_arm, steps_reached

from .experiments import two_proportion_p_value


@dataclass(frozen=True)
class AnswerFilters:
    """The answers list's filters; ``None`` means "not filtered"."""

    role: str | None = None
    workspace_id: int | None = None
    completed_after: datetime | None = None
    completed_before: datetime | None = None
    # Set when the workspace filter named a slug (or id) that does not exist: nothing matches.
    matches_nothing: bool = False


def snapshots_filtered(filters: AnswerFilters):
    """Return snapshots matching ``filters``, newest first by the keyset (completed_at, session_id).

    Each filter lands on an index of ``AnswerSnapshot.Meta.indexes``: role → snap_role_completed,
    workspace → snap_ws_completed, a completion window alone → snap_completed_desc.
    """
    queryset = AnswerSnapshot.objects.all()
    if filters.matches_nothing:
        return queryset.none()
    if filters.role is not None:
        queryset = queryset.filter(role=filters.role)
    if filters.workspace_id is not None:
        queryset = queryset.filter(workspace_id=filters.workspace_id)
    if filters.completed_after is not None:
        queryset = queryset.filter(completed_at__gte=filters.completed_after)
    if filters.completed_before is not None:
        queryset = queryset.filter(completed_at__lt=filters.completed_before)
    return queryset.order_by("-completed_at", "-session_id")


def snapshot_documents(rows) -> list[dict]:
    """Return the contract's result documents for ``.values(*SNAPSHOT_DOCUMENT_FIELDS)`` rows."""
    return [snapshot_document(row) for row in rows]


def user_completion_history(user_id: int) -> list[dict]:
    """Return a user's snapshots, oldest first (index snap_user_completed)."""
    rows = (
        AnswerSnapshot.objects.filter(user_id=user_id)
        .order_by("completed_at", "session_id")
        .values(*SNAPSHOT_DOCUMENT_FIELDS)
    )
    return snapshot_documents(rows)


def totals_list(*, step: str | None = None, question: str | None = None, flag: str | None = None,
                arm: str | None = None) -> list[dict]:
    """Return answer counts in manifest order (step, then field), most frequent answer first.

    With ``flag`` and ``arm``: the counts of the sessions that decided the flag that way
    (onboarding_answer_arm_totals, through its key index uniq_arm_total_key).
    """
    if flag is not None:
        queryset = AnswerArmTotal.objects.filter(flag=flag, arm=arm)
    else:
        queryset = AnswerGroupTotal.objects.all()
    if step is not None:
        queryset = queryset.filter(step=step)
    if question is not None:
        queryset = queryset.filter(question=question)
    rows = list(queryset.values("step", "question", "answer", "count"))
    field_order = {(s.key, name): i for s in STEPS for i, name in enumerate(s.field_names)}

    def position(row):
        step_pos = step_index(row["step"]) if row["step"] in STEP_KEYS else len(STEP_KEYS)
        return step_pos, field_order.get((row["step"], row["question"]), 99), row["question"], -row["count"], row["answer"]

    return sorted(rows, key=position)


# --- The funnel --------------------------------------------------------------------------------

TIMED_EVENTS = (OnboardingEvent.Name.STEP_SAVED, OnboardingEvent.Name.STEP_SKIPPED)


class _Median(Aggregate):
    """PostgreSQL's exact median; other databases compute it in Python."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class FunnelStep:
    key: str
    title: str
    skippable: bool
    reached: int
    completed: int
    skipped: int
    dropped: int
    drop_off_rate: float | None
    median_ms: int | None

    @property
    def passed(self) -> int:
        return self.completed + self.skipped


def funnel_sessions(*, started_after: datetime | None = None, started_before: datetime | None = None,
                    flag: str | None = None, arm: str | None = None):
    """Return the sessions the funnel counts: live ones (not superseded) started in the window.

    With ``flag`` and ``arm``: only those that decided the flag that way (index onb_session_flags).
    """
    queryset = OnboardingSession.objects.exclude(state=OnboardingSession.State.SUPERSEDED)
    if started_after is not None:
        queryset = queryset.filter(started_at__gte=started_after)
    if started_before is not None:
        queryset = queryset.filter(started_at__lt=started_before)
    if flag is not None:
        queryset = sessions_in_arm(queryset, flag=flag, arm=arm)
    return queryset


def onboarding_funnel(*, started_after: datetime | None = None, started_before: datetime | None = None,
                      flag: str | None = None, arm: str | None = None) -> list[FunnelStep]:
    """Return, per manifest step, how many sessions reached, completed, skipped and left it.

    A session *reached* a step when the step is done, skipped, or the first one outstanding;
    it *dropped* there when it reached the step and has neither done nor skipped it (an
    in-progress session sitting on the step counts: it has not got past it yet). The median
    time is that of ``step_saved``/``step_skipped`` events, whose ``duration_ms`` is the time
    since the session's previous event, i.e. the time spent on the step.
    """
    sessions = funnel_sessions(started_after=started_after, started_before=started_before, flag=flag, arm=arm)
    counts = {key: {"reached": 0, "completed": 0, "skipped": 0} for key in STEP_KEYS}
    # Group in the database by the (few) distinct shapes of progress, then expand in Python.
    shapes = sessions.values("state", "data__completed_steps", "data__skipped_steps", "data__flags").annotate(n=Count("id"))
    for shape in shapes:
        done = set(shape["data__completed_steps"] or [])
        skipped = set(shape["data__skipped_steps"] or [])
        steps = session_manifest(shape["data__flags"]).step_keys  # a step its flags leave out is not reached
        _count_shape(counts, shape["state"] == OnboardingSession.State.COMPLETED, done, skipped, steps, shape["n"])
    medians = _median_durations(sessions)
    result = []
    for step in STEPS:
        c = counts[step.key]
        dropped = max(c["reached"] - c["completed"] - c["skipped"], 0)
        result.append(FunnelStep(
            key=step.key, title=step.title, skippable=step.skippable, reached=c["reached"],
            completed=c["completed"], skipped=c["skipped"], dropped=dropped,
            drop_off_rate=round(dropped / c["reached"], 4) if c["reached"] else None,
            median_ms=medians.get(step.key),
        ))
    return result


def _count_shape(counts: dict, completed_session: bool, done: set, skipped: set, steps, n: int) -> None:
    for key in steps_reached(done=done, skipped=skipped, completed=completed_session, steps=steps):
        counts[key]["reached"] += n
        if key in done:
            counts[key]["completed"] += n
        elif key in skipped:
            counts[key]["skipped"] += n


def _median_durations(sessions) -> dict[str, int]:
    events = OnboardingEvent.objects.filter(
        session_id__in=sessions.values("id"), name__in=TIMED_EVENTS, step__in=STEP_KEYS, duration_ms__isnull=False,
    )
    if connection.vendor == "postgresql":
        rows = events.values("step").annotate(median=_Median("duration_ms"))
        return {row["step"]: int(round(row["median"])) for row in rows}
    by_step: dict[str, list[int]] = {}
    for step, duration in events.values_list("step", "duration_ms").iterator():
        by_step.setdefault(step, []).append(duration)
    return {step: int(round(statistics.median(values))) for step, values in by_step.items()}


def funnel_document(steps: list[FunnelStep]) -> list[dict]:
    """Return the funnel as JSON-ready dicts (the API's ``steps``)."""
    return [
        {"step": s.key, "title": s.title, "skippable": s.skippable, "reached": s.reached, "completed": s.completed,
         "skipped": s.skipped, "dropped": s.dropped, "drop_off_rate": s.drop_off_rate, "median_ms": s.median_ms}
        for s in steps
    ]



# --- The experiment readout: the funnel split by a flag's arms ---------------------------------

@dataclass(frozen=True)
class FunnelArm:
    arm: str
    sessions: int
    completed: int
    steps: list[FunnelStep]

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.sessions if self.sessions else None


@dataclass(frozen=True)
class FunnelExperiment:
    flag: str
    arms: list[FunnelArm]  # "on", then "off"
    completion_rate_difference: float | None  # on − off
    p_value: float | None  # two-proportion z-test of the completion rates


def onboarding_funnel_by_arm(*, flag: str, started_after: datetime | None = None,
                             started_before: datetime | None = None) -> FunnelExperiment:
    """Return the funnel of the sessions that decided ``flag`` on and of those that decided it off.

    A thin split of ``onboarding_funnel``: the same counting over each arm's sessions. Sessions
    that never decided the flag (started before the manifest referenced it) are in neither arm.
    """
    arms = []
    for arm in ARMS:
        window = {"started_after": started_after, "started_before": started_before, "flag": flag, "arm": arm}
        counts = funnel_sessions(**window).aggregate(
            sessions=Count("id"), completed=Count("id", filter=Q(state=OnboardingSession.State.COMPLETED)),
        )
        arms.append(FunnelArm(arm=arm, steps=onboarding_funnel(**window), **counts))
    on, off = arms
    difference = None
    if on.sessions and off.sessions:
        difference = on.completion_rate - off.completion_rate
    return FunnelExperiment(
        flag=flag, arms=arms, completion_rate_difference=difference,
        p_value=two_proportion_p_value(on.completed, on.sessions, off.completed, off.sessions),
    )


def funnel_arms_document(experiment: FunnelExperiment) -> dict:
    """Return the experiment readout as the API's JSON-ready dict."""
    return {
        "flag": experiment.flag,
        "arms": [
            {"arm": arm.arm, "sessions": arm.sessions, "completed": arm.completed,
             "completion_rate": _rate(arm.completion_rate), "steps": funnel_document(arm.steps)}
            for arm in experiment.arms
        ],
        "completion_rate_difference": _rate(experiment.completion_rate_difference),
        "p_value": experiment.p_value,
    }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
