"""Browser telemetry: friction only the browser sees, recorded for the staff funnel.

Fixed event names, a step key and bounded numbers: no free-form payload reaches the database.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from .owner import OwnerHeaderMatches
from .serializers import ApiErrorSerializer, ApiThrottledSerializer, ApiValidationFailedSerializer
from .throttling import BrowserEventThrottle

# The one number each event may carry, by its key.
DETAIL_OF = {"retries": "save_retried", "waited_ms": "save_replayed"}
WAITED_MS_MAX = 30 * 24 * 3600 * 1000  # a month: a device kept offline longer says "a month"


class BrowserEventApi(APIView):
    """Record that a save needed retries (`save_retried`), a conflict was shown (`conflict_shown`), or a save was
    kept on the device (`save_queued`) and sent later (`save_replayed`, with how long it waited).

    Refused, so that nobody's own telemetry inflates the staff funnel: `409 already_completed` once the
    session is completed; `400 validation_failed` with issue `step_not_reached` for a step the session has
    not reached, or `out_of_range` for a `waited_ms` longer than the session has existed."""

    permission_classes = [IsAuthenticated, OwnerHeaderMatches]
    throttle_classes = [BrowserEventThrottle]  # its own budget: telemetry never eats the user's writes

    class BrowserEventInputSerializer(serializers.Serializer):  # a unique name: the schema component
        name = serializers.ChoiceField(choices=[str(name) for name in services.BROWSER_EVENT_NAMES])
        step = serializers.CharField(max_length=80, help_text="The step it happened on, in any case style.")
        retries = serializers.IntegerField(
            min_value=1, max_value=10, required=False, help_text="`save_retried`: how many times the save was retried."
        )
        waited_ms = serializers.IntegerField(
            min_value=0,
            max_value=WAITED_MS_MAX,
            required=False,
            help_text="`save_replayed`: how long the save waited on the device (ms).",
        )

        def validate(self, attrs):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: "Not a field of a browser event." for key in unknown})
            for key, name in DETAIL_OF.items():
                if key in attrs and attrs["name"] != name:
                    raise serializers.ValidationError({key: f"Only {name} has {key}."})
            return attrs

    @extend_schema(
        operation_id="onboarding_browser_event",
        request=BrowserEventInputSerializer,
        responses={
            204: OpenApiResponse(description="Recorded."),
            400: OpenApiResponse(
                ApiValidationFailedSerializer,
                description="Invalid input, a step the session has not reached (`step_not_reached`), or a "
                "`waited_ms` longer than the session has existed (`out_of_range`).",
            ),
            401: ApiErrorSerializer,
            403: ApiErrorSerializer,
            404: OpenApiResponse(ApiErrorSerializer, description="The user has no onboarding session."),
            409: OpenApiResponse(ApiErrorSerializer, description="The session is completed: no more events."),
            429: ApiThrottledSerializer,
        },
    )
    def post(self, request):
        data = self.BrowserEventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        detail = {key: values[key] for key in DETAIL_OF if key in values}
        event = services.event_record_from_browser(
            user=request.user, name=values["name"], step=values["step"], detail=detail
        )
        if event is None:
            raise Http404("No onboarding session.")
        return Response(status=status.HTTP_204_NO_CONTENT)
