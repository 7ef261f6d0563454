"""The admin's date drill-down without ``SELECT DISTINCT``: a calendar between the first and last row.

Django's ``{% date_hierarchy %}`` lists the years (months, days) that have rows with
``SELECT DISTINCT date_trunc(...)`` over every row of the list, which reads millions of rows.
This tag asks for the first and last value only (``MIN``/``MAX``, which PostgreSQL answers from
the column's index) and lists every year, month or day between them: a period may have no rows.
The links and the filtering are Django's own (``<field>__year``/``__month``/``__day``, turned into
an indexed range by the changelist).
"""

import calendar
import datetime

from django import template
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def calendar_date_hierarchy(cl):
    """Render the drill-down links of ``cl.date_hierarchy`` from the range of its values."""
    if not cl.date_hierarchy:
        return {"show": False}
    name = cl.date_hierarchy
    fields = {unit: f"{name}__{unit}" for unit in ("year", "month", "day")}
    year, month, day = (_int(cl.params.get(fields[unit])) for unit in ("year", "month", "day"))

    def link(filters):
        return cl.get_query_string(filters, [f"{name}__"])

    if year and month and day:
        chosen = datetime.date(year, month, day)
        return {
            "show": True,
            "back": {
                "link": link({fields["year"]: year, fields["month"]: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    first, last = _range(cl.queryset, name)
    if first is None:
        return {"show": True, "back": None, "choices": []}
    if not year and first.year == last.year:  # one year (month) only: start a level down, as Django does
        year = first.year
        month = first.month if first.month == last.month else None
    if year and month:
        days = _between(
            first.date(),
            last.date(),
            datetime.date(year, month, 1),
            datetime.date(year, month, calendar.monthrange(year, month)[1]),
        )
        return {
            "show": True,
            "back": {"link": link({fields["year"]: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({fields["year"]: year, fields["month"]: month, fields["day"]: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        months = [
            datetime.date(year, m, 1)
            for m in range(1, 13)
            if (year, m) >= (first.year, first.month) and (year, m) <= (last.year, last.month)
        ]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({fields["year"]: year, fields["month"]: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in months
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({fields["year"]: str(y)}), "title": str(y)} for y in range(first.year, last.year + 1)
        ],
    }


def _range(queryset, name: str):
    """Return the first and last value of the column in the (filtered) list, in local time."""
    bounds = queryset.order_by().aggregate(first=models.Min(name), last=models.Max(name))
    first, last = bounds["first"], bounds["last"]
    if first is None or last is None:
        return None, None
    if isinstance(first, datetime.datetime):
        first, last = (timezone.localtime(v) if timezone.is_aware(v) else v for v in (first, last))
    else:
        first, last = (datetime.datetime.combine(v, datetime.time.min) for v in (first, last))
    return first, last


def _between(first: datetime.date, last: datetime.date, start: datetime.date, end: datetime.date) -> list:
    start, end = max(first, start), min(last, end)
    return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@register.filter
def minutes_seconds(milliseconds) -> str:
    """Say a duration in milliseconds as people read it: "4.2 s", "4 min 37 s" (staff pages)."""
    if milliseconds is None or milliseconds == "":
        return ""
    total = float(milliseconds) / 1000
    if total < 59.5:
        return _("%(seconds)s s") % {"seconds": formats.number_format(round(total, 1), 1)}
    seconds = round(total)
    return _("%(minutes)d min %(seconds)d s") % {"minutes": seconds // 60, "seconds": seconds % 60}
