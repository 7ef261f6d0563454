"""Progress and completion API (issue 3)."""
urlpatterns = []
