"""Receivers of aggregation's signals: they write webhook events inside the cause's own transaction."""

from datetime import timedelta

from django.conf import settings
from django.dispatch import receiver

from aggregation.signals import onboarding_erased, retention_due, snapshot_stored

from .events import ONBOARDING_COMPLETED, completed_data
from .services import erasure_record, event_record
from .services.retention import attempts_purge


@receiver(snapshot_stored, dispatch_uid="webhooks.snapshot_stored")
def snapshot_stored_record_event(sender, *, snapshot, **kwargs):
    event_record(event_type=ONBOARDING_COMPLETED, data=completed_data(snapshot), user_id=snapshot.user_id)


@receiver(onboarding_erased, dispatch_uid="webhooks.onboarding_erased")
def onboarding_erased_record_event(sender, *, user_id, session_ids, **kwargs):
    erasure_record(user_id=user_id, session_ids=list(session_ids))


@receiver(retention_due, dispatch_uid="webhooks.retention_due")
def retention_due_purge_attempts(sender, *, now, batch, **kwargs):
    days = settings.ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS
    attempts_purge(older_than=now - timedelta(days=days), batch=batch)
