"""The onboarding guard (signed-in users finish onboarding before they use the rest of the site),
and the saved preferences (language, theme) applied to every page."""

from django.conf import settings
from django.shortcuts import redirect
from django.utils import translation

from .flow import onboarding_url, step_is_reachable
from .manifest import STEP_KEYS
from .selectors import saved_preferences, session_live_for_user

WIZARD_PREFIX = "/o/"
# What the language switcher records in the login session: the language picked, and the saved answer
# it was picked over (see OnboardingPreferencesMiddleware).
LANGUAGE_SWITCH_KEY = "onboarding_language_switch"
THEMES = ("system", "light", "dark")


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


class OnboardingPreferencesMiddleware:
    """Apply a signed-in user's saved ``preferences`` answers: the language and the theme.

    The language is the saved answer once there is one; before that LocaleMiddleware's choice (the
    switcher's cookie, else Accept-Language) stands. The switcher still works for a user with a saved
    answer: it records the language picked over that answer for the rest of the login, until the
    answer itself changes (a newer choice). One small query per request of a signed-in user.
    Sets ``request.onboarding_theme`` (system, light or dark) for the templates.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        static = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else "/static/"
        # Staff surfaces keep Django's own choice (Accept-Language) and no query: a staff member's
        # onboarding answers are not the admin's settings.
        self.skipped_prefixes = (static, "/favicon.ico", "/admin/", "/api/admin/")

    def __call__(self, request):
        request.onboarding_theme = "system"
        if self.reads_preferences(request):
            saved = saved_preferences(request.user)
            if saved["theme"] in THEMES:
                request.onboarding_theme = saved["theme"]
            language = self.language_for(request, saved["language"])
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)

    def reads_preferences(self, request) -> bool:
        """Tell whether this request is a signed-in user's who has preferences to apply.

        A request with an Authorization header (an API client's bearer token) is not a browser
        session: its session cookie, if any, is never read here (DRF authenticates it).
        """
        if request.path_info.startswith(self.skipped_prefixes) or "HTTP_AUTHORIZATION" in request.META:
            return False
        return request.user.is_authenticated

    @staticmethod
    def language_for(request, saved: str | None) -> str | None:
        """Return the language to use instead of LocaleMiddleware's, or None to keep its choice."""
        if not saved or not translation.check_for_language(saved):
            return None
        switch = request.session.get(LANGUAGE_SWITCH_KEY) or {}
        if switch.get("over") == saved and translation.check_for_language(switch.get("language") or ""):
            return switch["language"]
        return saved


SIGNED_IN_COOKIE = "onboarding_user"


class SignedInUserCookieMiddleware:
    """Tell the browser client who is signed in: a readable cookie holding the user's id (none when signed out).

    The client sends what its device outbox kept for a user only while this names that user, so a
    write kept for one person is never even sent under another's login (nor after a logout in
    another tab). A hint for the client, not a credential: the API refuses a write whose
    ``X-Onboarding-User`` is not the signed-in user whatever this cookie says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = str(user.pk) if user is not None and user.is_authenticated else None
        if signed_in is not None and request.COOKIES.get(SIGNED_IN_COOKIE) != signed_in:
            response.set_cookie(  # as long-lived as the session it names (a browser restart keeps both)
                SIGNED_IN_COOKIE,
                signed_in,
                max_age=None if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE else settings.SESSION_COOKIE_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        elif signed_in is None and SIGNED_IN_COOKIE in request.COOKIES:
            response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
        return response
