from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/admin/onboarding/", include("adminapi.urls")),
    path("api/", include("onboarding.api.urls")),
    path("", include("onboarding.urls")),
]
