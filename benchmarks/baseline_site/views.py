"""The benchmark's baseline: one primary-key read and one UPDATE of an onboarding session, as JSON.

Plain Django (no DRF, no auth): what benchmarks/api_progress.py compares PATCH progress against.
"""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from onboarding.models import OnboardingSession, new_revision


@csrf_exempt
def baseline_session_touch(request, session_id):
    session = OnboardingSession.objects.only("id", "revision").get(pk=session_id)
    revision = new_revision()
    OnboardingSession.objects.filter(pk=session.pk).update(revision=revision, updated_at=timezone.now())
    return JsonResponse({"session_id": str(session.pk), "revision": revision})
