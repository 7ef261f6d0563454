from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self):
        from . import signals  # (login → "resumed" telemetry; the manifest's flags after migrate)

        post_migrate.connect(signals.create_manifest_flags, sender=self)
