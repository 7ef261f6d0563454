"""The account pages: sign up (create the account, log in, start onboarding) and log out."""

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import services
from .pending import pending_drop_unless_owner


class SignupForm(UserCreationForm):
    """Username, e-mail and the password twice (Django's password validators apply)."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        error_messages={
            "required": _("Enter your e-mail address"),
            "invalid": _("Enter an e-mail address in the correct format, like name@example.com"),
            "max_length": _("E-mail address must be 254 characters or fewer"),
        },
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's default help is HTML; the templates escape help text, so say it in plain words.
        self.fields["password1"].help_text = _(
            "At least 8 characters, not a common password, not all digits and not like your username."
        )
        self.fields["username"].error_messages.update(
            required=_("Enter a username"),
            max_length=_("Username must be 150 characters or fewer"),
        )
        self.fields["password1"].error_messages["required"] = _("Enter a password")
        self.fields["password2"].error_messages["required"] = _("Enter the password again to confirm it")
        self.error_messages = {
            **self.error_messages,
            "password_mismatch": _("The two passwords don't match: enter the same password twice"),
        }

    def clean_email(self):
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail address already exists"), code="email_taken")
        return email


class LoginForm(AuthenticationForm):
    """Django's login form with a message per empty field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages["required"] = _("Enter your username")
        self.fields["password"].error_messages["required"] = _("Enter your password")


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request):
    """Create an account, log it in and send it to the first onboarding step."""
    if request.user.is_authenticated:
        return redirect("onboarding:start")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        services.session_get_or_start(user=user, source="wizard")
        return redirect("onboarding:start")
    return render(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's login, which deletes a step kept while signed out unless it is the new user's own."""

    authentication_form = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        pending_drop_unless_owner(self.request)
        return response


class LogoutView(auth_views.LogoutView):
    """Django's logout, which also tells the browser to delete what this device kept for the user.

    ``Clear-Site-Data`` removes the offline queue (IndexedDB), the offline caches and the service
    worker of this origin; the logout-cleanup module has already deleted them before the form was
    sent, which also covers a logout pressed while the server cannot be reached.
    """

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response
