"""Shapes of the API's documents, shared by the views and the OpenAPI schema.

The progress document is built once, by ``selectors.session_progress``; these serializers
render it and describe it. Error bodies are built by ``errors.py``; these describe them.
"""
from rest_framework import serializers

from ..manifest import KINDS

STEP_STATUSES = ("done", "skipped", "pending")
SESSION_STATES = ("in_progress", "completed")


class StepStatusSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    required = serializers.BooleanField()
    skippable = serializers.BooleanField()
    status = serializers.ChoiceField(choices=STEP_STATUSES)


class ProgressSerializer(serializers.Serializer):
    """The progress document of CONTRACT §3 (``drafts``: unvalidated autosaved answers by step)."""

    session_id = serializers.UUIDField()
    revision = serializers.CharField(help_text="Opaque; new on every write. Send it back as `revision` or `If-Match`.")
    version = serializers.IntegerField()
    answer_schema_version = serializers.IntegerField()
    state = serializers.ChoiceField(choices=SESSION_STATES)
    current_step = serializers.CharField(allow_null=True)
    next_step = serializers.CharField(allow_null=True, help_text="The first step neither done nor skipped.")
    completed_steps = serializers.ListField(child=serializers.CharField())
    skipped_steps = serializers.ListField(child=serializers.CharField())
    steps = StepStatusSerializer(many=True)
    answers = serializers.DictField(child=serializers.DictField(), help_text="Validated answers by step, snake_case fields.")
    drafts = serializers.DictField(child=serializers.DictField(), help_text="Unvalidated draft answers by step.")
    checksum = serializers.CharField(help_text="SHA-256 hex digest of the answers as canonical JSON (sorted keys).")
    started_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class FieldDefinitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=sorted(KINDS))
    required = serializers.BooleanField()
    help_text = serializers.CharField(allow_blank=True)
    max_length = serializers.IntegerField(allow_null=True)
    max_items = serializers.IntegerField(allow_null=True)
    choices = ChoiceSerializer(many=True, allow_null=True)
    default = serializers.JSONField(allow_null=True)


class StepDefinitionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    required = serializers.BooleanField()
    skippable = serializers.BooleanField()
    fields = FieldDefinitionSerializer(many=True)


class ManifestSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    answer_schema_version = serializers.IntegerField()
    steps = StepDefinitionSerializer(many=True)


# --- Error bodies (documentation only: errors.py builds them) ------------------------------

class IssueSerializer(serializers.Serializer):
    step = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class ApiErrorSerializer(serializers.Serializer):
    """Every error: ``detail`` for people, ``code`` for programs."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text=(
        "validation_failed, revision_required, parse_error, request_too_large, not_authenticated, "
        "token_not_valid, authentication_failed, permission_denied, csrf_failed, not_found, "
        "method_not_allowed, unsupported_media_type, ..."
    ))


class ApiValidationFailedSerializer(ApiErrorSerializer):
    issues = IssueSerializer(many=True, required=False)
    blocking_step = serializers.CharField(allow_null=True, required=False,
                                          help_text="The step the client should show (on completion).")


class ChangedFieldSerializer(serializers.Serializer):
    step = serializers.CharField()
    field = serializers.CharField()


class ApiConflictSerializer(ApiErrorSerializer):
    """``revision_conflict`` (with ``changed_fields``) or ``already_completed``."""

    current = ProgressSerializer(allow_null=True)
    changed_fields = ChangedFieldSerializer(many=True, required=False)


class ApiThrottledSerializer(ApiErrorSerializer):
    retry_after = serializers.IntegerField(allow_null=True, help_text="Seconds until a write is allowed again.")
