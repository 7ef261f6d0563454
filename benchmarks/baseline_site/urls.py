"""The project's URLs plus ``POST /api/bench/baseline/<session_id>``: the least a write can cost."""

from django.urls import path

from onboarding_project.urls import urlpatterns as project_urlpatterns

from .views import baseline_session_touch

urlpatterns = [
    path("api/bench/baseline/<uuid:session_id>", baseline_session_touch, name="api-bench-baseline"),
    *project_urlpatterns,
]
