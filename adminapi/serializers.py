"""Descriptions of the staff API's documents for the OpenAPI schema.

The documents themselves are built by selectors — ``aggregation.selectors.snapshot_document`` is the
one definition of an answers result — so these serializers describe, they do not re-serialize
(running 500 rows through field objects would also cost more than the query). A test keeps the
fields here and the keys of ``snapshot_document`` equal.
"""
from rest_framework import serializers


class FlattenedAnswerSerializer(serializers.Serializer):
    step = serializers.CharField()
    question = serializers.CharField()
    value = serializers.JSONField(help_text="A scalar: one row per item of a list answer.")


class SnapshotDocumentSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    user_id = serializers.IntegerField()
    workspace_id = serializers.IntegerField(allow_null=True)
    role = serializers.CharField()
    answer_schema_version = serializers.IntegerField()
    completed_at = serializers.DateTimeField()
    answers = serializers.DictField(child=serializers.DictField(), help_text="Answers by step key, then field.")
    flattened = FlattenedAnswerSerializer(many=True)


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
    median_ms = serializers.IntegerField(allow_null=True, help_text="Median time spent on the step, in ms.")
