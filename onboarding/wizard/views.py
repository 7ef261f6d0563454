"""The onboarding wizard: one formtools step per manifest step, every submit through the services.

formtools provides the step plumbing (named URLs, form prefixes, the management form, the
progress helper); the storage is the user's OnboardingSession and ``post()`` hands each submit
to ``onboarding.services`` at once, so the services, not formtools' revalidation, decide.
"""

import logging
from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import NamedUrlWizardView

from .. import services
from ..errors import RevisionConflict, RevisionRequired, SessionAlreadyCompleted, StepValidationError
from ..flow import onboarding_url, resume_step, step_is_reachable
from ..manifest import STEP_KEYS, STEPS
from ..selectors import manifest_of, session_live_for_user
from .offline import client_context
from .pending import pending_keep, pending_take, step_owner_id, step_owner_token
from .presentation import (
    changed_fields_display,
    form_add_issues,
    form_data_for,
    form_for_display,
    progress_steps,
    step_initial,
    typed_answers,
)

logger = logging.getLogger(__name__)

SOURCE = "wizard"
# Issues found by Finish that belong to an earlier step: shown once, inline, on that step.
PENDING_ISSUES_KEY = "onboarding_wizard_issues"
# The conflict page's choice per field: which fields it asked about, and "mine" or "theirs" for each.
CONFLICT_FIELD = "conflict_field"
CHOICE_PREFIX = "resolve-"


