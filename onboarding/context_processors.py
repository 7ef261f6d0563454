"""What every page's template needs: the theme to apply and the languages the switcher offers."""

from django.conf import settings


def preferences(request):
    """Give templates ``theme`` (system, light or dark; set by OnboardingPreferencesMiddleware) and
    ``site_languages``: each language named in itself, untranslated (Django's get_available_languages
    would translate "English" into the page's language)."""
    return {"theme": getattr(request, "onboarding_theme", "system"), "site_languages": settings.LANGUAGES}
