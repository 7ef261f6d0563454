"""The step forms: every rule of the contract's field table lives here, once.

Each form declares ``kinds`` (field name -> choice/multi/bool/text/pii), which the manifest
checks against the form's fields and the aggregation reads to decide what is counted.
"""

import re
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.text import slugify

from .models import Workspace

ROLE_CHOICES = [
    ("engineering", "Engineering"),
    ("design", "Design"),
    ("product", "Product"),
    ("data", "Data"),
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("support", "Support"),
    ("operations", "Operations"),
    ("founder", "Founder"),
    ("other", "Other"),
]
TEAM_SIZE_CHOICES = [(v, v) for v in ("1", "2-10", "11-50", "51-200", "201-1000", "1000+")]
FUNCTION_CHOICES = [
    ("engineering", "Engineering"),
    ("design", "Design"),
    ("product", "Product"),
    ("data", "Data"),
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("support", "Support"),
    ("operations", "Operations"),
    ("finance", "Finance"),
    ("hr", "HR"),
    ("other", "Other"),
]
INTENT_CHOICES = [
    ("project_tracking", "Project tracking"),
    ("sprint_planning", "Sprint planning"),
    ("bug_tracking", "Bug tracking"),
    ("roadmapping", "Roadmapping"),
    ("documentation", "Documentation"),
    ("automation", "Automation"),
    ("reporting", "Reporting"),
]
EXPERIENCE_CHOICES = [
    ("none", "None"),
    ("beginner", "Beginner"),
    ("intermediate", "Intermediate"),
    ("advanced", "Advanced"),
]
AI_USAGE_CHOICES = [("none", "I don't use AI"), ("exploring", "Exploring it"), ("weekly", "Weekly"), ("daily", "Daily")]
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
INVITE_ROLE_CHOICES = [("member", "Member"), ("admin", "Admin")]
THEME_CHOICES = [("system", "System"), ("light", "Light"), ("dark", "Dark")]
DIGEST_CHOICES = [("never", "Never"), ("daily", "Daily"), ("weekly", "Weekly")]
NOTIFICATION_CHOICES = [
    ("mentions", "Mentions"),
    ("assignments", "Assignments"),
    ("comments", "Comments"),
    ("status_changes", "Status changes"),
]
LANGUAGE_CHOICES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ja", "日本語"),
    ("pt-br", "Português (Brasil)"),
]
MODE_CHOICES = [("create", "Create a new workspace"), ("join", "Join an existing workspace")]


def timezone_choices():
    """Return every IANA zone name this machine knows, sorted."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


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
            raise ValidationError("Enter a list or a comma-separated text.", code="invalid")
        if not all(isinstance(item, str) for item in items):
            raise ValidationError("Every item must be text.", code="invalid")
        return _unique_casefold(item.strip() for item in items if item.strip())

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value):
        if len(value) > self.max_items:
            raise ValidationError(f"Enter at most {self.max_items} items.", code="max_items")
        for item in value:
            if self.max_item_length and len(item) > self.max_item_length:
                raise ValidationError(
                    f"“{item[:50]}” is longer than {self.max_item_length} characters.", code="max_length"
                )

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value


class EmailListField(ListField):
    """Invite e-mails: valid addresses, de-duplicated case-insensitively."""

    widget = forms.Textarea(attrs={"rows": 3})

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
                "Not a valid e-mail address: %(bad)s", code="invalid_email", params={"bad": ", ".join(bad)}
            )


def _unique_casefold(items):
    seen, out = set(), []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


class StepForm(forms.Form):
    """A step's form; takes the user so rules may depend on who answers."""

    kinds: dict[str, str] = {}
    required_css_class = "required"

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


class ProfileForm(StepForm):
    kinds = {"full_name": "pii", "job_title": "text", "role": "choice"}

    full_name = forms.CharField(label="Full name", max_length=120, min_length=1)
    job_title = forms.CharField(label="Job title", max_length=120, required=False)
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)


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

    team_name = forms.CharField(label="Team name", max_length=80, required=False)
    team_size = forms.ChoiceField(label="Team size", choices=TEAM_SIZE_CHOICES, widget=forms.RadioSelect)
    timezone = forms.ChoiceField(label="Timezone", choices=timezone_choices, initial="UTC")
    functions = forms.MultipleChoiceField(
        label="Functions", choices=FUNCTION_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    intents = forms.MultipleChoiceField(label="Goals", choices=INTENT_CHOICES, widget=forms.CheckboxSelectMultiple)
    experience = forms.ChoiceField(label="Experience", choices=EXPERIENCE_CHOICES, widget=forms.RadioSelect)
    ai_usage = forms.ChoiceField(
        label="How do you use AI today?", choices=AI_USAGE_CHOICES, required=False, widget=forms.RadioSelect
    )


class ToolsForm(StepForm):
    kinds = {"tools": "multi", "other_tools": "text"}

    tools = forms.MultipleChoiceField(
        label="Tools you use", choices=TOOL_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    other_tools = ListField(
        label="Other tools", max_items=10, max_item_length=40, help_text="Separate tools with commas."
    )


class InvitesForm(StepForm):
    kinds = {"emails": "pii", "invite_role": "choice"}

    emails = EmailListField(
        label="Invite teammates", max_items=20, help_text="Up to 20 e-mail addresses, separated by commas or new lines."
    )
    invite_role = ChoiceWithDefaultField(
        label="Invite as", choices=INVITE_ROLE_CHOICES, default="member", widget=forms.RadioSelect
    )

    def clean_emails(self):
        emails = self.cleaned_data["emails"]
        own = (getattr(self.user, "email", "") or "").casefold()
        if own and any(email.casefold() == own for email in emails):
            raise ValidationError("You can't invite yourself.", code="own_email")
        return emails


class PreferencesForm(StepForm):
    kinds = {
        "theme": "choice",
        "email_digest": "choice",
        "notifications": "multi",
        "language": "choice",
        "product_updates": "bool",
    }

    theme = ChoiceWithDefaultField(label="Theme", choices=THEME_CHOICES, default="system", widget=forms.RadioSelect)
    email_digest = ChoiceWithDefaultField(label="Email digest", choices=DIGEST_CHOICES, default="weekly")
    notifications = forms.MultipleChoiceField(
        label="Notify me about", choices=NOTIFICATION_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    language = ChoiceWithDefaultField(label="Language", choices=LANGUAGE_CHOICES, default="en")
    product_updates = forms.BooleanField(label="Send me product updates", required=False, initial=False)


class WorkspaceForm(StepForm):
    kinds = {"mode": "choice", "workspace_name": "text", "join_code": "text"}

    mode = forms.ChoiceField(label="Workspace", choices=MODE_CHOICES, widget=forms.RadioSelect)
    workspace_name = forms.CharField(label="Workspace name", max_length=60, required=False)
    join_code = forms.CharField(label="Invite code", max_length=64, required=False)

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
        if len(name) < 3:
            self.add_error(
                "workspace_name", ValidationError("Enter a workspace name of 3 to 60 characters.", code="required")
            )
        elif not slugify(name):
            self.add_error("workspace_name", ValidationError("Use at least one letter or digit.", code="invalid"))
        elif Workspace.objects.filter(slug=slugify(name)).exists():
            self.add_error("workspace_name", ValidationError("That workspace name is taken.", code="slug_taken"))

    def _clean_join_code(self, code):
        if not code:
            self.add_error("join_code", ValidationError("Enter the invite code you were given.", code="required"))
        elif not Workspace.objects.filter(join_code=code, joinable=True).exists():
            self.add_error("join_code", ValidationError("No joinable workspace has that code.", code="invalid_code"))
