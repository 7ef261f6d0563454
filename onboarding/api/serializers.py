"""Shapes of the API's documents for the OpenAPI schema: the manifest and the error bodies.

The progress document and its serializer are defined together in ``progress.py``. Error bodies
are built by ``errors.py``; the serializers below describe them.
"""

from rest_framework import serializers

from ..manifest import KINDS
from .progress import ProgressSerializer


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
    flag = serializers.CharField(
        allow_null=True, help_text="The feature flag that puts this field in the session, if any."
    )
    widget = serializers.ChoiceField(
        choices=["text", "textarea", "select", "radio", "checkboxes", "checkbox"],
        help_text=("The control the wizard shows (an offline client renders the same)."),
    )


class StepDefinitionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    required = serializers.BooleanField()
    skippable = serializers.BooleanField()
    flag = serializers.CharField(
        allow_null=True, help_text="The feature flag that puts this step in the session, if any."
    )
    fields = FieldDefinitionSerializer(many=True)


class ManifestSerializer(serializers.Serializer):
    """The caller's session manifest: the steps and fields its flags (decided when it started) turn on."""

    version = serializers.IntegerField()
    answer_schema_version = serializers.IntegerField(help_text="The answers' shape; a flag never changes it.")
    flags = serializers.DictField(
        child=serializers.BooleanField(),
        help_text=("Every flag the manifest references, as decided for this session when it started: name → on."),
    )
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
    code = serializers.CharField(
        help_text=(
            "validation_failed, revision_required, parse_error, request_too_large, not_authenticated, "
            "token_not_valid, authentication_failed, permission_denied, csrf_failed, not_found, "
            "method_not_allowed, unsupported_media_type, ..."
        )
    )


class ApiValidationFailedSerializer(ApiErrorSerializer):
    issues = IssueSerializer(many=True, required=False)
    blocking_step = serializers.CharField(
        allow_null=True, required=False, help_text="The step the client should show (on completion)."
    )


class ChangedFieldSerializer(serializers.Serializer):
    step = serializers.CharField()
    field = serializers.CharField()


class ApiConflictSerializer(ApiErrorSerializer):
    """``revision_conflict`` (with ``changed_fields``) or ``already_completed``."""

    current = ProgressSerializer(allow_null=True)
    changed_fields = ChangedFieldSerializer(many=True, required=False)


class ApiThrottledSerializer(ApiErrorSerializer):
    retry_after = serializers.IntegerField(allow_null=True, help_text="Seconds until a write is allowed again.")
