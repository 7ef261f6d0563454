"""Wizard, auth pages and dashboard.

The auth pages keep Django's un-namespaced names (``login``, ``logout``) because settings refer
to them as ``LOGIN_URL = "login"``; the wizard and dashboard live in the ``onboarding`` namespace.
"""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .brute_force import signup_throttled
from .wizard import accounts, offline, pages, password_reset
from .wizard.views import OnboardingWizardView

wizard = OnboardingWizardView.as_view(url_name="onboarding:step")

onboarding_patterns = [
    path("", pages.home, name="home"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("o/", wizard, name="start"),
    path("o/sw.js", offline.service_worker, name="service-worker"),
    path("o/offline/", offline.shell, name="offline-shell"),
    path("o/<slug:step>/", wizard, name="step"),
]

urlpatterns = [
    path("accounts/signup/", signup_throttled(accounts.signup), name="signup"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("accounts/password_reset/", password_reset.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # Django's set_language under its usual name and URL; it also records the pick over a saved answer.
    path("i18n/setlang/", pages.language_switch, name="set_language"),
    path("", include((onboarding_patterns, "onboarding"))),
]
