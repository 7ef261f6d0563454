"""Every module the client's entry script reaches is preloaded by the page: no import waterfall."""

import re

import pytest

from onboarding.wizard.module_graph import module_graph, module_imports

pytestmark = pytest.mark.django_db

_PRELOADS = re.compile(r'<link rel="modulepreload" href="([^"]+)">')


def test_a_page_preloads_every_module_of_the_graph_by_the_url_its_import_resolves_to(client):
    html = client.get("/accounts/login/").text

    preloaded = _PRELOADS.findall(html)

    assert preloaded == [f"/static/{name}" for name in module_graph()]
    assert "/static/onboarding/modules/wizard-form.js" in preloaded
    assert "/static/onboarding/lib/outbox.js" in preloaded
    assert "/static/vendor/idb/idb.js" in preloaded  # levels down: init, a module, the client, the outbox
    assert len(preloaded) == len(set(preloaded))


def test_the_wizard_page_preloads_the_graph_too(client, new_user):
    client.force_login(new_user)

    html = client.get("/o/profile/").text

    assert len(_PRELOADS.findall(html)) == len(module_graph())


def test_the_graph_follows_static_imports_and_re_exports_only():
    source = """
// import { commented } from "./not-this.js";
import * as a from "./a.js";
import {
  b,
  c as d,
} from '../lib/b.js';
import "./side-effect.js";
export { e } from "./e.js";
const later = () => import("./dynamic.js");
const text = "import x from './in-a-string.js'";
"""

    assert module_imports(source) == ["./a.js", "../lib/b.js", "./side-effect.js", "./e.js"]
