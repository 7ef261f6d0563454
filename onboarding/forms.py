"""The step forms: every rule of a step's fields lives here, once.

Each form declares ``kinds`` (field name -> choice/multi/bool/text/pii), which the manifest
checks against the form's fields and the aggregation reads to decide what is counted.
"""

import re
import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from .models import Workspace

ROLE_CHOICES = [
    ("engineering", _("Engineering")),
    ("design", _("Design")),
    ("product", _("Product")),
    ("data", _("Data")),
    ("marketing", _("Marketing")),
    ("sales", _("Sales")),
    ("support", _("Support")),
    ("operations", _("Operations")),
    ("founder", _("Founder")),
    ("other", _("Other")),
]
TEAM_SIZE_CHOICES = [(v, v) for v in ("1", "2-10", "11-50", "51-200", "201-1000", "1000+")]
FUNCTION_CHOICES = [
    ("engineering", _("Engineering")),
    ("design", _("Design")),
    ("product", _("Product")),
    ("data", _("Data")),
    ("marketing", _("Marketing")),
    ("sales", _("Sales")),
    ("support", _("Support")),
    ("operations", _("Operations")),
    ("finance", _("Finance")),
    ("hr", _("HR")),
    ("other", _("Other")),
]
INTENT_CHOICES = [
    ("project_tracking", _("Project tracking")),
    ("sprint_planning", _("Sprint planning")),
    ("bug_tracking", _("Bug tracking")),
    ("roadmapping", _("Roadmapping")),
    ("documentation", _("Documentation")),
    ("automation", _("Automation")),
    ("reporting", _("Reporting")),
]
EXPERIENCE_CHOICES = [
    ("none", _("None")),
    ("beginner", _("Beginner")),
    ("intermediate", _("Intermediate")),
    ("advanced", _("Advanced")),
]
AI_USAGE_CHOICES = [
    ("none", _("I don't use AI")),
    ("exploring", _("Exploring it")),
    ("weekly", _("Weekly")),
    ("daily", _("Daily")),
]
TOOL_CHOICES = [
    ("github", "GitHub"),
    ("gitlab", "GitLab"),
    ("bitbucket", "Bitbucket"),
    ("jira", "Jira"),
    ("linear", "Linear"),
    ("asana", "Asana"),
    ("trello", "Trello"),
    ("notion", "Notion"),
    ("confluence", "Confluence"),
    ("slack", "Slack"),
    ("teams", "Microsoft Teams"),
    ("figma", "Figma"),
    ("google_workspace", "Google Workspace"),
    ("microsoft_365", "Microsoft 365"),
]
INVITE_ROLE_CHOICES = [("member", _("Member")), ("admin", _("Admin"))]
THEME_CHOICES = [("system", _("System")), ("light", _("Light")), ("dark", _("Dark"))]
DIGEST_CHOICES = [("never", _("Never")), ("daily", _("Daily")), ("weekly", _("Weekly"))]
NOTIFICATION_CHOICES = [
    ("mentions", _("Mentions")),
    ("assignments", _("Assignments")),
    ("comments", _("Comments")),
    ("status_changes", _("Status changes")),
]
# The site's languages, each named in itself (as a reader of that language looks for it).
LANGUAGE_CHOICES = list(settings.LANGUAGES)
# Said by the form and, for a completion that loses a race, by the completion service.
WORKSPACE_NAME_TAKEN = _("That workspace name is taken: choose another name")
JOIN_CODE_UNKNOWN = _("No workspace has that invite code: check it and try again")
MODE_CHOICES = [("create", _("Create a new workspace")), ("join", _("Join an existing workspace"))]


def timezone_choices():
    """Return every IANA zone name this machine knows, sorted."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class SearchableChoiceInput(forms.TextInput):
    """A text input that offers the field's choices as a datalist: typed to search, checked by the field."""

    template_name = "onboarding/widgets/searchable_choice.html"
    choices = ()  # set by the ChoiceField

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        list_id = f"{context['widget']['attrs'].get('id', name)}_options"
        context["widget"]["attrs"].update(list=list_id, autocomplete="off", spellcheck="false")
        context["widget"]["list_id"] = list_id
        context["widget"]["options"] = [value for value, _label in self.choices]
        return context


