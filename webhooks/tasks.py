"""Celery tasks of the webhooks: a batch of delivery attempts, and beat's sweep of due deliveries."""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .services import deliveries_attempt, deliveries_dispatch_due


@shared_task(
    name="webhooks.deliver",
    autoretry_for=(OperationalError, InterfaceError),  # the database restarting; the HTTP outcome is the service's
    retry_backoff=2,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
    # A worker killed mid-delivery: the message goes back to the queue, and the lapsed lease lets
    # the sweep send it sooner. Either way the delivery is sent again with its webhook-id.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.WEBHOOK_BATCH_SECONDS + settings.WEBHOOK_TIMEOUT_SECONDS + 30,
    soft_time_limit=settings.WEBHOOK_BATCH_SECONDS + settings.WEBHOOK_TIMEOUT_SECONDS + 20,
)
def deliver_webhooks(delivery_ids: list[int]) -> dict:
    """Send a batch of webhook deliveries that are due, recording each attempt."""
    return dict(deliveries_attempt(delivery_ids=delivery_ids))


@shared_task(name="webhooks.dispatch_due", ignore_result=True)
def dispatch_due_webhooks() -> int:
    """Hand the broker every webhook delivery that is due (first sends whose publish failed, retries, lost ones)."""
    return deliveries_dispatch_due()
