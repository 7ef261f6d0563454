"""The onboarding guard: signed-in users finish onboarding before they use the rest of the site."""
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from .manifest import STEP_KEYS
from .selectors import session_live_for_user, step_is_reachable
from .wizard.views import wizard_resume_step

WIZARD_PREFIX = "/o/"


class OnboardingGuardMiddleware:
    """Redirect unfinished users to their first outstanding step and finished ones off the wizard.

    One query per guarded request: the user's live session.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        static = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else "/static/"
        self.exempt_prefixes = (*settings.ONBOARDING_GUARD_EXEMPT_PREFIXES, static)

    def __call__(self, request):
        path = request.path_info
        if path.startswith(self.exempt_prefixes) or not request.user.is_authenticated:
            return self.get_response(request)
        return self.guard(request, path) or self.get_response(request)

    def guard(self, request, path):
        """Return the redirect this request needs, or None to let it through."""
        session = session_live_for_user(request.user)
        completed = session is not None and session.is_completed
        if path.startswith(WIZARD_PREFIX):
            if completed:
                return redirect("onboarding:dashboard")
            step = path[len(WIZARD_PREFIX):].strip("/")
            if session is not None and step in STEP_KEYS and not step_is_reachable(session, step):
                return redirect(_step_url(session))
            return None
        if completed:
            return None
        return redirect(_step_url(session) if session is not None else reverse("onboarding:start"))


def _step_url(session) -> str:
    return reverse("onboarding:step", kwargs={"step": wizard_resume_step(session)})