class ChoiceWithDefaultField(forms.ChoiceField):
    """A choice that falls back to its default when left empty (API clients may omit it)."""

    def __init__(self, *, default, **kwargs):
        kwargs.setdefault("initial", default)
        super().__init__(required=False, **kwargs)
        self.default = default

    def clean(self, value):
        value = super().clean(value)
        return value or self.default


class ListField(forms.CharField):
    """A list of short strings, typed as one text separated by commas (or newlines)."""

    separators = re.compile(r"[,\n\r]+")
    default_error_messages = {
        "invalid": _("Enter a list or a comma-separated text."),
        "invalid_item": _("Every item must be text."),
        "max_items": ngettext_lazy("Enter at most %(limit)d item.", "Enter at most %(limit)d items.", "limit"),
        "item_too_long": ngettext_lazy(
            "“%(item)s” is longer than %(limit)d character.", "“%(item)s” is longer than %(limit)d characters.", "limit"
        ),
    }

    def __init__(self, *, max_items, max_item_length=None, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.max_items = max_items
        self.max_item_length = max_item_length

    def to_python(self, value):
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            items = value
        elif isinstance(value, str):
            items = self.separators.split(value)
        else:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if not all(isinstance(item, str) for item in items):
            raise ValidationError(self.error_messages["invalid_item"], code="invalid")
        return _unique_casefold(item.strip() for item in items if item.strip())

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value):
        if len(value) > self.max_items:
            raise ValidationError(self.error_messages["max_items"], code="max_items", params={"limit": self.max_items})
        for item in value:
            if self.max_item_length and len(item) > self.max_item_length:
                raise ValidationError(
                    self.error_messages["item_too_long"],
                    code="max_length",
                    params={"item": item[:50], "limit": self.max_item_length},
                )

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value


class EmailListField(ListField):
    """Invite e-mails: valid addresses, de-duplicated case-insensitively."""

    widget = forms.Textarea(attrs={"rows": 3})
    default_error_messages = {
        "invalid_email": _("Enter e-mail addresses in the correct format, like name@example.com. Not valid: %(bad)s"),
    }

    def run_validators(self, value):
        super().run_validators(value)
        bad = []
        for item in value:
            try:
                validate_email(item)
            except ValidationError:
                bad.append(item)
        if bad:
            raise ValidationError(
                self.error_messages["invalid_email"], code="invalid_email", params={"bad": ", ".join(bad)}
            )


def _unique_casefold(items):
    seen, out = set(), []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


def errors(*, required=None, too_long=None, choice=None, **others) -> dict:
    """Name a field's error messages, one per rule (never Django's generic "This field is required.")."""
    messages = {"required": required, "max_length": too_long, "invalid_choice": choice, **others}
    if choice is not None:
        messages.setdefault("invalid_list", choice)
    return {code: message for code, message in messages.items() if message is not None}


class StepForm(forms.Form):
    """A step's form; takes the user so rules may depend on who answers."""

    kinds: dict[str, str] = {}
    # field -> (other field, answer): the field only matters when the other has that answer (shown
    # under it by the wizard's conditional-reveal module; the form's own rules say what is kept).
    revealed_by: dict[str, tuple[str, str]] = {}
    required_css_class = "required"

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for name, condition in self.revealed_by.items():
            if name in self.fields:
                self.fields[name].revealed_by = condition


class ProfileForm(StepForm):
    kinds = {"full_name": "pii", "job_title": "text", "role": "choice"}

    full_name = forms.CharField(
        label=_("Full name"),
        max_length=120,
        min_length=1,
        error_messages=errors(
            required=_("Enter your full name"), too_long=_("Full name must be 120 characters or fewer")
        ),
    )
    job_title = forms.CharField(
        label=_("Job title"),
        max_length=120,
        required=False,
        error_messages=errors(too_long=_("Job title must be 120 characters or fewer")),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=ROLE_CHOICES,
        error_messages=errors(required=_("Select your role"), choice=_("Select a role from the list")),
    )


