"""The funnel page in a real Chromium at 1200 px: every label of the chart and the table fit the page."""

import pytest

from onboarding import services
from onboarding.errors import StepValidationError

from .browser_support import browser, new_page  # noqa: F401  (the Chromium fixture)
from .conftest import PASSWORD, complete_through_services
from .factories import StaffFactory, UserFactory, valid_answers

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def _funnel_data():
    """A completed user, one who struggled on the profile (friction), one who stopped at tools."""
    complete_through_services(UserFactory(username="done"), workspace_name="A Rather Long Workspace Name")
    user = UserFactory(username="struggler")
    session = services.session_get_or_start(user=user, source="wizard")
    for _ in range(3):
        try:
            services.session_save_step(
                user=user, step="profile", answers={}, revision=session.revision, source="wizard"
            )
        except StepValidationError:
            pass
    for step in ("profile", "work-profile"):
        session = services.session_save_step(
            user=user, step=step, answers=valid_answers(step), revision=session.revision, source="wizard"
        )


@pytest.mark.parametrize("query", ["", "?last=hour", "?flag=onboarding-ai-question"])
def test_the_funnel_chart_and_table_fit_a_1200_px_wide_page(browser, live_server, query):  # noqa: F811
    from playwright.sync_api import expect

    _funnel_data()
    StaffFactory(username="boss")
    context, page = new_page(browser)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/onboarding/funnel/{query}")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    charts = page.locator("svg[role=img]")
    expect(charts.first).to_be_visible()
    assert charts.count() == (2 if "flag" in query else 1)  # with a flag: its two arms
    for chart in charts.all():
        box = chart.bounding_box()
        texts = chart.evaluate("svg => [...svg.querySelectorAll('text')].map(e => e.getBoundingClientRect().toJSON())")
        assert len(texts) == 3 * 6  # per step: its title, "reached", its figures
        for text in texts:
            assert box["x"] - 0.5 <= text["left"] and text["right"] <= box["x"] + box["width"] + 0.5, text
    assert page.evaluate("document.documentElement.scrollWidth") <= 1200  # nothing overflows the page
    if "flag" not in query:  # every test user decided the flag off: the struggler's profile is in one arm
        expect(page.locator("svg .friction-marker")).to_have_count(1)
    expect(page.get_by_role("columnheader", name="Validation failures").first).to_be_visible()
    context.close()
