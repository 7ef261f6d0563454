"""Endpoints: registration (checked URL and event types), disabling, re-enabling and secret rotation."""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..addresses import UnsafeWebhookURL, destination_resolve
from ..events import EVENT_TYPES
from ..models import WebhookDelivery, WebhookEndpoint
from ..signing import secret_generate

logger = logging.getLogger(__name__)


class InvalidWebhookEndpoint(ValueError):
    """Raised for an endpoint that cannot be registered: a refused URL or an unknown event type."""


def events_check(events: Iterable[str] | None) -> list[str]:
    """Return the event types, in their canonical order (none given: every type); raise for an unknown one."""
    events = list(events or EVENT_TYPES)
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidWebhookEndpoint(
            _("Unknown event type %(types)s; known types: %(known)s.")
            % {"types": ", ".join(unknown), "known": ", ".join(EVENT_TYPES)}
        )
    return [event_type for event_type in EVENT_TYPES if event_type in events]


def url_check(url: str) -> str:
    """Return the URL if webhooks may be sent to it now; raise InvalidWebhookEndpoint otherwise."""
    try:
        destination_resolve(url)
    except UnsafeWebhookURL as exc:
        raise InvalidWebhookEndpoint(str(exc)) from exc
    return url


def endpoint_register(*, url: str, events: Iterable[str] | None = None, description: str = "") -> WebhookEndpoint:
    """Register an endpoint with a new secret; raise InvalidWebhookEndpoint for a refused URL or event type."""
    events = events_check(events)
    url_check(url)
    return WebhookEndpoint.objects.create(url=url, events=events, description=description, secret=secret_generate())


def endpoint_update(*, endpoint: WebhookEndpoint, url: str, events: Iterable[str], description: str) -> None:
    """Change an endpoint's URL, event types or description; raise InvalidWebhookEndpoint as registration does."""
    endpoint.events, endpoint.url, endpoint.description = events_check(events), url_check(url), description
    endpoint.save(update_fields=["url", "events", "description"])


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str = WebhookEndpoint.DisabledReason.STAFF) -> bool:
    """Stop sending to an endpoint; return False if it was disabled already. Its waiting deliveries fail."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason
    )
    if changed:
        logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
        # A delivery a worker is sending right now records its own outcome.
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint.pk, state=WebhookDelivery.State.PENDING, leased_until__isnull=True
        ).update(state=WebhookDelivery.State.FAILED, last_error="the endpoint is disabled")
    endpoint.refresh_from_db()
    return bool(changed)


def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Send to an endpoint again (its failed deliveries stay failed until redelivered)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    endpoint.refresh_from_db()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, overlap: timedelta) -> WebhookEndpoint:
    """Give an endpoint a new secret; the current one keeps signing beside it for ``overlap``."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret_generate()
    endpoint.previous_secret_expires_at = timezone.now() + overlap if overlap > timedelta(0) else None
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def endpoints_receiving(event_type: str) -> list[WebhookEndpoint]:
    """Return the active endpoints subscribed to ``event_type``."""
    return [endpoint for endpoint in WebhookEndpoint.objects.filter(is_active=True) if endpoint.receives(event_type)]
