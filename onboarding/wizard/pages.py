"""The pages around the wizard: the site root, the dashboard completed users land on, the language switcher."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from ..middleware import LANGUAGE_SWITCH_KEY
from ..selectors import completion_summary, saved_preferences


def home(request):
    """Send a signed-in user to the dashboard (the guard forwards unfinished ones) and others to log in."""
    return redirect("onboarding:dashboard" if request.user.is_authenticated else "login")


@login_required
def dashboard(request):
    """Confirm what onboarding set up: the workspace, the invitations sent, the code to share, what's next."""
    return render(request, "onboarding/dashboard.html", completion_summary(request.user))


@require_POST
def language_switch(request):
    """Django's set_language (the cookie), and for a signed-in user the answer it was picked over.

    The saved ``preferences.language`` answer decides the language of a signed-in user; a pick made
    here overrides it for the rest of this login, until the answer itself changes.
    """
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and translation.check_for_language(language):
        request.session[LANGUAGE_SWITCH_KEY] = {
            "language": language,
            "over": saved_preferences(request.user)["language"],
        }
    return response
