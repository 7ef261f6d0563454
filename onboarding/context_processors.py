"""What every page's template needs from the request: the theme to apply."""


def preferences(request):
    """Give templates ``theme`` (system, light or dark; set by OnboardingPreferencesMiddleware)."""
    return {"theme": getattr(request, "onboarding_theme", "system")}
