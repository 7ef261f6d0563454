from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self):
        from . import signals  # noqa: F401  (login → "resumed" telemetry)
        from .admin import admin_site_calendar_safe

        admin_site_calendar_safe()  # the admin's ready() ran first (it is listed first): all is registered
