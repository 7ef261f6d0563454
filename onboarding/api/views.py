"""The progress and completion API: thin views over the onboarding services.

Every write goes through a service with ``source="api"``; the services own validation, key
normalisation, revision checks, conflict diffing and telemetry. Domain errors propagate to
``exception_handler.api_exception_handler``, which renders the API's error bodies.
"""

from django.conf import settings
from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from .. import services
from ..manifest import ANSWER_SCHEMA_VERSION, step_definition
from ..selectors import manifest_of
from .authentication import JoinsTokenUser
from .digests import json_digest
from .idempotency import IDEMPOTENCY_KEY, idempotent
from .owner import OwnerHeaderMatches
from .progress import ProgressSerializer, progress_document
from .serializers import (
    ApiConflictSerializer,
    ApiErrorSerializer,
    ApiThrottledSerializer,
    ApiValidationFailedSerializer,
    ManifestSerializer,
)
from .throttling import TokenRequestThrottle

SOURCE = "api"

IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    description='The revision, quoted (`"<revision>"`); used when the body carries no `revision`.',
)
ETAG = OpenApiParameter(
    "ETag",
    location=OpenApiParameter.HEADER,
    response=[200, 409],
    description='The session\'s revision, quoted: `"<revision>"`.',
)
UNAUTHENTICATED = OpenApiResponse(
    ApiErrorSerializer, description="No, bad or expired credentials (`not_authenticated`, `token_not_valid`, ...)."
)
FORBIDDEN = OpenApiResponse(
    ApiErrorSerializer, description="Session authentication without a valid CSRF token (`csrf_failed`)."
)
TOO_LARGE = OpenApiResponse(
    ApiErrorSerializer, description="The body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE (`request_too_large`)."
)
UNSUPPORTED = OpenApiResponse(
    ApiErrorSerializer, description="The body is not `application/json` (`unsupported_media_type`)."
)
THROTTLED = OpenApiResponse(
    ApiThrottledSerializer, description="Too many writes (`throttled`); retry after `retry_after` seconds."
)
KEY_REUSED = OpenApiResponse(
    ApiErrorSerializer,
    description=("`idempotency_key_reused`: this Idempotency-Key came with a different request; nothing was written."),
)
CONFLICT = OpenApiResponse(
    ApiConflictSerializer,
    description=(
        "`revision_conflict`: the session changed since `revision`; nothing was written. `current` is the progress now, "
        "`changed_fields` the fields changed since that revision that this request would set to another value "
        "(compared normalised: empty values alike, text trimmed, lists in any order). "
        "`already_completed`: the session is completed and can no longer change."
    ),
)


def write_responses(validation_failed: str) -> dict:
    """The answers of a write to the session (progress update, completion): one list, one wording."""
    return {
        200: ProgressSerializer,
        400: OpenApiResponse(ApiValidationFailedSerializer, description=validation_failed),
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        409: CONFLICT,
        413: TOO_LARGE,
        415: UNSUPPORTED,
        422: KEY_REUSED,
        429: THROTTLED,
    }


def revision_from(request, body_revision: str | None) -> str | None:
    """Return the revision from the body, else from ``If-Match`` (quotes and ``W/`` removed)."""
    if body_revision:
        return body_revision
    header = request.headers.get("If-Match", "").strip()
    if header.startswith("W/"):
        header = header[2:]
    header = header.strip('"')
    return None if header in ("", "*") else header


def progress_response(session) -> Response:
    progress = progress_document(session)
    return Response(progress, headers={"ETag": f'"{progress["revision"]}"'})


