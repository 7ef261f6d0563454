"""Staff-only answers API: one view per endpoint, reads through adminapi.selectors.

Each view parses its query string with a nested input serializer, calls a selector and returns the
selector's documents. A bad query parameter is a 400 ``{"detail", "code", "param"}`` naming it.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from aggregation.snapshots.documents import SNAPSHOT_DOCUMENT_FIELDS
from onboarding.brute_force import client_address
from onboarding.manifest import MANIFEST_FLAGS, STEPS, UnknownStep, canonical_step_key, get_step, snake_key
from onboarding.models import AnswersAccess
from onboarding.selectors import ARMS, workspace_id_for
from onboarding.services import answers_access_record

from . import selectors
from .pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, InvalidCursor, keyset_page
from .permissions import IsStaff
from .serializers import (
    ErrorSerializer,
    FunnelArmSerializer,
    FunnelStepSerializer,
    SnapshotDocumentSerializer,
    TotalSerializer,
)

ROLE_VALUES = tuple(value for value, _ in get_step("profile").form_class.base_fields["role"].choices)
TAG = ["staff"]


def bad_parameter(param: str, message: str, code: str = "invalid_filter") -> Response:
    return Response({"detail": f"{param}: {message}", "code": code, "param": param}, status=status.HTTP_400_BAD_REQUEST)


def first_error(serializer, codes: dict[str, str]) -> Response:
    """Turn the first invalid field of an input serializer into the 400 body."""
    param, messages = next(iter(serializer.errors.items()))
    message = messages[0] if isinstance(messages, list) else messages
    return bad_parameter(param, str(message), codes.get(param, "invalid_filter"))


FLAG_PARAMETER = OpenApiParameter(
    "flag",
    str,
    enum=MANIFEST_FLAGS,
    description=("A feature flag the manifest references: split by the sessions that decided it on and off."),
)


def flag_field():
    """A query parameter naming a flag the manifest references (the flags sessions decide)."""
    return serializers.ChoiceField(
        required=False,
        choices=MANIFEST_FLAGS,
        error_messages={"invalid_choice": "“{input}” is not a flag the onboarding manifest uses."},
    )


def window_validated(attrs: dict, *, after: str, before: str) -> dict:
    """Return ``attrs``, or refuse a time window whose ``before`` bound is not later than its ``after``."""
    if attrs.get(after) and attrs.get(before) and attrs[before] <= attrs[after]:
        raise serializers.ValidationError({before: f"must be later than {after}."})
    return attrs


class StaffAPIView(APIView):
    permission_classes = [IsAuthenticated, IsStaff]


ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


class AnswersListView(StaffAPIView):
    """Snapshots, newest first, keyset-paginated."""

    class FilterSerializer(serializers.Serializer):
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
        )
        role = serializers.ChoiceField(required=False, choices=ROLE_VALUES)
        workspace = serializers.RegexField(r"^(\d+|[-a-zA-Z0-9_]+)$", required=False, max_length=60)
        completed_after = serializers.DateTimeField(required=False)
        completed_before = serializers.DateTimeField(required=False)

        def validate(self, attrs):
            return window_validated(attrs, after="completed_after", before="completed_before")

    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = SnapshotDocumentSerializer(many=True)

        class Meta:
            ref_name = "AdminAnswersPage"

    PARAM_CODES = {"cursor": "invalid_cursor", "page_size": "invalid_page_size"}

    @extend_schema(
        tags=TAG,
        operation_id="admin_onboarding_answers_list",
        summary="List answer snapshots, newest first (cursor pagination)",
        parameters=[
            OpenApiParameter("cursor", str, description="Opaque cursor from `next` or `previous`."),
            OpenApiParameter("page_size", int, description=f"1–{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}."),
            OpenApiParameter("role", str, enum=ROLE_VALUES, description="The profile role answered."),
            OpenApiParameter("workspace", str, description="A workspace id or slug; an unknown one matches nothing."),
            OpenApiParameter(
                "completed_after",
                OpenApiTypes.DATETIME,
                description="ISO 8601, inclusive (`completed_at >= value`); naive means UTC.",
            ),
            OpenApiParameter(
                "completed_before",
                OpenApiTypes.DATETIME,
                description="ISO 8601, exclusive (`completed_at < value`); naive means UTC.",
            ),
        ],
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        if not params.is_valid():
            return first_error(params, self.PARAM_CODES)
        data = params.validated_data
        try:
            cursor = Cursor.decode(data["cursor"]) if "cursor" in data else None
        except InvalidCursor:
            return bad_parameter("cursor", "is not a cursor this API issued.", "invalid_cursor")
        filters = self._filters(data)
        page = keyset_page(
            selectors.snapshots_filtered(filters),
            cursor=cursor,
            page_size=data["page_size"],
            fields=SNAPSHOT_DOCUMENT_FIELDS,
        )
        return Response(
            {
                "next": self._link(request, page.next),
                "previous": self._link(request, page.previous),
                "results": selectors.snapshot_documents(page.rows),
            }
        )

    @staticmethod
    def _filters(data) -> selectors.AnswerFilters:
        workspace_id = None
        if "workspace" in data:
            workspace_id = workspace_id_for(data["workspace"])
        return selectors.AnswerFilters(
            role=data.get("role"),
            workspace_id=workspace_id,
            completed_after=data.get("completed_after"),
            completed_before=data.get("completed_before"),
            matches_nothing="workspace" in data and workspace_id is None,
        )

    @staticmethod
    def _link(request, cursor) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(request.build_absolute_uri(), "cursor", cursor.encode())


class UserAnswersView(StaffAPIView):
    """One user's completion history, oldest first. Each answered request is recorded in the access log."""

    class OutputSerializer(serializers.Serializer):
        user_id = serializers.IntegerField()
        sessions = SnapshotDocumentSerializer(many=True)

        class Meta:
            ref_name = "AdminUserAnswers"

    @extend_schema(
        tags=TAG,
        operation_id="admin_onboarding_answers_for_user",
        summary="One user's completed onboarding sessions, oldest first",
        responses={200: OutputSerializer, 404: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request, user_id: int):
        if not get_user_model().objects.filter(pk=user_id).exists():
            return Response(
                {"detail": f"No user with id {user_id}.", "code": "not_found"}, status=status.HTTP_404_NOT_FOUND
            )
        sessions = selectors.user_completion_history(user_id)
        answers_access_record(
            viewer=request.user,
            subject_user_id=user_id,
            surface=AnswersAccess.Surface.STAFF_API,
            client_address=client_address(request),
        )
        return Response({"user_id": user_id, "sessions": sessions})


class TotalsView(StaffAPIView):
    """Counts per (step, question, answer) of the categorical answers."""

    class FilterSerializer(serializers.Serializer):
        step = serializers.CharField(required=False)
        question = serializers.CharField(required=False)
        flag = flag_field()
        arm = serializers.ChoiceField(required=False, choices=ARMS)

        def validate_step(self, value):
            try:
                return canonical_step_key(value)
            except UnknownStep:
                raise serializers.ValidationError(f"“{value}” is not an onboarding step.") from None

        def validate(self, attrs):
            if "question" in attrs:
                question = snake_key(attrs["question"])
                steps = [get_step(attrs["step"])] if "step" in attrs else STEPS
                if not any(question in step.field_names for step in steps):
                    where = f"step “{attrs['step']}”" if "step" in attrs else "any step"
                    raise serializers.ValidationError(
                        {"question": f"“{attrs['question']}” is not a question of {where}."}
                    )
                attrs["question"] = question
            if ("flag" in attrs) != ("arm" in attrs):
                missing = "arm" if "flag" in attrs else "flag"
                raise serializers.ValidationError({missing: "flag and arm go together (flag=<name>&arm=on|off)."})
            return attrs

    class OutputSerializer(serializers.Serializer):
        results = TotalSerializer(many=True)

        class Meta:
            ref_name = "AdminAnswerTotals"

    @extend_schema(
        tags=TAG,
        operation_id="admin_onboarding_totals",
        summary="Answer counts per step, question and answer",
        parameters=[
            OpenApiParameter("step", str, description="A step key in any case style (`workProfile`, `work-profile`)."),
            OpenApiParameter("question", str, description="A field name in any case style (`teamSize`)."),
            FLAG_PARAMETER,
            OpenApiParameter(
                "arm", str, enum=ARMS, description="With `flag`: the sessions that decided it `on` or `off`."
            ),
        ],
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        if not params.is_valid():
            return first_error(params, {})
        return Response({"results": selectors.totals_list(**params.validated_data)})


class FunnelView(StaffAPIView):
    """Per step: reached, completed, skipped, drop-off rate, time spent and friction; or, with ``flag``, per arm."""

    class FilterSerializer(serializers.Serializer):
        started_after = serializers.DateTimeField(required=False)
        started_before = serializers.DateTimeField(required=False)
        flag = flag_field()

        def validate(self, attrs):
            return window_validated(attrs, after="started_after", before="started_before")

    class OutputSerializer(serializers.Serializer):
        started_after = serializers.DateTimeField(allow_null=True)
        started_before = serializers.DateTimeField(allow_null=True)
        sessions = serializers.IntegerField(help_text="Sessions counted (not superseded, started in the window).")
        steps = FunnelStepSerializer(many=True)

        class Meta:
            ref_name = "AdminOnboardingFunnel"

    class ArmsOutputSerializer(serializers.Serializer):
        started_after = serializers.DateTimeField(allow_null=True)
        started_before = serializers.DateTimeField(allow_null=True)
        flag = serializers.CharField()
        arms = FunnelArmSerializer(many=True, help_text="`on`, then `off`.")
        completion_rate_difference = serializers.FloatField(
            allow_null=True, help_text="The on arm's completion rate minus the off arm's; null when an arm is empty."
        )
        p_value = serializers.FloatField(
            allow_null=True,
            help_text=(
                "Two-sided p-value of a two-proportion z-test of the completion rates; below 0.05 is significant at 5%."
            ),
        )

        class Meta:
            ref_name = "AdminOnboardingFunnelByArm"

    @extend_schema(
        tags=TAG,
        operation_id="admin_onboarding_funnel",
        summary="Onboarding funnel: drop-off, time spent and friction per step, or an experiment's arms side by side",
        parameters=[
            OpenApiParameter(
                "started_after", OpenApiTypes.DATETIME, description="Sessions started at or after (ISO 8601)."
            ),
            OpenApiParameter(
                "started_before", OpenApiTypes.DATETIME, description="Sessions started before (ISO 8601)."
            ),
            FLAG_PARAMETER,
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="AdminOnboardingFunnelResponse",
                serializers=[OutputSerializer, ArmsOutputSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
        },
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        if not params.is_valid():
            return first_error(params, {})
        window = dict(params.validated_data)
        flag = window.pop("flag", None)
        bounds = {
            "started_after": _iso(window.get("started_after")),
            "started_before": _iso(window.get("started_before")),
        }
        if flag is not None:
            return Response(
                {**bounds, **selectors.funnel_arms_document(selectors.onboarding_funnel_by_arm(flag=flag, **window))}
            )
        steps = selectors.onboarding_funnel(**window)
        return Response(
            {
                **bounds,
                "sessions": steps[0].reached if steps else 0,
                "steps": selectors.funnel_document(steps),
            }
        )


def _iso(value):
    return value.isoformat() if value else None
