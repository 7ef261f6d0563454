"""Staff-only answers API, mounted at /api/admin/onboarding/."""

from django.urls import path

from . import views

app_name = "adminapi"
urlpatterns = [
    path("answers", views.AnswersListView.as_view(), name="answers"),
    path("answers/<int:user_id>", views.UserAnswersView.as_view(), name="user-answers"),
    path("totals", views.TotalsView.as_view(), name="totals"),
    path("funnel", views.FunnelView.as_view(), name="funnel"),
]