class WorkProfileForm(StepForm):
    """Work profile; ``ai_usage`` is experimental (the manifest puts it behind a flag)."""

    kinds = {
        "team_name": "text",
        "team_size": "choice",
        "timezone": "choice",
        "functions": "multi",
        "intents": "multi",
        "experience": "choice",
        "ai_usage": "choice",
    }

    team_name = forms.CharField(
        label=_("Team name"),
        max_length=80,
        required=False,
        error_messages=errors(too_long=_("Team name must be 80 characters or fewer")),
    )
    team_size = forms.ChoiceField(
        label=_("Team size"),
        choices=TEAM_SIZE_CHOICES,
        widget=forms.RadioSelect,
        error_messages=errors(required=_("Select the size of your team"), choice=_("Select a team size from the list")),
    )
    # Typed to search (about 600 zones), prefilled from the browser when unanswered; the choices check it.
    timezone = forms.ChoiceField(
        label=_("Timezone"),
        choices=timezone_choices,
        widget=SearchableChoiceInput(attrs={"data-module": "timezone-guess"}),
        help_text=_("Start typing a city, for example Europe/Berlin or America/New_York."),
        error_messages=errors(
            required=_("Enter your timezone, for example Europe/Berlin"),
            choice=_("Enter a timezone from the list, for example Europe/Berlin"),
        ),
    )
    functions = forms.MultipleChoiceField(
        label=_("Functions"),
        choices=FUNCTION_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Select all that apply."),
        error_messages=errors(
            required=_("Select at least one function your team covers"), choice=_("Select functions from the list")
        ),
    )
    intents = forms.MultipleChoiceField(
        label=_("Goals"),
        choices=INTENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Select all that apply."),
        error_messages=errors(required=_("Select at least one goal"), choice=_("Select goals from the list")),
    )
    experience = forms.ChoiceField(
        label=_("Experience"),
        choices=EXPERIENCE_CHOICES,
        widget=forms.RadioSelect,
        error_messages=errors(
            required=_("Select your experience with tools like this"),
            choice=_("Select an experience level from the list"),
        ),
    )
    ai_usage = forms.ChoiceField(
        label=_("How do you use AI today?"),
        choices=AI_USAGE_CHOICES,
        required=False,
        widget=forms.RadioSelect,
        error_messages=errors(choice=_("Select how you use AI from the list")),
    )


class ToolsForm(StepForm):
    kinds = {"tools": "multi", "other_tools": "text"}

    tools = forms.MultipleChoiceField(
        label=_("Tools you use"),
        choices=TOOL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages=errors(choice=_("Select tools from the list")),
    )
    other_tools = ListField(
        label=_("Other tools"),
        max_items=10,
        max_item_length=40,
        help_text=_("Separate tools with commas."),
        error_messages={
            "max_items": _("Enter at most 10 other tools"),
            "item_too_long": _("Each other tool must be 40 characters or fewer: “%(item)s” is longer"),
        },
    )


class InvitesForm(StepForm):
    kinds = {"emails": "pii", "invite_role": "choice"}

    emails = EmailListField(
        label=_("Invite teammates"),
        max_items=20,
        help_text=_("Up to 20 e-mail addresses, separated by commas or new lines."),
        error_messages={
            "max_items": _("Enter at most 20 e-mail addresses"),
            "item_too_long": _("Each e-mail address must be %(limit)d characters or fewer"),
        },
    )
    invite_role = ChoiceWithDefaultField(
        label=_("Invite as"),
        choices=INVITE_ROLE_CHOICES,
        default="member",
        widget=forms.RadioSelect,
        error_messages=errors(choice=_("Select member or admin")),
    )

    def clean_emails(self):
        emails = self.cleaned_data["emails"]
        own = (getattr(self.user, "email", "") or "").casefold()
        if own and any(email.casefold() == own for email in emails):
            raise ValidationError(_("You can't invite yourself."), code="own_email")
        return emails


