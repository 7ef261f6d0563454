"""The onboarding funnel page of the Django admin, at /admin/onboarding/funnel/ (the site adds its URL).

It lives here, not in onboarding/admin.py, because it reads ``adminapi.selectors.onboarding_funnel``
(the same selector as ``GET /api/admin/onboarding/funnel``) and onboarding never imports upward.
With a flag chosen it shows that experiment's arms side by side (``onboarding_funnel_by_arm``,
as ``funnel?flag=``), their sample sizes and whether the completion rates differ significantly.
"""

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from aggregation.funnel import BUCKET_ERROR
from onboarding.manifest import MANIFEST_FLAGS

from .selectors import FunnelExperiment, onboarding_funnel, onboarding_funnel_by_arm

# The chart's own coordinates: the SVG scales to its container (width 100%, at most this many px)
# and keeps every label inside (left-aligned at 0, right-aligned at the width).
CHART_WIDTH = 760
ARM_CHART_WIDTH = 420  # two arms side by side
SIGNIFICANCE_LEVEL = 0.05
ARM_TITLES = {"on": "Flag on", "off": "Flag off"}
BAR_HEIGHT = 20
ROW_HEIGHT = 66
MARKER_SIZE = 7


class FunnelWindowForm(forms.Form):
    started_after = forms.DateField(
        required=False,
        label="Started on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    started_before = forms.DateField(
        required=False,
        label="Started on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    flag = forms.ChoiceField(
        required=False,
        label="Split by flag",
        choices=[("", "No split"), *((name, name) for name in MANIFEST_FLAGS)],
        help_text="Compare the sessions that decided the flag on with those that decided it off.",
    )
    last = forms.ChoiceField(required=False, choices=[("", "—"), ("hour", "Last hour")], widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("started_after"), cleaned.get("started_before")
        if after and before and before < after:
            raise forms.ValidationError("The end of the window is before its start.")
        return cleaned

    def window(self) -> dict:
        """Return the selector's keyword arguments: whole days, the end day included; or the last hour.

        The last day of the calendar (9999-12-31) has no next day to stop before: it means no end.
        """
        if self.cleaned_data.get("last") == "hour":
            return {"started_after": timezone.now() - timedelta(hours=1), "started_before": None}
        after, before = self.cleaned_data.get("started_after"), self.cleaned_data.get("started_before")
        tz = timezone.get_current_timezone()
        return {
            "started_after": datetime.combine(after, time.min, tzinfo=tz) if after else None,
            "started_before": datetime.combine(before + timedelta(days=1), time.min, tzinfo=tz)
            if before and before < date.max
            else None,
        }


def funnel_chart(steps, *, width: int = CHART_WIDTH) -> dict:
    """Lay out the SVG: per step a title line, a bar of done/skipped/dropped with a friction marker, a figures line."""
    top = max((s.reached for s in steps), default=0) or 1
    scale = width / top
    rows = []
    for index, s in enumerate(steps):
        y = index * ROW_HEIGHT
        done_w, skipped_w, dropped_w = (round(n * scale, 1) for n in (s.completed, s.skipped, s.dropped))
        reached_w = round(s.reached * scale, 1)
        rows.append(
            {
                "step": s,
                "title_y": y + 14,
                "bar_y": y + 20,
                "figures_y": y + 20 + BAR_HEIGHT + 15,
                "done_w": done_w,
                "skipped_x": done_w,
                "skipped_w": skipped_w,
                "dropped_x": done_w + skipped_w,
                "dropped_w": dropped_w,
                "reached_w": reached_w,
                "marker_points": _diamond(reached_w, y + 20 + BAR_HEIGHT / 2, width),
                "friction_per_100": round(100 * s.friction / s.reached, 1) if s.reached else None,
                "drop_pct": None if s.drop_off_rate is None else round(s.drop_off_rate * 100, 1),
                "median_s": None if s.median_ms is None else round(s.median_ms / 1000, 1),
                "p90_s": None if s.p90_ms is None else round(s.p90_ms / 1000, 1),
            }
        )
    return {"rows": rows, "width": width, "height": len(steps) * ROW_HEIGHT, "bar_height": BAR_HEIGHT}


def _diamond(x: float, y: float, width: int) -> str:
    """Return the points of the friction marker: a diamond on the bar's end, kept inside the chart."""
    x, s = min(max(x, MARKER_SIZE), width - MARKER_SIZE), MARKER_SIZE
    return f"{x},{y - s} {x + s},{y} {x},{y + s} {x - s},{y}"


def significance_sentence(experiment: FunnelExperiment) -> str:
    """Say in plain words whether the arms' completion rates differ significantly at 5%."""
    on, off = experiment.arms
    if experiment.p_value is None:
        return (
            f"Nothing to compare yet: {on.sessions} sessions decided {experiment.flag} on and "
            f"{off.sessions} decided it off."
        )
    rates = (
        f"{on.completion_rate:.1%} of the sessions with the flag on completed onboarding, "
        f"{off.completion_rate:.1%} with it off ({experiment.completion_rate_difference * 100:+.1f} points)"
    )
    if experiment.p_value < SIGNIFICANCE_LEVEL:
        return f"{rates}. The difference is statistically significant at the 5% level (p = {experiment.p_value:.3g})."
    return (
        f"{rates}. The difference is not statistically significant at the 5% level (p = {experiment.p_value:.3g}): "
        "it may well be chance."
    )


def funnel_view(request):
    """Render the funnel over the chosen window as a table and a server-side SVG chart (per arm with a flag)."""
    form = FunnelWindowForm(request.GET or None)
    valid = form.is_bound and form.is_valid()
    window = form.window() if valid else {}
    flag = form.cleaned_data.get("flag") if valid else ""
    last_hour = valid and form.cleaned_data.get("last") == "hour"
    context = {
        **admin.site.each_context(request),
        "title": "Onboarding funnel",
        "form": form,
        "presets": _presets(flag),
        "last_hour": last_hour,
        "bucket_error_pct": round(BUCKET_ERROR * 100, 1),
        **(_arms_context(onboarding_funnel_by_arm(flag=flag, **window)) if flag else _funnel_context(window)),
    }
    return TemplateResponse(request, "admin/onboarding/funnel.html", context)


def _funnel_context(window: dict) -> dict:
    steps = onboarding_funnel(**window)
    return {"steps": steps, "sessions": steps[0].reached if steps else 0, "chart": funnel_chart(steps)}


def _arms_context(experiment: FunnelExperiment) -> dict:
    arms = [
        {
            "arm": arm,
            "title": ARM_TITLES[arm.arm],
            "chart": funnel_chart(arm.steps, width=ARM_CHART_WIDTH),
            "rate_pct": None if arm.completion_rate is None else round(arm.completion_rate * 100, 1),
        }
        for arm in experiment.arms
    ]
    return {
        "experiment": experiment,
        "arms": arms,
        "sessions": sum(arm.sessions for arm in experiment.arms),
        "significance": significance_sentence(experiment),
    }


def _presets(flag: str) -> list[tuple[str, str]]:
    today, split = timezone.localdate(), f"&flag={flag}" if flag else ""
    return [
        ("Last hour", f"?last=hour{split}"),
        ("Last 7 days", f"?started_after={today - timedelta(days=6)}&started_before={today}{split}"),
        ("Last 30 days", f"?started_after={today - timedelta(days=29)}&started_before={today}{split}"),
        ("All time", f"?flag={flag}" if flag else "?"),
    ]
