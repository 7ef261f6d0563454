"""Register a webhook endpoint; the last line printed is its JSON (id, url, events, secret)."""

import json

from django.core.management.base import BaseCommand, CommandError

from webhooks.events import EVENT_TYPES
from webhooks.services import InvalidWebhookEndpoint, endpoint_register


class Command(BaseCommand):
    help = "Register a webhook endpoint (default: every event type) and print it as JSON, secret included."

    def add_arguments(self, parser):
        parser.add_argument("url", help="http:// or https:// URL that receives the POSTs")
        parser.add_argument(
            "--event",
            action="append",
            dest="events",
            metavar="TYPE",
            help=f"an event type to send (repeat for several; default every one): {', '.join(EVENT_TYPES)}",
        )
        parser.add_argument("--description", default="", help="a note for staff (who owns the receiver)")

    def handle(self, *args, url, events, description, **options):
        try:
            endpoint = endpoint_register(url=url, events=events, description=description)
        except InvalidWebhookEndpoint as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Registered webhook endpoint {endpoint.pk}; keep the secret: it signs every delivery.")
        document = {"id": endpoint.pk, "url": endpoint.url, "events": endpoint.events, "secret": endpoint.secret}
        self.stdout.write(json.dumps(document))
