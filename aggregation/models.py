"""The analytics store: one snapshot per completed session and counts per answer."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AnswerSnapshot(models.Model):
    session_id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_snapshots")
    workspace = models.ForeignKey(
        "onboarding.Workspace", null=True, blank=True, on_delete=models.SET_NULL, related_name="answer_snapshots"
    )
    role = models.CharField(max_length=40, blank=True, default="")
    answer_schema_version = models.PositiveIntegerField()
    completed_at = models.DateTimeField()
    answers = models.JSONField(default=dict)
    flattened = models.JSONField(default=list)
    flags = models.JSONField(default=dict, blank=True, help_text="The session's flags, decided when it started.")
    ingested_at = models.DateTimeField(help_text="When this snapshot was last written; the export watermark.")

    class Meta:
        db_table = "onboarding_answer_snapshots"
        indexes = [
            # Admin answers list: newest first, keyset on (completed_at, session_id).
            models.Index(fields=["-completed_at", "-session_id"], name="snap_completed_desc"),
            # Admin list filtered by role.
            models.Index(fields=["role", "-completed_at", "-session_id"], name="snap_role_completed"),
            # Admin list filtered by workspace.
            models.Index(fields=["workspace", "-completed_at", "-session_id"], name="snap_ws_completed"),
            # One user's completion history, oldest first.
            models.Index(fields=["user", "completed_at"], name="snap_user_completed"),
            # Incremental export: snapshots written since the last watermark.
            models.Index(fields=["ingested_at", "session_id"], name="snap_ingested"),
        ]

    def __str__(self):
        return f"snapshot {self.session_id}"


class AnswerCount(models.Model):
    """How many snapshots gave one categorical answer (step, question, answer)."""

    step = models.CharField(max_length=40)
    question = models.CharField(max_length=60)
    answer = models.CharField(max_length=120)
    count = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class AnswerGroupTotal(AnswerCount):
    class Meta:
        db_table = "onboarding_answer_group_totals"
        constraints = [
            models.UniqueConstraint(fields=["step", "question", "answer"], name="uniq_total_key"),
            models.CheckConstraint(condition=Q(count__gte=0), name="total_count_not_negative"),
        ]

    def __str__(self):
        return f"{self.step}.{self.question}={self.answer}: {self.count}"


class AnswerArmTotal(AnswerCount):
    """The totals split by experiment arm: per flag a session decided, its counted answers under on/off.

    Maintained with the totals, in the same transaction (``aggregation.snapshots.services``); a session that
    decided three flags adds its answers to three arms. Sessions without flags add nothing here.
    """

    class Arm(models.TextChoices):
        ON = "on"
        OFF = "off"

    flag = models.CharField(max_length=100)  # waffle's Flag.name is at most 100 characters
    arm = models.CharField(max_length=3, choices=Arm.choices)

    class Meta:
        db_table = "onboarding_answer_arm_totals"
        constraints = [
            # Its index serves totals?flag=&arm=[&step=[&question=]]: a range of one flag's arm.
            models.UniqueConstraint(fields=["flag", "arm", "step", "question", "answer"], name="uniq_arm_total_key"),
            models.CheckConstraint(condition=Q(count__gte=0), name="arm_total_count_not_negative"),
        ]

    def __str__(self):
        return f"{self.flag}={self.arm} {self.step}.{self.question}={self.answer}: {self.count}"


class ExportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    full = models.BooleanField(default=False)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(help_text="The watermark: snapshots ingested before this were exported.")
    # The watermark is kept per destination and per redaction: an ad-hoc run elsewhere (--output) or
    # with --redact-pii delivers nothing to the scheduled destination, so it must not move its watermark.
    destination = models.CharField(
        max_length=500, default="", help_text="Where the run went: a directory or storage:<alias>."
    )
    redacted = models.BooleanField(default=False)
    location = models.CharField(max_length=500, blank=True, default="")
    rows = models.BigIntegerField(default=0)
    files = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "onboarding_export_runs"
        indexes = [
            # The next incremental run's watermark: the latest successful run to that destination.
            models.Index(fields=["destination", "redacted", "status", "-window_end"], name="export_dest_window"),
        ]

    def __str__(self):
        return f"export {self.pk} {self.status}"


# --- The funnel's rollups (aggregation/funnel/) ------------------------------------------------


class FunnelRollup(models.Model):
    """The funnel's figures of the sessions started in one hour or one day, for one step.

    Counted sessions only (not superseded); friction figures count the sessions that met it (and
    ``*_occurrences`` how often, capped per session); ``flag``/``arm`` "" is every session, a flag's name
    with arm "on" or "off" the sessions whose ``data->'flags'`` says so. ``durations`` is the
    histogram of the timed events' ``duration_ms``: ``{bucket: count}`` (``aggregation.funnel.figures``).
    Step "" counts the sessions themselves: ``reached`` all counted, ``completed`` those that completed.
    """

    class Granularity(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    period_start = models.DateTimeField(help_text="The start of the hour or (UTC) day the sessions started in.")
    step = models.CharField(max_length=40)
    flag = models.CharField(max_length=100, blank=True, default="")
    arm = models.CharField(max_length=3, blank=True, default="")
    reached = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    validation_failures = models.BigIntegerField(default=0)
    conflicts = models.BigIntegerField(default=0)
    retries = models.BigIntegerField(default=0)
    queued_saves = models.BigIntegerField(default=0)
    # How often the counted sessions met each friction on the step, each session at most
    # ``aggregation.funnel.figures.FRICTION_CAP_PER_SESSION`` times per figure.
    validation_failures_occurrences = models.BigIntegerField(default=0)
    conflicts_occurrences = models.BigIntegerField(default=0)
    retries_occurrences = models.BigIntegerField(default=0)
    queued_saves_occurrences = models.BigIntegerField(default=0)
    durations = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "onboarding_funnel_rollups"
        constraints = [
            # The window read: one arm's day rows over a range of days (and hour rows at the edges).
            models.UniqueConstraint(
                fields=["flag", "arm", "granularity", "period_start", "step"], name="uniq_funnel_rollup"
            ),
        ]

    def __str__(self):
        return f"{self.granularity} {self.period_start:%Y-%m-%d %H:%M} {self.step} {self.flag}:{self.arm}"


class FunnelSessionMarks(models.Model):
    """What one counted session's marks added to the rollups: the fold subtracts it when they change.

    The marks are bit sets over the manifest's steps (bit i: ``STEP_KEYS[i]``); a change to the
    manifest's steps needs ``backfill_onboarding_funnel --rebuild`` (it changes what every session reached).
    """

    session_id = models.UUIDField(primary_key=True)
    started_at = models.DateTimeField()
    flags = models.JSONField(default=dict, blank=True)
    reached = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    skipped = models.PositiveSmallIntegerField(default=0)
    finished = models.BooleanField(default=False, help_text="The session had completed onboarding.")
    friction = models.JSONField(
        default=dict, blank=True, help_text="What its friction added: {step: {figure: capped count}}."
    )

    class Meta:
        db_table = "onboarding_funnel_session_marks"

    def __str__(self):
        return f"funnel marks of {self.session_id}"


class FunnelFoldState(models.Model):
    """The fold's watermark (one row): events created and sessions started before it are in the rollups."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    folded_until = models.DateTimeField(null=True, blank=True)
    folded_at = models.DateTimeField(null=True, blank=True, help_text="When a fold last moved the watermark.")

    class Meta:
        db_table = "onboarding_funnel_fold_state"

    def __str__(self):
        return f"funnel folded until {self.folded_until}"


class ErasedSession(models.Model):
    """A session whose onboarding data was erased: what the warehouse must delete too.

    Holds no answers: the session's id, its owner's id and when. The export's next run writes the
    ones erased in its window (``erased.ndjson``); ``aggregation.erasure`` is the only writer.
    """

    session_id = models.UUIDField(primary_key=True)
    user_id = models.BigIntegerField()
    erased_at = models.DateTimeField()
    reason = models.CharField(max_length=20, help_text="request, account_deleted or retention.")

    class Meta:
        db_table = "onboarding_erased_sessions"
        indexes = [
            # The export's window over erasures: erased_at in [start, end).
            models.Index(fields=["erased_at"], name="erased_session_time"),
        ]

    def __str__(self):
        return f"erased {self.session_id}"
