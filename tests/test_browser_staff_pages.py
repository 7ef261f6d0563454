"""The staff pages in a real Chromium at 800 px: the lists get the page's width, the funnel fits."""

import pytest

from onboarding.models import OnboardingEvent

from .browser_support import browser, new_page  # noqa: F401  (the Chromium fixture)
from .conftest import PASSWORD, complete_through_services
from .factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_at_800_px_the_session_and_event_lists_and_the_funnel_use_the_pages_width(browser, live_server):
    complete_through_services(UserFactory(username="done"))
    StaffFactory(username="boss")
    context, page = new_page(browser)
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    widths = {}
    for name in ("onboardingsession", "onboardingevent"):
        page.goto(f"{live_server.url}/admin/onboarding/{name}/")
        widths[name] = page.locator("#changelist .results").bounding_box()["width"]
    durations = page.locator("#result_list td.field-duration").all_inner_texts()
    page.goto(f"{live_server.url}/admin/onboarding/funnel/")
    funnel_overflow = page.evaluate("document.documentElement.scrollWidth")
    context.close()

    assert widths["onboardingsession"] >= 700 and widths["onboardingevent"] >= 700, widths
    assert funnel_overflow <= 800
    assert len(durations) == OnboardingEvent.objects.count()
    assert all(text == "—" or text.endswith(" s") for text in durations), durations
