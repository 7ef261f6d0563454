from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_delete


class AggregationConfig(AppConfig):
    name = "aggregation"
    verbose_name = "Onboarding analytics"

    def ready(self):
        # Register the tasks in every process, not only in workers (autodiscovery runs
        # there): the web process's outbox sends it by name, and in eager mode (no REDIS_URL) it
        # must find the task to run it in-process.
        from . import tasks  # noqa: F401

        # Deleting a user (admin, shell, a cascade) erases their onboarding data through the one path.
        from .erasure import erase_on_user_delete

        pre_delete.connect(erase_on_user_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="aggregation.erasure")
