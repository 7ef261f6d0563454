"""What an erasure changes in webhooks: completion payloads lose their answers, and receivers are told."""

from django.db import transaction
from django.db.models import Q

from ..events import ONBOARDING_COMPLETED, ONBOARDING_ERASED, erased_data, scrubbed_completed_data
from ..models import WebhookEvent
from .deliveries import event_record


@transaction.atomic
def completed_payloads_scrub(*, user_id: int, session_ids: list[str]) -> int:
    """Remove the answers from a person's onboarding.completed events (sent or waiting); return how many."""
    events = WebhookEvent.objects.select_for_update().filter(
        Q(user_id=user_id) | Q(payload__data__session_id__in=[str(pk) for pk in session_ids]),
        type=ONBOARDING_COMPLETED,
    )
    scrubbed = 0
    for event in events.order_by("pk"):
        event.payload = {**event.payload, "data": scrubbed_completed_data(event.payload["data"])}
        event.save(update_fields=["payload"])
        scrubbed += 1
    return scrubbed


@transaction.atomic
def erasure_record(*, user_id: int, session_ids: list[str]) -> WebhookEvent | None:
    """Scrub a person's completion payloads and record the onboarding.erased event, in the erasure's transaction."""
    completed_payloads_scrub(user_id=user_id, session_ids=session_ids)
    return event_record(
        event_type=ONBOARDING_ERASED, data=erased_data(user_id=user_id, session_ids=session_ids), user_id=user_id
    )