class OnboardingWizardView(LoginRequiredMixin, NamedUrlWizardView):
    storage_name = "onboarding.wizard.storage.OnboardingSessionStorage"
    # Every step formtools may meet, for its checks when the URLconf builds the view. A request's
    # steps and forms are the user's session manifest's (``get_form_list``).
    form_list = [(step.key, step.form_class) for step in STEPS]
    template_name = "onboarding/wizard_step.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.method == "POST":
                self._keep_signed_out_submit(kwargs.get("step"))
            return self.handle_no_permission()
        pending = pending_take(request) if request.method == "GET" else None
        session = services.session_get_or_start(user=request.user, source=SOURCE)
        if session.is_completed:
            return redirect(onboarding_url(session))
        request.onboarding_session = self.session = session
        self.initial_override = None
        self.submitted, self.saved, self.pending = request.POST, False, pending
        return super().dispatch(request, *args, **kwargs)

    def _keep_signed_out_submit(self, step) -> None:
        """Keep a step submitted after the login lapsed, to save it once its owner logs in again."""
        if step in STEP_KEYS and pending_keep(self.request, step=step):
            messages.info(
                self.request,
                _(
                    "You were signed out before this page was saved. We kept your answers: "
                    "log in again as the same user and they will be saved."
                ),
            )
        else:
            messages.warning(self.request, _("You were signed out, so this page could not be saved."))

    def _submit_kept(self, step, data):
        """Submit the step kept while signed out, exactly as if it had been posted now."""
        self.submitted = data
        response = self._handle_submit(step, data)
        if self.saved:
            messages.success(self.request, _("The answers you submitted before logging in have been saved."))
        return response

    # --- formtools hooks ----------------------------------------------------------------

    def get_form_list(self):
        """Return this session's steps and their forms (its flags decide which steps and fields it has)."""
        return OrderedDict((step.key, step.form_class) for step in manifest_of(self.session).steps)

    def get_form_kwargs(self, step=None):
        return {"user": self.request.user}

    def get_form_initial(self, step):
        """Prefill from the stored step data (answers overlaid with a draft), or what was just typed."""
        if self.initial_override is not None:
            return self.initial_override
        return step_initial(step, self.storage.get_step_data(step))

    def get_form(self, step=None, data=None, files=None):
        return form_for_display(super().get_form(step, data, files))

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        step = manifest_of(self.session).get_step(self.steps.current)
        context.update(
            step=step,
            is_last=step.key == STEP_KEYS[-1],
            revision=self.session.revision,
            notice=self.session.data.get("notice"),
            progress_steps=progress_steps(self.session, step.key),
            **client_context(),
            owner=step_owner_token(user=self.request.user),
        )
        return context

    # --- GET ----------------------------------------------------------------------------

    def get(self, request, *args, step=None, **kwargs):
        if self.pending is not None:
            return self._submit_kept(*self.pending)
        if step not in self.get_form_list() or not step_is_reachable(self.session, step):
            return redirect(onboarding_url(self.session))
        self.storage.current_step = step
        return self.render(self._form_for_display(step))

    def _form_for_display(self, step):
        pending = self.request.session.pop(PENDING_ISSUES_KEY, None)
        if not pending or pending.get("step") != step:
            return self.get_form(step)
        form = self.get_form(step)
        form = self.get_form(step, data=form_data_for(form, self.get_form_initial(step)))
        form_add_issues(form, pending["issues"])
        return form

    # --- POST ---------------------------------------------------------------------------

    def post(self, request, *args, step=None, **kwargs):
        owner = step_owner_id(request.POST)
        if owner is not None and owner != request.user.pk:  # a page rendered for someone else
            messages.error(request, _("That page was opened by another account, so nothing from it was saved."))
            return redirect(onboarding_url(self.session))
        return self._handle_submit(step, request.POST)

    def _handle_submit(self, step, data):
        """Validate the wizard's form data for ``step`` and save it through the services."""
        if step not in self.get_form_list():
            return redirect(onboarding_url(self.session))
        management = ManagementForm(data, prefix=self.prefix)
        if not management.is_valid() or management.cleaned_data["current_step"] != step:
            raise SuspiciousOperation("The wizard's management form is missing or was tampered with.")
        self.storage.current_step = step
        form = self.get_form(step, data=data)
        if self._is_save() and data.getlist(CONFLICT_FIELD):
            chosen = self._with_choices(step, form, data)
            if chosen is None:
                return self._render_unchosen(form, data)
            self.submitted = data = chosen
            form = self.get_form(step, data=data)
        revision = data.get("revision", "")
        try:
            return self._submit(step, form, revision)
        except (RevisionConflict, RevisionRequired) as exc:
            return self._render_stale(form, exc)
        except SessionAlreadyCompleted:  # completed in another tab meanwhile
            return redirect(onboarding_url(session_live_for_user(self.request.user)))
        except StepValidationError as exc:
            return self._render_issues(step, form, exc)
        except DatabaseError:
            logger.exception("saving onboarding step %s failed", step)
            return self._render_with_typed(form, status=503, save_failed=True)

    def _submit(self, step, form, revision):
        """Hand the submit to the one service that owns it, then go where the result says."""
        user = self.request.user
        if "wizard_goto_step" in self.submitted:
            session = services.session_go_back(user=user, step=step, revision=revision, source=SOURCE)
            self.saved = True
            return redirect(self.get_step_url(session.current_step or resume_step(session)))
        if "wizard_skip" in self.submitted:
            session = services.session_skip_step(user=user, step=step, revision=revision, source=SOURCE)
            self.saved = True
            return redirect(onboarding_url(session))
        self._use_session(
            services.session_save_step(
                user=user, step=step, answers=typed_answers(form), revision=revision, source=SOURCE
            )
        )
        self.saved = True
        if step != STEP_KEYS[-1]:
            return redirect(onboarding_url(self.session))
        return self.render_done(form)

    def render_done(self, form, **kwargs):
        """Finish: the completion service validates every step and creates or joins the workspace."""
        session = services.session_complete(user=self.request.user, revision=self.session.revision, source=SOURCE)
        return redirect(onboarding_url(session))

    def _use_session(self, session) -> None:
        """Render from now on with ``session`` (just written, or fresh after a conflict)."""
        self.session = self.request.onboarding_session = session
        self.storage.load(session)

    def _render_issues(self, step, form, exc: StepValidationError):
        blocking = exc.blocking_step if exc.blocking_step in STEP_KEYS else step
        if blocking != step:
            self.request.session[PENDING_ISSUES_KEY] = {
                "step": blocking,
                "issues": [i for i in exc.issues if i.get("step") == blocking] or exc.issues,
            }
            return redirect(self.get_step_url(blocking))
        form_add_issues(form, [i for i in exc.issues if i.get("step") in (step, None)])
        return self.render(form)

    def _render_stale(self, form, exc, *, unchosen=False):
        """Nothing was saved: show what changed elsewhere and keep what the user typed.

        A save offers, for each field of its step that now differs, to keep the typed value or take
        the one saved elsewhere (radio buttons of the step form, so it works without JavaScript).
        """
        fresh = getattr(exc, "session", None)
        if fresh is None:  # no revision was sent at all
            fresh = services.session_get_or_start(user=self.request.user, source=SOURCE)
        self._use_session(fresh)
        step, changed = self.steps.current, getattr(exc, "changed_fields", [])
        choose = self._is_save() and any(item["step"] == step for item in changed)
        mine = choices = None
        if choose:
            step_def = manifest_of(fresh).get_step(step)
            mine = services.answers_as_saved(step_def, typed_answers(form), self.request.user)
            choices = {name: self.submitted.get(f"{CHOICE_PREFIX}{name}", "") for name in step_def.field_names}
        conflict = {
            "fields": changed_fields_display(fresh, changed, mine=mine, choices=choices),
            "choose": choose,
            "unchosen": unchosen,
            "missing_revision": isinstance(exc, RevisionRequired),
        }
        return self._render_with_typed(form, status=409, conflict=conflict)

    def _is_save(self) -> bool:
        """Tell whether the submit saves the step's answers (Continue or Finish, not Back or Skip)."""
        return "wizard_goto_step" not in self.submitted and "wizard_skip" not in self.submitted

    def _with_choices(self, step, form, data):
        """Return the form data with each conflicting field as the user chose; None if one is unchosen."""
        current = self.session.answers.get(step, {})
        chosen = data.copy()
        for name in data.getlist(CONFLICT_FIELD):
            choice = data.get(f"{CHOICE_PREFIX}{name}")
            if choice not in ("mine", "theirs"):
                return None
            if choice == "theirs" and name in form.fields:
                chosen.pop(form.add_prefix(name), None)
                for key, values in form_data_for(form, {name: current.get(name)}).lists():
                    chosen.setlist(key, values)
        return chosen

    def _render_unchosen(self, form, data):
        """Show the same choice again, asking for the fields left without one; nothing is saved."""
        fields = [{"step": self.steps.current, "field": name} for name in data.getlist(CONFLICT_FIELD)]
        fields = [item for item in fields if item["field"] in form.fields]
        return self._render_stale(form, RevisionConflict(session=self.session, changed_fields=fields), unchosen=True)

    def _render_with_typed(self, form, *, status, **context):
        """Re-render the step unbound, prefilled with what the user just typed (Back types nothing)."""
        if "wizard_goto_step" not in self.submitted:
            self.initial_override = typed_answers(form)
        response = self.render(self.get_form(self.steps.current), **context)
        response.status_code = status
        return response
