"""Webhook services: endpoints, events and their deliveries, and what an erasure changes."""

from .deliveries import (
    DELIVER_TASK_NAME,
    deliveries_attempt,
    deliveries_dispatch,
    deliveries_dispatch_due,
    deliveries_redeliver,
    deliveries_redeliver_failed,
    delivery_attempt,
    endpoint_send_test,
    event_record,
    events_redeliver_since,
    retry_delay,
)
from .endpoints import (
    InvalidWebhookEndpoint,
    endpoint_disable,
    endpoint_enable,
    endpoint_register,
    endpoint_rotate_secret,
    endpoint_update,
    endpoints_receiving,
    events_check,
    url_check,
)
from .erasure import completed_payloads_scrub, erasure_record

__all__ = [
    "DELIVER_TASK_NAME",
    "InvalidWebhookEndpoint",
    "completed_payloads_scrub",
    "deliveries_attempt",
    "deliveries_dispatch",
    "deliveries_dispatch_due",
    "deliveries_redeliver",
    "deliveries_redeliver_failed",
    "delivery_attempt",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_register",
    "endpoint_rotate_secret",
    "endpoint_send_test",
    "endpoint_update",
    "endpoints_receiving",
    "erasure_record",
    "event_record",
    "events_check",
    "events_redeliver_since",
    "retry_delay",
    "url_check",
]
