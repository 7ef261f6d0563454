"""The only writers of onboarding state. Views, API views, admin and tasks call these."""

from .access_log import answers_access_record
from .answer_rules import answers_as_saved, step_validate
from .completion import completion_issues, session_complete
from .events import BROWSER_EVENT_NAMES, event_record, event_record_from_browser, event_record_resumed_if_away
from .flag_redecision import UnknownFlag, flag_redecide_in_flight
from .idempotency import KeptAnswer, idempotency_claim, idempotency_keep, idempotency_keys_purge, idempotency_release
from .outbox import (
    COMPLETION_MESSAGE_VERSION,
    INGEST_TASK_NAME,
    completion_message,
    outbox_acknowledge,
    outbox_add_completion,
    outbox_dispatch,
    outbox_redispatch_stale,
)
from .sessions import (
    session_get_or_start,
    session_go_back,
    session_locked,
    session_redecide_flags,
    session_reset_to_baseline,
    session_restart,
    session_save_draft,
    session_save_step,
    session_skip_step,
)
from .write_protocol import changed_fields_since

__all__ = [
    "answers_access_record",
    "BROWSER_EVENT_NAMES",
    "COMPLETION_MESSAGE_VERSION",
    "INGEST_TASK_NAME",
    "UnknownFlag",
    "answers_as_saved",
    "changed_fields_since",
    "completion_issues",
    "completion_message",
    "KeptAnswer",
    "event_record",
    "event_record_from_browser",
    "event_record_resumed_if_away",
    "flag_redecide_in_flight",
    "idempotency_claim",
    "idempotency_keep",
    "idempotency_keys_purge",
    "idempotency_release",
    "outbox_acknowledge",
    "outbox_add_completion",
    "outbox_dispatch",
    "outbox_redispatch_stale",
    "session_complete",
    "session_get_or_start",
    "session_go_back",
    "session_locked",
    "session_redecide_flags",
    "session_reset_to_baseline",
    "session_restart",
    "session_save_draft",
    "session_save_step",
    "session_skip_step",
    "step_validate",
]
