"""Events and their deliveries: written in the cause's transaction, sent by the worker after commit.

The shape is the onboarding outbox's: ``event_record`` writes the event and one delivery row per
endpoint in the caller's transaction and queues their dispatch with ``transaction.on_commit``; the
dispatch hands delivery ids to the broker by task name; a worker sends each (``delivery_attempt``)
and records the attempt; beat's sweep (``deliveries_dispatch_due``) sends whatever is due and was
not handed over (a failed publish, a retry whose time has come, a worker killed mid-delivery).

A worker holds a delivery by a lease (``leased_until``) while it sends, not by a row lock, so no
transaction stays open across the HTTP request; a killed worker's lease lapses and the sweep sends
the delivery again, with the same webhook-id.
"""

import json
import logging
import random
import time
from collections import Counter
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..addresses import UnsafeWebhookURL, destination_resolve
from ..events import WEBHOOK_TEST, event_body, sample_completed_data
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..sending import Answer, post
from ..signing import signed_headers, signing_secrets
from .endpoints import InvalidWebhookEndpoint, endpoint_disable, endpoints_receiving

logger = logging.getLogger(__name__)

# The worker registers a task under this name (webhooks.tasks); the dispatch never imports it.
DELIVER_TASK_NAME = "webhooks.deliver"
DELIVERED, RETRYING, GAVE_UP, GONE, ENDPOINT_DISABLED, NOT_DUE = (
    "delivered",
    "retrying",
    "gave_up",
    "gone",
    "endpoint_disabled",
    "not_due",
)
LEASE_MARGIN = timedelta(seconds=5)  # beyond the HTTP time limit: time to record the attempt
SWEEP_LIMIT = 1000
DISPATCH_BATCH = 50  # deliveries per task message
State = WebhookDelivery.State


@transaction.atomic
def event_record(
    *, event_type: str, data: dict, user_id: int | None = None, endpoints: list[WebhookEndpoint] | None = None
) -> WebhookEvent | None:
    """Write an event and a delivery per receiving endpoint in the caller's transaction; send them after commit.

    ``endpoints`` defaults to the active endpoints subscribed to ``event_type``; with none, nothing is written.
    """
    endpoints = endpoints_receiving(event_type) if endpoints is None else endpoints
    if not endpoints:
        return None
    now = timezone.now()
    event = WebhookEvent.objects.create(
        type=event_type, payload=event_body(event_type=event_type, data=data, at=now), user_id=user_id, created_at=now
    )
    deliveries = WebhookDelivery.objects.bulk_create([_delivery(event, endpoint, now) for endpoint in endpoints])
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: deliveries_dispatch(delivery_ids=ids))
    return event


def _delivery(event: WebhookEvent, endpoint: WebhookEndpoint, now) -> WebhookDelivery:
    return WebhookDelivery(
        event=event, endpoint=endpoint, created_at=now, next_attempt_at=now, retry_until=now + retry_window()
    )


def retry_window() -> timedelta:
    return timedelta(hours=settings.WEBHOOK_RETRY_FOR_HOURS)


def deliveries_dispatch(*, delivery_ids: list[int]) -> int:
    """Hand deliveries to the broker; a failure leaves them to the sweep. Return how many were handed over.

    One task message carries up to DISPATCH_BATCH deliveries (the sweep's backlog after an outage
    goes out in few messages). It runs after the cause's commit, inside the user's request: every
    broker operation is bounded by ONBOARDING_OUTBOX_PUBLISH_TIMEOUT, and after the first failure
    the rest wait for the sweep.
    """
    if not delivery_ids:
        return 0
    WebhookDelivery.objects.filter(pk__in=delivery_ids, state=State.PENDING).update(dispatched_at=timezone.now())
    timeout = settings.ONBOARDING_OUTBOX_PUBLISH_TIMEOUT
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry_on_timeout": False}
    sent = 0
    try:
        with current_app.connection_for_write(transport_options=options) as broker:
            for start in range(0, len(delivery_ids), DISPATCH_BATCH):
                batch = delivery_ids[start : start + DISPATCH_BATCH]
                current_app.signature(DELIVER_TASK_NAME, kwargs={"delivery_ids": batch}).apply_async(
                    retry=False, connection=broker
                )
                sent += len(batch)
    except Exception as exc:  # the broker is down or hung: the sweep sends the rest
        logger.warning("webhook dispatch failed after %s of %s deliveries: %s", sent, len(delivery_ids), exc)
        WebhookDelivery.objects.filter(pk__in=delivery_ids[sent:], state=State.PENDING).update(dispatched_at=None)
    return sent


