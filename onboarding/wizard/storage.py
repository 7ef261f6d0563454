"""A formtools storage whose state is the user's OnboardingSession, not ``request.session``.

The session row is the one source of truth, so a login on another browser or device resumes
with every earlier answer. The storage is read-only: the wizard view writes through
``onboarding.services`` and formtools' own writes (``set_step_data``, ``reset``) only touch
this request's in-memory view of the session.
"""
from formtools.wizard.storage.base import BaseStorage

from ..manifest import STEP_KEYS
from ..selectors import first_outstanding_step


class OnboardingSessionStorage(BaseStorage):
    """Expose ``request.onboarding_session`` (set by the view's dispatch) as wizard storage."""

    def __init__(self, prefix, request=None, file_storage=None):
        super().__init__(prefix, request, file_storage)
        session = request.onboarding_session
        self.data = {
            self.step_key: first_outstanding_step(session) or STEP_KEYS[-1],
            self.step_data_key: {step: dict(fields) for step, fields in session.answers.items()},
            self.step_files_key: {},
            self.extra_data_key: {},
        }

    def get_step_data(self, step):
        """Return the saved answers of ``step`` as field → value (lists stay lists), or None."""
        return self.data[self.step_data_key].get(step)

    def reset(self):
        """Forget this request's view only; a finished or restarted session is the services' job."""

    def update_response(self, response):
        """Nothing to persist: the services already wrote the session."""
