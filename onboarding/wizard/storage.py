"""A formtools storage whose state is the user's OnboardingSession, not ``request.session``.

The session row is the one source of truth, so a login on another browser or device resumes
with every earlier answer. The storage is read-only: the wizard view writes through
``onboarding.services``, and formtools' own writes (``set_step_data``, ``reset``) only touch
this request's in-memory view of the session.
"""

from formtools.wizard.storage.base import BaseStorage

from ..flow import resume_step


class OnboardingSessionStorage(BaseStorage):
    """Expose ``request.onboarding_session`` (set by the view's dispatch) as wizard storage."""

    def __init__(self, prefix, request=None, file_storage=None):
        super().__init__(prefix, request, file_storage)
        self.init_data()
        self.load(request.onboarding_session)
        self.current_step = resume_step(request.onboarding_session)

    def load(self, session) -> None:
        """Take each step's data from ``session``: saved answers overlaid with any autosaved draft."""
        answers, drafts = session.answers, session.data.get("drafts", {})
        self.data[self.step_data_key] = {
            step: {**answers.get(step, {}), **drafts.get(step, {})} for step in {*answers, *drafts}
        }

    def get_step_data(self, step):
        """Return the step's field → value (lists stay lists), or None when nothing is stored."""
        return self.data[self.step_data_key].get(step)

    def reset(self):
        """Keep everything: finishing or restarting a session is the services' job."""

    def update_response(self, response):
        """Nothing to persist: the services already wrote the session."""