def deliveries_attempt(*, delivery_ids: list[int]) -> Counter:
    """Attempt a task's deliveries and whatever else is due, one after another; return how many had each outcome.

    The given deliveries that are due are claimed in one statement and, if any was, other due ones
    up to DISPATCH_BATCH in all in a second (``_deliveries_claim``): under load one task drains what the tasks queued behind it carry (they
    then find theirs sent: ``not_due``), so the worker's cost per task is shared by many deliveries;
    an idle system still sends each event as soon as its own task runs. After WEBHOOK_BATCH_SECONDS
    the rest are released and go back to the broker, so one slow receiver cannot hold a batch for long.
    """
    started, outcomes = time.monotonic(), Counter()
    claimed = _deliveries_claim(delivery_ids, up_to=max(DISPATCH_BATCH, len(delivery_ids)))
    outcomes[NOT_DUE] += len(set(delivery_ids) - {delivery.pk for delivery in claimed})
    for n, delivery in enumerate(claimed):
        if n and time.monotonic() - started > settings.WEBHOOK_BATCH_SECONDS:  # the first always goes
            rest = [later.pk for later in claimed[n:]]
            WebhookDelivery.objects.filter(pk__in=rest).update(leased_until=None, attempts=F("attempts") - 1)
            deliveries_dispatch(delivery_ids=rest)
            break
        outcomes[_attempt(delivery)] += 1
    return +outcomes


def deliveries_dispatch_due(*, limit: int = SWEEP_LIMIT) -> int:
    """Hand over the pending deliveries that are due and not with a worker (run by beat); return how many."""
    now = timezone.now()
    redispatch_before = now - timedelta(seconds=settings.WEBHOOK_REDISPATCH_AFTER)
    due = (
        WebhookDelivery.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=redispatch_before))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .order_by("next_attempt_at")
    )
    return deliveries_dispatch(delivery_ids=list(due.values_list("pk", flat=True)[:limit]))


def delivery_attempt(*, delivery_id: int) -> str:
    """Send one due delivery, record the attempt and what follows from it; return the outcome.

    Outcomes: ``delivered`` (2xx), ``retrying``, ``gave_up`` (its retry window is over), ``gone`` (410:
    the endpoint is disabled), ``endpoint_disabled``, ``not_due`` (delivered, not due yet, or held by another worker).
    """
    claimed = _deliveries_claim([delivery_id])
    return _attempt(claimed[0]) if claimed else NOT_DUE


def _attempt(delivery: WebhookDelivery) -> str:
    if not delivery.endpoint.is_active:
        _delivery_close(delivery, state=State.FAILED, last_error="the endpoint is disabled")
        return ENDPOINT_DISABLED
    started_at = timezone.now()
    answer = _send(delivery, at=started_at)
    if answer.status is not None and 200 <= answer.status < 300:
        return _delivered_record(delivery, started_at=started_at, answer=answer)
    return _failure_record(delivery, started_at=started_at, answer=answer)


# Joined into the worker's own single-statement writes (the lease, a delivered attempt): their
# implicit transaction then commits without waiting for the disk (synchronous_commit off, for that
# transaction only). Events and deliveries themselves are written with the usual durability; a
# database crash may forget the last fraction of a second of these records, and what it forgets is
# sent again with the same webhook-id: at least once, never lost. The fsync it saves was most of a
# delivery's cost.
_ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true))"


