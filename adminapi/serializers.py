"""Descriptions of the staff API's documents for the OpenAPI schema.

The documents themselves are built by selectors, so these serializers describe, they do not
re-serialize (running 500 rows through field objects would also cost more than the query). The
snapshot document's description is derived from its one definition,
``aggregation.snapshots.documents.SNAPSHOT_DOCUMENT``: a field added there is described here too.
"""

from rest_framework import serializers

from aggregation.funnel import FRICTION_CAP_PER_SESSION
from aggregation.snapshots.documents import FIELD_KINDS, SNAPSHOT_DOCUMENT, DocumentField


class FlattenedAnswerSerializer(serializers.Serializer):
    step = serializers.CharField()
    question = serializers.CharField()
    value = serializers.JSONField(help_text="A scalar: one row per item of a list answer.")


# One schema field per kind of document field (a kind added there without one here fails at import).
_SCHEMA_FIELD_OF_KIND = {
    "uuid": serializers.UUIDField,
    "integer": serializers.IntegerField,
    "string": serializers.CharField,
    "datetime": serializers.DateTimeField,
    "answers": lambda **options: serializers.DictField(child=serializers.DictField(), **options),
    "flattened": lambda **options: FlattenedAnswerSerializer(many=True, **options),
    "flags": lambda **options: serializers.DictField(child=serializers.BooleanField(), **options),
}
assert set(_SCHEMA_FIELD_OF_KIND) == FIELD_KINDS


def _schema_field(field: DocumentField):
    options = {"allow_null": True} if field.nullable else {}
    if field.help_text:
        options["help_text"] = field.help_text
    return _SCHEMA_FIELD_OF_KIND[field.kind](**options)


SnapshotDocumentSerializer = type(
    "SnapshotDocumentSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "An answer snapshot as the staff API and the NDJSON export give it.",
        **{field.name: _schema_field(field) for field in SNAPSHOT_DOCUMENT},
    },
)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    param = serializers.CharField(required=False, help_text="The query parameter at fault, for 400s.")


class TotalSerializer(serializers.Serializer):
    step = serializers.CharField()
    question = serializers.CharField()
    answer = serializers.CharField()
    count = serializers.IntegerField()


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    title = serializers.CharField()
    skippable = serializers.BooleanField()
    reached = serializers.IntegerField(help_text="Sessions that got to this step (done, skipped or sitting on it).")
    completed = serializers.IntegerField(help_text="Sessions that saved the step.")
    skipped = serializers.IntegerField()
    dropped = serializers.IntegerField(help_text="Reached but neither saved nor skipped.")
    drop_off_rate = serializers.FloatField(allow_null=True, help_text="dropped / reached; null when none reached.")
    median_ms = serializers.IntegerField(
        allow_null=True, help_text="Median time spent on the step, in ms (from a histogram: within 4.9 %)."
    )
    p90_ms = serializers.IntegerField(
        allow_null=True, help_text="90th percentile of the time spent, in ms (within 4.9 %)."
    )
    validation_failures = serializers.IntegerField(help_text="Sessions that met a validation_failed on the step.")
    conflicts = serializers.IntegerField(
        help_text="Sessions that met a revision_conflict or conflict_shown on the step."
    )
    retries = serializers.IntegerField(help_text="Sessions whose saves on the step needed retries (save_retried).")
    queued_saves = serializers.IntegerField(
        help_text="Sessions that kept a save of the step on the device (save_queued)."
    )
    validation_failures_occurrences = serializers.IntegerField(
        help_text=f"How often: validation_failed events, at most {FRICTION_CAP_PER_SESSION} per session."
    )
    conflicts_occurrences = serializers.IntegerField(
        help_text=f"How often: conflict events, at most {FRICTION_CAP_PER_SESSION} per session."
    )
    retries_occurrences = serializers.IntegerField(
        help_text=f"How often: save_retried events, at most {FRICTION_CAP_PER_SESSION} per session."
    )
    queued_saves_occurrences = serializers.IntegerField(
        help_text=f"How often: save_queued events, at most {FRICTION_CAP_PER_SESSION} per session."
    )


class FunnelArmSerializer(serializers.Serializer):
    arm = serializers.ChoiceField(choices=["on", "off"])
    sessions = serializers.IntegerField(help_text="Sessions counted in this arm (its sample size).")
    completed = serializers.IntegerField(help_text="Of those, the sessions that completed onboarding.")
    completion_rate = serializers.FloatField(allow_null=True, help_text="completed / sessions; null when none.")
    steps = FunnelStepSerializer(many=True)
