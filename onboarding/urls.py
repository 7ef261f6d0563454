"""Wizard, auth pages and dashboard (issue 2)."""
app_name = "onboarding"
urlpatterns = []