class PreferencesForm(StepForm):
    kinds = {
        "theme": "choice",
        "email_digest": "choice",
        "notifications": "multi",
        "language": "choice",
        "product_updates": "bool",
    }

    theme = ChoiceWithDefaultField(
        label=_("Theme"),
        choices=THEME_CHOICES,
        default="system",
        widget=forms.RadioSelect,
        help_text=_("System follows your device's light or dark setting."),
        error_messages=errors(choice=_("Select system, light or dark")),
    )
    email_digest = ChoiceWithDefaultField(
        label=_("Email digest"),
        choices=DIGEST_CHOICES,
        default="weekly",
        error_messages=errors(choice=_("Select how often to get the email digest")),
    )
    notifications = forms.MultipleChoiceField(
        label=_("Notify me about"),
        choices=NOTIFICATION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages=errors(choice=_("Select notifications from the list")),
    )
    language = ChoiceWithDefaultField(
        label=_("Language"),
        choices=LANGUAGE_CHOICES,
        default="en",
        error_messages=errors(choice=_("Select a language from the list")),
    )
    product_updates = forms.BooleanField(label=_("Send me product updates"), required=False, initial=False)


class WorkspaceForm(StepForm):
    kinds = {"mode": "choice", "workspace_name": "text", "join_code": "text"}
    revealed_by = {"workspace_name": ("mode", "create"), "join_code": ("mode", "join")}

    mode = forms.ChoiceField(
        label=_("Workspace"),
        choices=MODE_CHOICES,
        widget=forms.RadioSelect,
        error_messages=errors(
            required=_("Select whether to create a new workspace or join one"),
            choice=_("Select create or join"),
        ),
    )
    workspace_name = forms.CharField(
        label=_("Workspace name"),
        max_length=60,
        required=False,
        help_text=_("If you create a workspace: 3 to 60 characters."),
        error_messages=errors(too_long=_("Workspace name must be 60 characters or fewer")),
    )
    join_code = forms.CharField(
        label=_("Invite code"),
        max_length=64,
        required=False,
        help_text=_("If you join a workspace: the code a teammate shared with you."),
        error_messages=errors(too_long=_("Invite code must be 64 characters or fewer")),
    )

    def clean(self):
        cleaned = super().clean()
        mode = cleaned.get("mode")
        if mode == "create":
            cleaned["join_code"] = ""
            self._clean_new_workspace(cleaned.get("workspace_name", ""))
        elif mode == "join":
            cleaned["workspace_name"] = ""
            self._clean_join_code(cleaned.get("join_code", ""))
        return cleaned

    def _clean_new_workspace(self, name):
        if "workspace_name" in self.errors:
            return
        if not name:
            self.add_error("workspace_name", ValidationError(_("Enter a name for your workspace"), code="required"))
        elif len(name) < 3:
            self.add_error(
                "workspace_name", ValidationError(_("Workspace name must be 3 characters or more"), code="min_length")
            )
        elif not slugify(name):
            self.add_error(
                "workspace_name",
                ValidationError(_("Workspace name must contain at least one letter or digit"), code="invalid"),
            )
        elif Workspace.objects.filter(slug=slugify(name)).exists():
            self.add_error(
                "workspace_name",
                ValidationError(WORKSPACE_NAME_TAKEN, code="slug_taken"),
            )

    def _clean_join_code(self, code):
        if not code:
            self.add_error(
                "join_code", ValidationError(_("Enter the invite code a teammate shared with you"), code="required")
            )
        elif not Workspace.objects.filter(join_code=code, joinable=True).exists():
            self.add_error(
                "join_code",
                ValidationError(JOIN_CODE_UNKNOWN, code="invalid_code"),
            )
