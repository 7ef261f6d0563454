"""The project's admin site: every ModelAdmin calendar-safe, and the onboarding funnel page.

``OnboardingAdminConfig`` takes django.contrib.admin's place in INSTALLED_APPS and names
``OnboardingAdminSite`` as the default site, so ``admin.site`` and ``@admin.register`` everywhere
(ours, Django's User and Group, any installed app's) register on it.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.urls import path


class CalendarSafeChangeList(ChangeList):
    """A changelist whose date filters past the calendar are a bad lookup (Django's "?e=1"), not a 500.

    Django checks the lookups of a query string when it filters, but the bounds of a date lookup
    (``completed_at__year=99999``) and of a date drill-down (the day after 9999-12-31) are computed
    later, when the SQL is made or in Python, where the ValueError or OverflowError escapes.
    """

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        try:
            queryset.query.get_compiler(queryset.db).as_sql()  # makes the SQL now, without running it
        except (EmptyResultSet, FullResultSet):
            pass
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc
        return queryset


class CalendarSafeAdminMixin:
    """Use CalendarSafeChangeList (``OnboardingAdminSite`` gives it to every ModelAdmin)."""

    def get_changelist(self, request, **kwargs):
        return CalendarSafeChangeList


class OnboardingAdminSite(admin.AdminSite):
    """Django's admin site, with every changelist calendar-safe and the funnel page at onboarding/funnel/."""

    def register(self, model_or_iterable, admin_class=None, **options):
        """Register as Django does, with CalendarSafeAdminMixin mixed into ``admin_class``."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CalendarSafeAdminMixin):
            admin_class = type(admin_class.__name__, (CalendarSafeAdminMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self):
        from adminapi.admin import funnel_view  # it reads the staff selectors: imported once the apps are

        funnel = path("onboarding/funnel/", self.admin_view(funnel_view), name="onboarding_funnel")
        return [funnel, *super().get_urls()]


class OnboardingAdminConfig(AdminConfig):
    default_site = "onboarding_project.admin_site.OnboardingAdminSite"
