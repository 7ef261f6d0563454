"""Password reset by e-mail (Django's views): a completed reset also lifts the account's lock-outs."""

import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.throttling import SimpleRateThrottle

from ..brute_force import client_address, too_many_attempts_page
from ..login_lockout import lockout_lift_for_account

RESET_THROTTLED_MESSAGE = _("Too many password reset requests from your network. Try again later.")


class PasswordResetThrottle(SimpleRateThrottle):
    """Limit reset requests per client address to PASSWORD_RESET_THROTTLE_RATE (each one may send an e-mail)."""

    scope = "password_reset"

    def get_rate(self):
        return settings.PASSWORD_RESET_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset request with a message per rule of the e-mail field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].error_messages.update(
            required=_("Enter your e-mail address"),
            invalid=_("Enter an e-mail address in the correct format, like name@example.com"),
            max_length=_("E-mail address must be 254 characters or fewer"),
        )


class NewPasswordForm(SetPasswordForm):
    """Django's new-password form with a message per empty field and for a mismatch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].error_messages["required"] = _("Enter a password")
        self.fields["new_password2"].error_messages["required"] = _("Enter the password again to confirm it")
        self.error_messages = {
            **self.error_messages,
            "password_mismatch": _("The two passwords don't match: enter the same password twice"),
        }


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for the e-mail address; the same answer whether or not an account has it."""

    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("password_reset_done")

    def post(self, request, *args, **kwargs):
        throttle = PasswordResetThrottle()
        if not throttle.allow_request(request, None):
            retry_after = math.ceil(throttle.wait() or 0)
            return too_many_attempts_page(
                request, RESET_THROTTLED_MESSAGE, retry_after, headers={"Retry-After": str(retry_after)}
            )
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set the new password from the e-mailed link, then lift every lock-out of that account."""

    form_class = NewPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        lockout_lift_for_account(username=self.user.get_username())
        return response
