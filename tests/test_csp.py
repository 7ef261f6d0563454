"""A strict Content-Security-Policy on every page, a looser one only where the API docs need it; reports logged."""

import json
import logging

import pytest

from .factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/password_reset/", "/admin/login/"]


def policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("url", PAGES)
def test_every_page_carries_the_strict_policy(client, url):
    response = client.get(url)

    assert response.status_code == 200
    csp = policy(response)
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert csp["report-uri"] == ["/api/csp-report"]


def test_the_wizard_and_the_admin_pages_carry_it_too(client, new_user):
    client.force_login(new_user)
    wizard = client.get("/o/profile/")
    client.force_login(StaffFactory(is_superuser=True))
    admin_pages = [
        client.get(url) for url in ("/admin/", "/admin/aggregation/answersnapshot/", "/admin/onboarding/funnel/")
    ]

    for response in (wizard, *admin_pages):
        assert response.status_code == 200, response.status_code
        assert policy(response)["script-src"] == ["'self'"]


def test_no_page_of_ours_has_an_inline_script_or_style(client, new_user):
    client.force_login(StaffFactory(is_superuser=True))
    pages = [
        client.get(url).content.decode() for url in ("/admin/onboarding/funnel/", "/admin/aggregation/answersnapshot/")
    ]
    client.force_login(new_user)
    pages.append(client.get("/o/profile/").content.decode())

    for html in pages:
        assert "<script>" not in html and "<style" not in html and " style=" not in html and " onclick=" not in html


def test_the_api_docs_page_has_its_own_policy_with_scripts_still_only_from_self(client):
    response = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert response.status_code == 200 and "<script>" not in response.content.decode()
    csp = policy(response)
    assert csp["script-src"] == ["'self'"] and "'unsafe-inline'" in csp["style-src"] and "data:" in csp["img-src"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


def test_a_violation_report_is_logged(client, caplog):
    report = {
        "csp-report": {
            "document-uri": "https://onboarding.example.com/o/profile/",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "blocked-uri": "https://evil.example/x.js",
        }
    }

    with caplog.at_level(logging.WARNING, logger="onboarding.api.csp_reports"):
        response = client.post("/api/csp-report", json.dumps(report), content_type="application/csp-report")

    assert response.status_code == 204
    (record,) = [r for r in caplog.records if r.name == "onboarding.api.csp_reports"]
    assert "script-src-elem" in record.getMessage() and "https://evil.example/x.js" in record.getMessage()


def test_a_reporting_api_report_is_logged_too(client, caplog):
    reports = [
        {
            "type": "csp-violation",
            "body": {"documentURL": "/o/", "effectiveDirective": "style-src", "blockedURL": "inline"},
        }
    ]

    with caplog.at_level(logging.WARNING, logger="onboarding.api.csp_reports"):
        response = client.post("/api/csp-report", json.dumps(reports), content_type="application/reports+json")

    assert response.status_code == 204
    assert any("style-src blocked inline" in r.getMessage() for r in caplog.records)


def test_a_garbage_report_is_a_204_and_logs_nothing(client, caplog):
    with caplog.at_level(logging.WARNING, logger="onboarding.api.csp_reports"):
        response = client.post("/api/csp-report", b"\xff\x00not json", content_type="application/csp-report")

    assert response.status_code == 204
    assert not [r for r in caplog.records if r.name == "onboarding.api.csp_reports"]


def test_reports_beyond_the_rate_are_dropped(client, caplog, settings):
    settings.CSP_REPORT_THROTTLE_RATE = "2/min"
    report = json.dumps({"csp-report": {"effective-directive": "img-src", "blocked-uri": "x"}})

    with caplog.at_level(logging.WARNING, logger="onboarding.api.csp_reports"):
        statuses = [
            client.post("/api/csp-report", report, content_type="application/csp-report").status_code for _ in range(4)
        ]

    assert statuses == [204] * 4
    assert len([r for r in caplog.records if r.name == "onboarding.api.csp_reports"]) == 2


def test_the_schema_and_docs_are_staff_only_when_the_setting_is_on(client, settings):
    settings.API_DOCS_STAFF_ONLY = True
    anonymous = [client.get(url).status_code for url in ("/api/schema/", "/api/docs/", "/api/redoc/")]
    client.force_login(UserFactory())
    user = [client.get(url).status_code for url in ("/api/schema/", "/api/docs/", "/api/redoc/")]
    client.force_login(StaffFactory())
    staff = [client.get(url).status_code for url in ("/api/schema/", "/api/docs/", "/api/redoc/")]

    assert anonymous == [401, 401, 401] and user == [403, 403, 403] and staff == [200, 200, 200]


def test_the_docs_setting_is_on_by_default_with_debug_off():
    import subprocess
    import sys
    from pathlib import Path

    code = "import django; django.setup(); from django.conf import settings; print(settings.API_DOCS_STAFF_ONLY)"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "onboarding_project.settings", "SECRET_KEY": "x" * 50}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.stdout.strip() == "True", result.stderr