def _deliveries_claim(delivery_ids: list[int], *, up_to: int = 0) -> list[WebhookDelivery]:
    """Take the lease of the due ones of ``delivery_ids``, then of other due ones up to ``up_to`` in all.

    Return the given ones first, in their order (the others are delivered already, not due, or held by
    another worker), then the others by due time. Few round trips for a whole batch: the worker's time
    per delivery was mostly database round trips and commits. Two workers claiming one delivery: the
    second re-checks the lease after the first commits, and gets nothing; the other due ones are taken
    with SKIP LOCKED, so two workers filling their batches never wait for each other nor share a
    delivery. A task whose own deliveries were all taken already (by an earlier task's batch) claims
    no others: under load such tasks are most of the queue, and stay one primary-key lookup each.
    Only deliveries to active endpoints that are not failing join a batch this way: a failing
    receiver's retries keep their own backoff and cannot slow the live path. A batch's lease covers
    its whole time budget (one delivery alone: its own send).
    """
    now = timezone.now()
    extra = max(up_to - len(delivery_ids), 0)
    # The given ones go first: one alone is sent at once; the others wait for the batch's time budget.
    budget = settings.WEBHOOK_BATCH_SECONDS if len(delivery_ids) > 1 else 0
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + budget) + LEASE_MARGIN
    later_lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + settings.WEBHOOK_BATCH_SECONDS)
    later_lease += LEASE_MARGIN
    if connection.vendor != "postgresql":  # SQLite's RETURNING cannot name the joined tables
        return _deliveries_claim_portable(delivery_ids, extra=extra, now=now, leases=(lease, later_lease))
    deliveries, endpoints = (connection.ops.quote_name(m._meta.db_table) for m in (WebhookDelivery, WebhookEndpoint))
    found = _claim_rows("d.id = ANY(%s)", [list(delivery_ids)], lease=lease, now=now)
    if extra and (found or not delivery_ids):
        others = (
            f"d.id IN (SELECT o.id FROM {deliveries} AS o JOIN {endpoints} AS op ON op.id = o.endpoint_id"
            " WHERE o.state = %s AND o.next_attempt_at <= %s AND (o.leased_until IS NULL OR o.leased_until < %s)"
            " AND op.is_active AND op.failing_since IS NULL AND NOT o.id = ANY(%s)"
            " ORDER BY o.next_attempt_at, o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED)"
        )
        params = [State.PENDING, now, now, list(delivery_ids), extra]
        found.update(_claim_rows(others, params, lease=later_lease, now=now, shared=found))
    return _claimed_in_order(found, delivery_ids)


def _claim_rows(where: str, params: list, *, lease, now, shared: dict | None = None) -> dict[int, WebhookDelivery]:
    """Lease the due deliveries ``where`` selects and read what sending them needs, in one statement."""
    deliveries, events, endpoints = (
        connection.ops.quote_name(model._meta.db_table) for model in (WebhookDelivery, WebhookEvent, WebhookEndpoint)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {deliveries} AS d SET leased_until = %s, attempts = d.attempts + 1"
            f" FROM {events} AS e, {endpoints} AS p, {_ASYNC_COMMIT} AS async_commit"
            f" WHERE {where} AND d.state = %s AND d.next_attempt_at <= %s"
            " AND (d.leased_until IS NULL OR d.leased_until < %s) AND e.id = d.event_id AND p.id = d.endpoint_id"
            " RETURNING d.id, d.attempts, d.retry_until, e.id, e.type, e.payload,"
            " p.id, p.url, p.secret, p.previous_secret, p.previous_secret_expires_at, p.is_active, p.failing_since",
            [lease, *params, State.PENDING, now, now],
        )
        rows = cursor.fetchall()
    # One instance per endpoint: what one attempt learns, the next knows.
    endpoints_by_id = {delivery.endpoint_id: delivery.endpoint for delivery in (shared or {}).values()}
    found = {}
    for delivery_id, attempts, retry_until, event_id, event_type, payload, endpoint_id, *endpoint_columns in rows:
        if endpoint_id not in endpoints_by_id:
            endpoints_by_id[endpoint_id] = WebhookEndpoint(
                id=endpoint_id, **dict(zip(_ENDPOINT_COLUMNS, endpoint_columns, strict=True))
            )
        event = WebhookEvent(
            id=event_id, type=event_type, payload=json.loads(payload) if isinstance(payload, str) else payload
        )
        found[delivery_id] = WebhookDelivery(
            id=delivery_id,
            event=event,
            endpoint=endpoints_by_id[endpoint_id],
            attempts=attempts,
            retry_until=retry_until,
        )
    return found


