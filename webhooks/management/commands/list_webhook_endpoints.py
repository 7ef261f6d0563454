"""List the webhook endpoints and how their deliveries stand (secrets are never printed)."""

import json

from django.core.management.base import BaseCommand
from django.db.models import Count, Q

from webhooks.models import WebhookDelivery, WebhookEndpoint


class Command(BaseCommand):
    help = "List webhook endpoints: id, state, URL, event types and deliveries pending/failed (no secrets)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="one JSON object per line instead of a table"
        )

    def handle(self, *args, as_json: bool = False, **options):
        endpoints = WebhookEndpoint.objects.annotate(
            pending=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING)),
            failed=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.FAILED)),
        ).order_by("pk")
        for endpoint in endpoints:
            state = "active" if endpoint.is_active else f"disabled ({endpoint.disabled_reason})"
            if as_json:
                self.stdout.write(_dumps(endpoint, state))
            else:
                self.stdout.write(
                    f"{endpoint.pk:>5}  {state:<20} {endpoint.url}  events={','.join(endpoint.events)}  "
                    f"pending={endpoint.pending} failed={endpoint.failed}"
                )


def _dumps(endpoint, state) -> str:
    return json.dumps(
        {
            "id": endpoint.pk,
            "url": endpoint.url,
            "events": endpoint.events,
            "state": state,
            "pending": endpoint.pending,
            "failed": endpoint.failed,
        }
    )
