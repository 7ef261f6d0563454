"""Webhook endpoints, the events sent to them, one delivery per (event, endpoint), and every attempt."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .events import EVENT_TYPE_CHOICES


class WebhookEndpoint(models.Model):
    class DisabledReason(models.TextChoices):
        STAFF = "staff", _("Disabled by staff")
        GONE = "gone", _("The receiver answered 410 Gone")
        FAILING = "failing", _("Every delivery failed for too long")

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    events = models.JSONField(default=list, help_text=_("Event types sent to this endpoint."))
    # Secrets sign deliveries; after a rotation the previous one signs too until previous_secret_expires_at.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=20, choices=DisabledReason.choices, blank=True, default="")
    # The first failed attempt since the last delivered one: the endpoint is disabled when it gets too old.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["pk"]
        indexes = [
            # The receivers' lookup of active endpoints for a new event; the admin index notice (disabled ones).
            models.Index(fields=["is_active", "disabled_reason"], name="webhook_endpoint_active"),
        ]

    def __str__(self):
        return self.url

    def receives(self, event_type: str) -> bool:
        return event_type in self.events


class WebhookEvent(models.Model):
    """One thing that happened, sent with the same webhook-id to every endpoint, on every attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=EVENT_TYPE_CHOICES)
    # The body's {"type", "timestamp", "data"}, as it is sent.
    payload = models.JSONField()
    # Whose event it is (None for test events): the erasure scrubs that user's completion payloads.
    user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "webhook_events"
        indexes = [
            # "Every event since a date" (admin) and the newest-first lists.
            models.Index(fields=["created_at"], name="webhook_event_created"),
            # The erasure's scrub of one user's completion payloads.
            models.Index(fields=["user_id", "type"], name="webhook_event_user"),
        ]

    def __str__(self):
        return f"{self.type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    # A pending delivery is due at next_attempt_at; failed attempts push it back until retry_until has passed.
    next_attempt_at = models.DateTimeField()
    retry_until = models.DateTimeField()
    # When it was last handed to the broker (None: not since it became due); the sweep re-sends lost ones.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery while it sends it; a worker killed mid-delivery lets it lapse.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="uniq_webhook_delivery")]
        indexes = [
            # The sweep: pending deliveries that are due, oldest first.
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_delivery_due"),
            # Deliveries per endpoint in the admin, newest first, and "every failed one" of an endpoint.
            models.Index(fields=["endpoint", "state", "-created_at"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="", help_text=_("The first 1 KB of the answer."))
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "webhook_attempts"
        ordering = ["-started_at"]
        indexes = [
            # A delivery's attempts, newest first (admin inline); retention deletes by started_at.
            models.Index(fields=["delivery", "-started_at"], name="webhook_attempt_delivery"),
            models.Index(fields=["started_at"], name="webhook_attempt_started"),
        ]

    def __str__(self):
        return f"attempt {self.pk} ({self.status_code or self.error})"
