from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        # Receivers of aggregation's signals (they write delivery rows in the cause's transaction), and
        # the delivery tasks, registered in every process: the web process dispatches them by name.
        from . import (
            receivers,  # noqa: F401
            tasks,  # noqa: F401
        )