def _deliveries_claim_portable(delivery_ids: list[int], *, extra: int, now, leases) -> list[WebhookDelivery]:
    due = WebhookDelivery.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
    due = due.filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
    given = list(due.filter(pk__in=delivery_ids).values_list("pk", flat=True))
    others = due.filter(endpoint__is_active=True, endpoint__failing_since__isnull=True).exclude(pk__in=delivery_ids)
    fill = extra and (given or not delivery_ids)
    others = list(others.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:extra]) if fill else []
    for claimed, lease in ((given, leases[0]), (others, leases[1])):
        WebhookDelivery.objects.filter(pk__in=claimed).update(leased_until=lease, attempts=F("attempts") + 1)
    ids = given + others
    found, shared = WebhookDelivery.objects.select_related("event", "endpoint").in_bulk(ids), {}
    for delivery in found.values():
        delivery.endpoint = shared.setdefault(delivery.endpoint_id, delivery.endpoint)
    return _claimed_in_order(found, delivery_ids)


def _claimed_in_order(found: dict, delivery_ids: list[int]) -> list[WebhookDelivery]:
    given = [found.pop(pk) for pk in dict.fromkeys(delivery_ids) if pk in found]
    return given + [found[pk] for pk in sorted(found)]  # the others: ids follow due times closely enough


_ENDPOINT_COLUMNS = ("url", "secret", "previous_secret", "previous_secret_expires_at", "is_active", "failing_since")


def _send(delivery: WebhookDelivery, *, at) -> Answer:
    endpoint, event = delivery.endpoint, delivery.event
    try:
        destination = destination_resolve(endpoint.url)
    except UnsafeWebhookURL as exc:  # checked again at each delivery: DNS may have changed since registration
        return Answer(None, "", str(exc)[:500], 0)
    body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signed_headers(
        secrets_in_use=signing_secrets(endpoint, now=at), webhook_id=event.webhook_id, at=at, body=body
    )
    return post(destination=destination, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)


def _delivered_record(delivery: WebhookDelivery, *, started_at, answer: Answer) -> str:
    """Record a delivered attempt: the attempt row and the delivery's new state (one statement on PostgreSQL)."""
    if connection.vendor == "postgresql":
        _delivered_write_at_once(delivery, started_at=started_at, answer=answer)
    else:  # no INSERT inside WITH elsewhere
        with transaction.atomic():
            _attempt_add(delivery, started_at=started_at, answer=answer)
            fields = {"last_attempt_at": started_at, "last_status": answer.status, "last_error": ""}
            _delivery_close(delivery, state=State.DELIVERED, delivered_at=timezone.now(), **fields)
    if delivery.endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint.pk).update(failing_since=None)
        delivery.endpoint.failing_since = None
    return DELIVERED


def _delivered_write_at_once(delivery: WebhookDelivery, *, started_at, answer: Answer) -> None:
    attempts, deliveries = (connection.ops.quote_name(m._meta.db_table) for m in (WebhookAttempt, WebhookDelivery))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH attempt AS (INSERT INTO {attempts}"
            " (delivery_id, started_at, duration_ms, status_code, response_excerpt, error) VALUES (%s, %s, %s, %s, %s, ''))"
            f" UPDATE {deliveries} SET state = %s, leased_until = NULL, delivered_at = %s, last_attempt_at = %s,"
            f" last_status = %s, last_error = '' FROM {_ASYNC_COMMIT} AS async_commit WHERE id = %s",
            [delivery.pk, started_at, answer.duration_ms, answer.status, answer.excerpt]
            + [State.DELIVERED, timezone.now(), started_at, answer.status, delivery.pk],
        )


