"""In a real browser, the preloads are the module graph: each module fetched once, none left out."""

import pytest

from onboarding import services

from .browser_support import PASSWORD, browser, enhanced, log_in, new_page, wizard_server  # noqa: F401
from .factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_every_module_the_wizard_loads_was_preloaded_and_is_fetched_once(browser, wizard_server):
    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    services.session_get_or_start(user=user, source="wizard")
    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    scripts = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)

    page.goto(f"{wizard_server.url}/o/profile/")
    enhanced(page)

    preloaded = page.eval_on_selector_all('link[rel="modulepreload"]', "links => links.map((link) => link.href)")
    entry = page.eval_on_selector('script[type="module"]', "script => script.src")
    assert sorted(scripts) == sorted({entry, *preloaded})  # each once, and nothing outside the preloads
    context.close()