class OnboardingProgressApi(JoinsTokenUser, APIView):
    """The signed-in user's own onboarding progress: read it, or save/skip/back/draft a step."""

    permission_classes = [IsAuthenticated, OwnerHeaderMatches]

    class InputSerializer(serializers.Serializer):
        revision = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="The revision last seen (or send `If-Match`)."
        )
        step = serializers.CharField(
            max_length=80, help_text="Step key in any case style: `work-profile`, `workProfile`, `work_profile`."
        )
        action = serializers.ChoiceField(
            choices=["save", "skip", "back", "draft"],
            default="save",
            help_text=(
                "`save`: validate and mark done; `skip`: skippable steps only; `back`: un-mark the step before `step` "
                "and make it current; `draft`: store partial answers without validation."
            ),
        )
        answers = serializers.DictField(required=False, help_text="Field: value, field names in any case style.")

        def validate(self, attrs):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:  # a misspelt "answer" or "revison" must not be silently dropped
                raise serializers.ValidationError({key: _("Not a field of a progress update.") for key in unknown})
            return attrs

    @extend_schema(
        operation_id="onboarding_progress_retrieve",
        parameters=[ETAG],
        responses={200: ProgressSerializer, 401: UNAUTHENTICATED},
    )
    def get(self, request):
        return progress_response(services.session_get_or_start(user=request.user, source=SOURCE))

    @extend_schema(
        operation_id="onboarding_progress_update",
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
        request=InputSerializer,
        responses=write_responses("`validation_failed` (with `issues`), `revision_required` or `parse_error`."),
    )
    @idempotent
    def patch(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # The services find and lock the user's live session themselves: no read first.
        write = {
            "user": request.user,
            "step": values["step"],
            "source": SOURCE,
            "revision": revision_from(request, values.get("revision")),
        }
        action = values["action"]
        if action == "save":
            session = services.session_save_step(**write, answers=values.get("answers", {}))
        elif action == "draft":
            session = services.session_save_draft(**write, answers=values.get("answers", {}))
        elif action == "skip":
            session = services.session_skip_step(**write)
        else:
            session = services.session_go_back(**write)
        return progress_response(session)


class OnboardingCompleteApi(JoinsTokenUser, APIView):
    """Complete the signed-in user's onboarding once; a repeat returns the same completed progress."""

    permission_classes = [IsAuthenticated, OwnerHeaderMatches]

    class InputSerializer(serializers.Serializer):
        revision = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="The revision last seen (or send `If-Match`)."
        )

    @extend_schema(
        operation_id="onboarding_complete",
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG],
        request=InputSerializer,
        responses=write_responses(
            "`validation_failed` with `blocking_step` and `issues`, `revision_required` or `parse_error`."
        ),
    )
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_complete(
            user=request.user,
            revision=revision_from(request, data.validated_data.get("revision")),
            source=SOURCE,
        )
        return progress_response(session)


IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    description="The manifest's `ETag` a client cached: `304 Not Modified` while it still describes the session.",
)
MANIFEST_ETAG = OpenApiParameter(
    "ETag",
    location=OpenApiParameter.HEADER,
    response=[200, 304],
    description="A digest of the manifest document: it changes when the session's steps, fields or flags do.",
)


class OnboardingManifestApi(APIView):
    """The steps and field definitions of the signed-in user's session (starts one if none), with its flags."""

    @extend_schema(
        operation_id="onboarding_manifest",
        parameters=[IF_NONE_MATCH, MANIFEST_ETAG],
        responses={
            200: ManifestSerializer,
            304: OpenApiResponse(description="The cached manifest is current."),
            401: UNAUTHENTICATED,
        },
    )
    def get(self, request):
        manifest = manifest_of(services.session_get_or_start(user=request.user, source=SOURCE))
        document = {
            "version": settings.ONBOARDING_VERSION,
            "answer_schema_version": ANSWER_SCHEMA_VERSION,
            "flags": manifest.flags,
            "steps": [step_definition(step) for step in manifest.steps],
        }
        etag = f'"{json_digest(document)}"'
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}  # per user: revalidate with If-None-Match
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=304, headers=headers)
        return Response(document, headers=headers)


_TOKEN_ERRORS = {
    400: ApiValidationFailedSerializer,
    401: ApiErrorSerializer,
    413: ApiErrorSerializer,
    429: ApiThrottledSerializer,
}


@extend_schema(responses={200: jwt_views.TokenObtainPairView.serializer_class, **_TOKEN_ERRORS})
class TokenObtainApi(jwt_views.TokenObtainPairView):
    """Exchange username and password for an access token (short-lived) and a refresh token."""

    throttle_classes = [TokenRequestThrottle]


@extend_schema(responses={200: jwt_views.TokenRefreshView.serializer_class, **_TOKEN_ERRORS})
class TokenRefreshApi(jwt_views.TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token (the one sent is used up)."""

    throttle_classes = [TokenRequestThrottle]


@extend_schema(responses={204: None, **_TOKEN_ERRORS})
class LogoutApi(jwt_views.TokenBlacklistView):
    """Log out a bearer-token client: its refresh token is blacklisted and can no longer be used.

    An access token already issued keeps working until it expires (API_ACCESS_TOKEN_LIFETIME_SECONDS):
    the client should drop it. A password change or deactivation cuts off both at once.
    """

    throttle_classes = [TokenRequestThrottle]

    def post(self, request, *args, **kwargs):
        super().post(request, *args, **kwargs)  # validates and blacklists, or raises (401 token_not_valid)
        return Response(status=204)
