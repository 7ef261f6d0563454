"""Reads of the webhooks app that more than one edge needs."""

from .models import WebhookEndpoint


def endpoints_disabled_automatically():
    """Return the endpoints the delivery disabled (410 Gone, or failing too long), newest first."""
    reasons = (WebhookEndpoint.DisabledReason.GONE, WebhookEndpoint.DisabledReason.FAILING)
    return WebhookEndpoint.objects.filter(is_active=False, disabled_reason__in=reasons).order_by("-disabled_at")
