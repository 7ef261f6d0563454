"""The offline wizard's server side: the service worker script, the page shell, logout's Clear-Site-Data."""

import re

import pytest
from django.test import Client

from onboarding.wizard.module_graph import module_graph
from onboarding.wizard.offline import SERVICE_WORKER_IMPORTS, offline_bundle

pytestmark = pytest.mark.django_db

SERVICE_WORKER = "/o/sw.js"
SHELL = "/o/offline/"


def _logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_service_worker_is_served_under_o_with_its_precache_list_and_version(client):
    response = client.get(SERVICE_WORKER)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    bundle = offline_bundle()
    assert f'const VERSION = "{bundle["version"]}";' in body
    assert "/static/onboarding/build/client.js" in bundle["precache"]
    assert "/static/onboarding/lib/sender.js" in bundle["precache"]
    assert '"shell": "/o/offline/"' in body


def test_the_service_worker_gives_up_on_a_request_when_the_pages_do(client, settings):
    settings.ONBOARDING_CLIENT_TIMEOUT_SECONDS = 7

    body = client.get(SERVICE_WORKER).content.decode()

    assert "const CLIENT_TIMEOUT_MS = 7000;" in body
    assert "timeoutMs: CLIENT_TIMEOUT_MS" in body


def test_the_service_worker_precaches_every_static_file_a_wizard_page_links(new_user):
    page = _logged_in(new_user).get("/o/profile/").content.decode()

    linked = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)

    assert linked and set(linked) <= set(offline_bundle()["precache"])


def test_the_service_worker_precaches_the_modules_it_imports_and_theirs_but_not_the_pages_modules():
    precache = offline_bundle()["precache"]

    for name in SERVICE_WORKER_IMPORTS.values():
        assert f"/static/{name}" in precache
        assert {f"/static/{module}" for module in module_graph(name)} <= set(precache)
    assert "/static/vendor/idb/idb.js" in precache  # imported by what the worker imports
    assert "/static/onboarding/init.js" not in precache  # the pages load it bundled


def test_a_completed_user_still_gets_the_service_worker_not_a_redirect(completed_user):
    assert _logged_in(completed_user).get(SERVICE_WORKER).status_code == 200


def test_the_shell_needs_a_login_and_names_the_user_for_the_queue(client, new_user):
    assert client.get(SHELL).status_code == 302

    response = _logged_in(new_user).get(SHELL)

    assert response.status_code == 200
    assert f'data-user-id="{new_user.pk}"' in response.content.decode()
    assert b"data-shell" in response.content
    # Every step of the user's wizard, rendered by the server once, for the browser to show offline.
    html = response.content.decode()
    for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
        assert f'data-step-template="{step}"' in html
    assert 'name="profile-full_name"' in html


def test_a_completed_user_asking_for_the_shell_lands_on_the_dashboard(completed_user):
    response = _logged_in(completed_user).get(SHELL)

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")


def test_logging_out_tells_the_browser_to_delete_what_it_kept(new_user):
    response = _logged_in(new_user).post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "storage"'


def test_a_wizard_page_carries_what_the_offline_queue_needs(new_user):
    body = _logged_in(new_user).get("/o/profile/", follow=True).content.decode()

    assert f'data-user-id="{new_user.pk}"' in body
    assert f'data-offline-version="{offline_bundle()["version"]}"' in body
    assert 'data-service-worker-url="/o/sw.js"' in body


def test_the_shell_prefills_an_unanswered_language_with_the_pages_language_as_the_step_page_does(new_user):
    client = _logged_in(new_user)

    html = client.get(SHELL, HTTP_ACCEPT_LANGUAGE="de").content.decode()

    template = html[html.index('data-step-template="preferences"') :]
    assert re.search(r'<option value="de" selected>', template)
    assert "Choose…" not in template[: template.index("</template>")]