@transaction.atomic
def _failure_record(delivery: WebhookDelivery, *, started_at, answer: Answer) -> str:
    _attempt_add(delivery, started_at=started_at, answer=answer)
    now, endpoint = timezone.now(), delivery.endpoint
    fields = {"last_attempt_at": started_at, "last_status": answer.status, "last_error": answer.error}
    if answer.status == 410:
        _delivery_close(delivery, state=State.FAILED, **fields)
        endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE)
        return GONE
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    endpoint.failing_since = endpoint.failing_since or now  # the batch's next success must clear it
    failing_too_long = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, failing_since__lte=now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    ).exists()
    if now >= delivery.retry_until or failing_too_long:
        _delivery_close(delivery, state=State.FAILED, **fields)
        if failing_too_long:
            endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.FAILING)
        return GAVE_UP
    next_attempt_at = now + retry_delay(attempts=delivery.attempts)
    _delivery_close(delivery, state=State.PENDING, next_attempt_at=next_attempt_at, dispatched_at=None, **fields)
    return RETRYING


def _attempt_add(delivery: WebhookDelivery, *, started_at, answer: Answer) -> None:
    WebhookAttempt.objects.create(
        delivery=delivery,
        started_at=started_at,
        duration_ms=answer.duration_ms,
        status_code=answer.status,
        response_excerpt=answer.excerpt,
        error=answer.error,
    )


def retry_delay(*, attempts: int) -> timedelta:
    """Return the wait after the ``attempts``-th failed attempt: doubling from the base up to the cap, ±20 % jitter."""
    base, cap = settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS
    delay = min(base * 2 ** min(attempts - 1, 32), cap)
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def _delivery_close(delivery: WebhookDelivery, *, state: str, **fields) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=state, leased_until=None, **fields)


@transaction.atomic
def deliveries_redeliver(*, deliveries: QuerySet) -> int:
    """Send deliveries again from now with a new retry window (same event, same webhook-id); return how many.

    Deliveries to disabled endpoints are left as they are: enable the endpoint first.
    """
    now = timezone.now()
    ids = list(deliveries.filter(endpoint__is_active=True).values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=State.PENDING,
        next_attempt_at=now,
        retry_until=now + retry_window(),
        dispatched_at=None,
        delivered_at=None,
    )
    transaction.on_commit(lambda: deliveries_dispatch(delivery_ids=ids))
    return len(ids)


def deliveries_redeliver_failed(*, endpoint: WebhookEndpoint) -> int:
    """Send every failed delivery of an endpoint again; return how many."""
    return deliveries_redeliver(deliveries=WebhookDelivery.objects.filter(endpoint=endpoint, state=State.FAILED))


@transaction.atomic
def events_redeliver_since(*, endpoint: WebhookEndpoint, since) -> int:
    """Send an endpoint every event of its types created since ``since`` (again, with their webhook-ids)."""
    events = WebhookEvent.objects.filter(created_at__gte=since, type__in=endpoint.events).exclude(type=WEBHOOK_TEST)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [_delivery(event, endpoint, now) for event in events.only("pk")], ignore_conflicts=True
    )
    return deliveries_redeliver(deliveries=WebhookDelivery.objects.filter(endpoint=endpoint, event__in=events))


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookEvent:
    """Send a webhook.test event to an endpoint: a sample onboarding.completed document as its data."""
    if not endpoint.is_active:
        raise InvalidWebhookEndpoint(_("The endpoint is disabled: enable it before sending a test event."))
    return event_record(event_type=WEBHOOK_TEST, data=sample_completed_data(at=timezone.now()), endpoints=[endpoint])
