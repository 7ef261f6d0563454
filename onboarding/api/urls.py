"""Progress and completion API, token endpoints, CSP reports and the OpenAPI schema and docs.

The API's URLs have no trailing slash; the schema and docs keep drf-spectacular's usual ones.
"""

from django.urls import path

from . import csp_reports, docs, telemetry, views

urlpatterns = [
    path("users/me/onboarding-progress", views.OnboardingProgressApi.as_view(), name="api-onboarding-progress"),
    path("onboarding/complete", views.OnboardingCompleteApi.as_view(), name="api-onboarding-complete"),
    path("onboarding/events", telemetry.BrowserEventApi.as_view(), name="api-onboarding-events"),
    path("onboarding/manifest", views.OnboardingManifestApi.as_view(), name="api-onboarding-manifest"),
    path("auth/token", views.TokenObtainApi.as_view(), name="api-token-obtain"),
    path("auth/token/refresh", views.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("auth/logout", views.LogoutApi.as_view(), name="api-logout"),
    path("csp-report", csp_reports.csp_report, name="api-csp-report"),
    path("schema/", docs.SchemaApi.as_view(), name="api-schema"),
    path("docs/", docs.SwaggerPage.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", docs.RedocPage.as_view(url_name="api-schema"), name="api-redoc"),
]
