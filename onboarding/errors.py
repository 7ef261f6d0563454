"""Domain errors raised by the services; the API and the wizard map them to responses."""

from django.utils.translation import gettext_lazy as _


class OnboardingError(Exception):
    code = "onboarding_error"
    message = _("The onboarding request could not be processed.")

    def __init__(self, message: str | None = None):
        # In the request's language, as plain text (it is stored, e.g. with an Idempotency-Key's answer).
        super().__init__(str(message or self.message))
        self.message = str(message or self.message)


class RevisionRequired(OnboardingError):
    code = "revision_required"
    message = _("Send the revision you last saw (in the body or an If-Match header).")


class RevisionConflict(OnboardingError):
    """The session changed since the caller's revision; nothing was written."""

    code = "revision_conflict"
    message = _("Your onboarding was changed elsewhere. Review the current answers and submit again.")

    def __init__(self, *, session, changed_fields: list[dict]):
        super().__init__()
        self.session = session
        self.changed_fields = changed_fields


class StepValidationError(OnboardingError):
    """Answers broke a rule; ``issues`` are ``{step, field, code, message}`` dicts."""

    code = "validation_failed"
    message = _("Some answers need attention.")

    def __init__(self, issues: list[dict], *, blocking_step: str | None = None):
        super().__init__(issues[0]["message"] if issues else None)
        self.issues = issues
        self.blocking_step = blocking_step or (issues[0]["step"] if issues else None)


class SessionAlreadyCompleted(OnboardingError):
    code = "already_completed"
    message = _("Onboarding is already complete; answers can no longer be changed.")


class IdempotencyKeyReused(OnboardingError):
    """An Idempotency-Key this user already sent, now with a different request; nothing was written."""

    code = "idempotency_key_reused"
    message = _("This Idempotency-Key was already used for a different request. Send a new key for a new request.")


def issue(step: str | None, field: str | None, code: str, message: str) -> dict:
    """Build one validation issue in the API's shape."""
    return {"step": step, "field": field, "code": code, "message": str(message)}
