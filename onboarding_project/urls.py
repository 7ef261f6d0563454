from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/admin/onboarding/", include("adminapi.urls")),
    path("api/", include("onboarding.api.urls")),
    path("", include("onboarding.urls")),
]

# Under /api/ every error is JSON, also where no DRF view answers (onboarding_project/http_errors.py).
handler400 = "onboarding_project.http_errors.bad_request"
handler403 = "onboarding_project.http_errors.permission_denied"
handler404 = "onboarding_project.http_errors.page_not_found"
handler500 = "onboarding_project.http_errors.server_error"
