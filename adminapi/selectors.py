"""Reads behind the staff surfaces: the answers list, a user's history, totals and the funnel.

The views parse query parameters into the typed arguments below; every function here returns
querysets or plain data and knows nothing of HTTP.
"""

from dataclasses import dataclass
from datetime import datetime

from aggregation.funnel import OCCURRENCES, SESSIONS, StepFigures, funnel_figures
from aggregation.models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot
from aggregation.snapshots.documents import SNAPSHOT_DOCUMENT_FIELDS, snapshot_document
from onboarding.manifest import STEP_KEYS, STEPS, step_index
from onboarding.selectors import ARMS

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
    """Return the staff API's result documents for ``.values(*SNAPSHOT_DOCUMENT_FIELDS)`` rows."""
    return [snapshot_document(row) for row in rows]


def user_completion_history(user_id: int) -> list[dict]:
    """Return a user's snapshots, oldest first (index snap_user_completed)."""
    rows = (
        AnswerSnapshot.objects.filter(user_id=user_id)
        .order_by("completed_at", "session_id")
        .values(*SNAPSHOT_DOCUMENT_FIELDS)
    )
    return snapshot_documents(rows)


def totals_list(
    *, step: str | None = None, question: str | None = None, flag: str | None = None, arm: str | None = None
) -> list[dict]:
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
        return (
            step_pos,
            field_order.get((row["step"], row["question"]), 99),
            row["question"],
            -row["count"],
            row["answer"],
        )

    return sorted(rows, key=position)


# --- The funnel --------------------------------------------------------------------------------


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
    p90_ms: int | None
    validation_failures: int
    conflicts: int
    retries: int
    queued_saves: int
    validation_failures_occurrences: int = 0
    conflicts_occurrences: int = 0
    retries_occurrences: int = 0
    queued_saves_occurrences: int = 0

    @property
    def passed(self) -> int:
        return self.completed + self.skipped

    @property
    def friction(self) -> int:
        return self.validation_failures + self.conflicts + self.retries + self.queued_saves


def onboarding_funnel(
    *,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    flag: str | None = None,
    arm: str | None = None,
) -> list[FunnelStep]:
    """Return, per manifest step, how many sessions reached, completed, skipped and left it, and their friction.

    Counted: sessions not superseded, started in the window (with ``flag`` and ``arm``: those that
    decided the flag that way; a step its flags leave out is not reached).
    A session *reached* a step when the step is done, skipped, or the first one outstanding; it
    *dropped* there when it reached the step and has neither done nor skipped it. Times are those
    of ``step_saved``/``step_skipped`` events (the time spent on the step), read from a histogram
    within ``aggregation.funnel.BUCKET_ERROR``; friction counts the sessions that met it on the step,
    and ``*_occurrences`` how often (each session at most ``FRICTION_CAP_PER_SESSION`` times).
    Figures come from the rollups (``aggregation.funnel``) and equal a direct computation.
    """
    return _funnel(started_after=started_after, started_before=started_before, flag=flag, arm=arm)[0]


def _funnel(*, started_after, started_before, flag, arm) -> tuple[list[FunnelStep], StepFigures]:
    """Return the funnel's steps and the figures of its sessions (counted, completed onboarding)."""
    by_step = funnel_figures(started_after=started_after, started_before=started_before, flag=flag or "", arm=arm or "")
    steps = []
    for step in STEPS:
        figures = by_step.get(step.key) or StepFigures()
        steps.append(
            FunnelStep(
                key=step.key,
                title=str(step.title),
                skippable=step.skippable,
                reached=figures.reached,
                completed=figures.completed,
                skipped=figures.skipped,
                dropped=figures.dropped,
                drop_off_rate=round(figures.dropped / figures.reached, 4) if figures.reached else None,
                median_ms=figures.median_ms,
                p90_ms=figures.p90_ms,
                validation_failures=figures.validation_failures,
                conflicts=figures.conflicts,
                retries=figures.retries,
                queued_saves=figures.queued_saves,
                **{name: getattr(figures, name) for name in OCCURRENCES.values()},
            )
        )
    return steps, by_step.get(SESSIONS) or StepFigures()


FUNNEL_FIELDS = (
    "reached",
    "completed",
    "skipped",
    "dropped",
    "drop_off_rate",
    "median_ms",
    "p90_ms",
    "validation_failures",
    "conflicts",
    "retries",
    "queued_saves",
    "validation_failures_occurrences",
    "conflicts_occurrences",
    "retries_occurrences",
    "queued_saves_occurrences",
)


def funnel_document(steps: list[FunnelStep]) -> list[dict]:
    """Return the funnel as JSON-ready dicts (the API's ``steps``)."""
    return [
        {
            "step": s.key,
            "title": s.title,
            "skippable": s.skippable,
            **{name: getattr(s, name) for name in FUNNEL_FIELDS},
        }
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


def onboarding_funnel_by_arm(
    *, flag: str, started_after: datetime | None = None, started_before: datetime | None = None
) -> FunnelExperiment:
    """Return the funnel of the sessions that decided ``flag`` on and of those that decided it off.

    A thin split of ``onboarding_funnel``: the same rollups, each arm's rows. Sessions that never
    decided the flag (started before the manifest referenced it) are in neither arm.
    """
    arms = []
    for arm in ARMS:
        steps, sessions = _funnel(started_after=started_after, started_before=started_before, flag=flag, arm=arm)
        arms.append(FunnelArm(arm=arm, steps=steps, sessions=sessions.reached, completed=sessions.completed))
    on, off = arms
    difference = None
    if on.sessions and off.sessions:
        difference = on.completion_rate - off.completion_rate
    return FunnelExperiment(
        flag=flag,
        arms=arms,
        completion_rate_difference=difference,
        p_value=two_proportion_p_value(on.completed, on.sessions, off.completed, off.sessions),
    )


def funnel_arms_document(experiment: FunnelExperiment) -> dict:
    """Return the experiment readout as the API's JSON-ready dict."""
    return {
        "flag": experiment.flag,
        "arms": [
            {
                "arm": arm.arm,
                "sessions": arm.sessions,
                "completed": arm.completed,
                "completion_rate": _rate(arm.completion_rate),
                "steps": funnel_document(arm.steps),
            }
            for arm in experiment.arms
        ],
        "completion_rate_difference": _rate(experiment.completion_rate_difference),
        "p_value": experiment.p_value,
    }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
