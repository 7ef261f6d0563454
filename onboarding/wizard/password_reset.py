"""Password reset by e-mail (Django's views): a completed reset also lifts the account's lock-outs."""

import math

from django.conf import settings
from django.contrib.auth import views as auth_views
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


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for the e-mail address; the same answer whether or not an account has it."""

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

    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        lockout_lift_for_account(username=self.user.get_username())
        return response
