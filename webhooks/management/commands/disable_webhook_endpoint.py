"""Stop (or, with --enable, resume) sending to a webhook endpoint."""

from django.core.management.base import BaseCommand, CommandError

from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_disable, endpoint_enable


class Command(BaseCommand):
    help = "Disable a webhook endpoint by id (its waiting deliveries fail); --enable turns it back on."

    def add_arguments(self, parser):
        parser.add_argument("endpoint_id", type=int)
        parser.add_argument("--enable", action="store_true", help="send to it again instead")

    def handle(self, *args, endpoint_id, enable, **options):
        try:
            endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        except WebhookEndpoint.DoesNotExist as exc:
            raise CommandError(f"No webhook endpoint with id {endpoint_id}.") from exc
        if enable:
            endpoint_enable(endpoint=endpoint)
            self.stdout.write(f"Webhook endpoint {endpoint.pk} enabled: {endpoint.url}")
        elif endpoint_disable(endpoint=endpoint):
            self.stdout.write(f"Webhook endpoint {endpoint.pk} disabled: {endpoint.url}")
        else:
            self.stdout.write(f"Webhook endpoint {endpoint.pk} was disabled already.")
