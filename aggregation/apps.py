from django.apps import AppConfig


class AggregationConfig(AppConfig):
    name = "aggregation"
    verbose_name = "Onboarding analytics"

    def ready(self):
        # Register the tasks in every process, not only in workers (autodiscovery runs
        # there): the web process's outbox sends it by name, and in eager mode (no REDIS_URL) it
        # must find the task to run it in-process.
        from . import tasks  # noqa: F401
