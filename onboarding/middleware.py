"""The onboarding guard: signed-in users finish onboarding before they use the rest of the site."""

from django.conf import settings
from django.shortcuts import redirect

from .flow import onboarding_url, step_is_reachable
from .manifest import STEP_KEYS
from .selectors import session_live_for_user

WIZARD_PREFIX = "/o/"


class OnboardingGuardMiddleware:
    """Redirect unfinished users to their first outstanding step and finished ones off the wizard.

    One query per guarded request: the user's live session. Paths in
    ONBOARDING_GUARD_EXEMPT_PREFIXES (and static files) are never guarded.
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
            step = path[len(WIZARD_PREFIX) :].strip("/")
            if completed or (session is not None and step in STEP_KEYS and not step_is_reachable(session, step)):
                return redirect(onboarding_url(session))
            return None
        return None if completed else redirect(onboarding_url(session))
