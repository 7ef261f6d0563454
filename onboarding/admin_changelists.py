"""Changelist parts that stay fast at millions of rows; every read-only admin of big tables uses them.

- ``EstimatedCountPaginator``: counts exactly up to ``EXACT_BELOW`` rows, beyond that takes
  PostgreSQL's estimate for the query (its ``EXPLAIN``) instead of a ``COUNT(*)`` that reads it all.
- ``fixed_choices_filter``: a list filter whose choices are known (the manifest's steps, model
  choices), instead of Django's ``SELECT DISTINCT`` over the column.
- ``indexed_search``: one search box rule: a session id (exact), an e-mail address (exact, any
  case; index ``onb_user_email_upper``) or the start of a username (the username index).
- the date drill-down: ``{% calendar_date_hierarchy cl %}`` (``templatetags/onboarding_admin.py``)
  lists the years, months and days between the first and the last row instead of
  ``SELECT DISTINCT`` over every row's date.
"""

import json
import uuid

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from .manifest import STEP_KEYS


class EstimatedCountPaginator(Paginator):
    """Count exactly up to EXACT_BELOW rows; beyond, use the planner's estimate (PostgreSQL)."""

    EXACT_BELOW = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        # Reading at most EXACT_BELOW + 1 rows tells a small result (counted exactly) from a big one.
        bounded = queryset.order_by()[: self.EXACT_BELOW + 1].count()
        if bounded <= self.EXACT_BELOW:
            return bounded
        if connections[queryset.db].vendor != "postgresql":
            return super().count  # no planner to ask (SQLite: the embedded default, small tables)
        return max(planner_row_estimate(queryset), bounded)


def planner_row_estimate(queryset) -> int:
    """Return PostgreSQL's estimate of how many rows ``queryset`` returns (no rows are read)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class ScaledChangeListMixin:
    """A ModelAdmin of a big table: estimated counts, no facet counts, 50 rows a page, the calendar drill-down."""

    paginator = EstimatedCountPaginator
    # With the queries indexed, rendering the rows is most of a page's time (~0.5 ms a row).
    list_per_page = 50
    show_full_result_count = False  # the unfiltered COUNT(*) next to a filtered one
    show_facets = admin.ShowFacets.NEVER  # a COUNT per filter choice
    change_list_template = "admin/onboarding/scaled_change_list.html"


def fixed_choices_filter(field: str, title: str, choices, *, parameter_name: str | None = None):
    """Return a list filter offering ``choices`` (a list or a callable returning one) for ``field``."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        def lookups(self, request, model_admin):
            return list(choices() if callable(choices) else choices)

        def queryset(self, request, queryset):
            value = self.value()
            if value is None:
                return queryset
            if value not in {str(key) for key, _ in self.lookup_choices}:
                return queryset.none()  # not one of the choices: nothing matches (no query of the column)
            return queryset.filter(**{field: value})

    FixedChoicesFilter.title = title
    FixedChoicesFilter.parameter_name = parameter_name or f"{field}__exact"
    FixedChoicesFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return FixedChoicesFilter


def step_filter(field: str = "step", *, title: str = "step", parameter_name: str | None = None):
    """Return a filter of the manifest's steps, in manifest order."""
    return fixed_choices_filter(field, title, [(key, key) for key in STEP_KEYS], parameter_name=parameter_name)


def indexed_search(queryset, term: str, *, session_field: str, user_field: str):
    """Filter ``queryset`` by a session id, an e-mail address or the start of a username, through indexes.

    Django's default search ORs substring matches over joins, which reads every row.
    """
    term = term.strip()
    if not term:
        return queryset
    try:
        return queryset.filter(**{session_field: uuid.UUID(term)})
    except ValueError:
        pass
    users = get_user_model().objects.all()
    users = users.filter(email__iexact=term) if "@" in term else users.filter(username__startswith=term)
    return queryset.filter(**{f"{user_field}__in": users.values("pk")})
