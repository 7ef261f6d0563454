"""Give a webhook endpoint a new secret; the old one keeps signing beside it for an overlap."""

import json
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_rotate_secret


class Command(BaseCommand):
    help = (
        "Rotate a webhook endpoint's secret. During the overlap every delivery carries two signatures "
        "(old and new secret); the last line printed is JSON with the new secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("endpoint_id", type=int)
        parser.add_argument(
            "--overlap-hours",
            type=float,
            default=None,
            help="how long the old secret keeps signing (default WEBHOOK_SECRET_OVERLAP_HOURS; 0: stop at once)",
        )

    def handle(self, *args, endpoint_id, overlap_hours, **options):
        hours = settings.WEBHOOK_SECRET_OVERLAP_HOURS if overlap_hours is None else overlap_hours
        if hours < 0:
            raise CommandError("--overlap-hours cannot be negative.")
        try:
            endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        except WebhookEndpoint.DoesNotExist as exc:
            raise CommandError(f"No webhook endpoint with id {endpoint_id}.") from exc
        endpoint = endpoint_rotate_secret(endpoint=endpoint, overlap=timedelta(hours=hours))
        expires = endpoint.previous_secret_expires_at
        self.stderr.write(
            f"New secret for endpoint {endpoint.pk}; the old one signs too until {expires.isoformat()}."
            if expires
            else f"New secret for endpoint {endpoint.pk}; the old one no longer signs."
        )
        self.stdout.write(
            json.dumps(
                {
                    "id": endpoint.pk,
                    "url": endpoint.url,
                    "events": endpoint.events,
                    "secret": endpoint.secret,
                    "previous_secret_expires_at": expires.isoformat() if expires else None,
                }
            )
        )
