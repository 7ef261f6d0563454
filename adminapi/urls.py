"""Staff-only answers API (issue 5)."""
urlpatterns = []
