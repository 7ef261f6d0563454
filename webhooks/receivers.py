"""Receivers of aggregation's signals: they write webhook events inside the cause's own transaction."""

from django.dispatch import receiver

from aggregation.signals import onboarding_erased, snapshot_stored

from .events import ONBOARDING_COMPLETED, completed_data
from .services import erasure_record, event_record


@receiver(snapshot_stored, dispatch_uid="webhooks.snapshot_stored")
def snapshot_stored_record_event(sender, *, snapshot, **kwargs):
    event_record(event_type=ONBOARDING_COMPLETED, data=completed_data(snapshot), user_id=snapshot.user_id)


@receiver(onboarding_erased, dispatch_uid="webhooks.onboarding_erased")
def onboarding_erased_record_event(sender, *, user_id, session_ids, **kwargs):
    erasure_record(user_id=user_id, session_ids=list(session_ids))
