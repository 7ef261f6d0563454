"""Languages, themes and the end of the wizard: the pages in the user's language, the saved
answers applied to every page, and every catalog complete."""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from onboarding.models import OnboardingSession, Workspace

from .factories import OnboardingSessionFactory, session_data, valid_answers
from .wizard_client import submit_step

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
CATALOG_LANGUAGES = ("de", "fr", "es", "ja", "pt_BR")
STEPS_BEFORE_PREFERENCES = ("profile", "work-profile", "tools", "invites")


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A request leaves its language active in this thread: later tests start in the default again."""
    yield
    translation.deactivate()


def _user_with(answers=None, done=STEPS_BEFORE_PREFERENCES + ("preferences",)):
    all_answers = {step: valid_answers(step) for step in done}
    all_answers.update(answers or {})
    return OnboardingSessionFactory(data=session_data(done_steps=done, answers=all_answers)).user


def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def _title(response) -> str:
    return re.search(r"<title>([^<]*)</title>", response.content.decode()).group(1)


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_every_message_of_every_catalog_is_translated_and_none_is_fuzzy(language):
    catalog = polib.pofile(LOCALE_DIR / language / "LC_MESSAGES" / "django.po")

    untranslated = [entry.msgid for entry in catalog.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]

    assert untranslated == [], f"{language}: untranslated messages (see docs/languages.md)"
    assert fuzzy == [], f"{language}: fuzzy messages (check them and remove the fuzzy flag)"
    assert not catalog.metadata_is_fuzzy
    assert len(catalog.translated_entries()) > 200


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_every_compiled_catalog_holds_what_its_po_file_says(language):
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    source = {(entry.msgid, entry.msgstr or str(entry.msgstr_plural)) for entry in polib.pofile(folder / "django.po")}
    compiled = {(entry.msgid, entry.msgstr or str(entry.msgstr_plural)) for entry in polib.mofile(folder / "django.mo")}

    assert source - compiled == set(), f"{language}: django.mo is stale: run `make messages`"


def test_a_visitor_gets_the_pages_in_the_language_of_accept_language(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5").get("/accounts/login/")

    assert response.status_code == 200
    assert _html_lang(response) == "de"
    assert _title(response) == "Anmelden · Onboarding-Plattform"
    assert response["Content-Language"] == "de"


def test_a_visitor_whose_browser_asks_for_brazilian_portuguese_gets_it(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="pt-BR").get("/accounts/signup/")

    assert _html_lang(response) == "pt-br"
    assert "Crie sua conta" in response.content.decode()


def test_the_saved_language_answer_wins_over_accept_language(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(_user_with({"preferences": valid_answers("preferences", language="ja")}))

    response = client.get("/o/workspace/")

    assert _html_lang(response) == "ja"
    assert "ワークスペース名" in response.content.decode()


def test_the_switcher_changes_a_visitors_language_without_javascript(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/accounts/signup/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/"
    assert _html_lang(client.get("/accounts/signup/")) == "fr"


def test_the_switcher_overrides_the_saved_answer_until_the_answer_changes(db):
    user = _user_with({"preferences": valid_answers("preferences", language="de")})
    client = Client()
    client.force_login(user)

    client.post("/i18n/setlang/", {"language": "es", "next": "/o/workspace/"})
    switched = client.get("/o/workspace/")
    session = OnboardingSession.objects.get(user=user)
    session.data["answers"]["preferences"]["language"] = "fr"  # a newer answer (saved on another device)
    session.save(update_fields=["data"])
    answered_again = client.get("/o/workspace/")

    assert _html_lang(switched) == "es"
    assert _html_lang(answered_again) == "fr"


def test_every_page_has_the_language_switcher_naming_each_language_in_itself(db):
    html = Client(HTTP_ACCEPT_LANGUAGE="de").get("/accounts/login/").content.decode()

    assert 'action="/i18n/setlang/"' in html
    for code, name in settings.LANGUAGES:
        assert f'lang="{code}"' in html and f">{name}<" in html, code
    assert "Englisch" not in html


def test_the_unanswered_language_question_starts_at_the_language_of_the_pages(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(_user_with(done=STEPS_BEFORE_PREFERENCES))

    html = client.get("/o/preferences/").content.decode()

    assert '<option value="ja" selected>日本語</option>' in html


@pytest.mark.parametrize(
    ("language", "message", "prefix"),
    [
        ("en", "Enter your full name", "Error:"),
        ("de", "Geben Sie Ihren vollständigen Namen ein", "Fehler:"),
        ("ja", "氏名を入力してください", "エラー:"),
        ("pt-br", "Informe seu nome completo", "Erro:"),
    ],
)
def test_an_empty_required_field_gets_its_own_message_and_the_title_says_error(new_user, language, message, prefix):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(new_user)

    response = submit_step(client, "profile", {"full_name": "", "role": "data"})

    html = response.content.decode()
    assert response.status_code == 200
    assert _title(response).startswith(f"{prefix} ")
    assert f'<li><a href="#id_profile-full_name">{message}</a></li>' in html  # the summary links to the field
    assert "This field is required." not in html


def test_the_wizard_forms_leave_validation_to_the_server(new_user):
    client = Client()
    client.force_login(new_user)

    html = client.get("/o/profile/").content.decode()

    assert re.search(r'<form method="post" action="/o/profile/" class="wizard-form"[^>]*\snovalidate', html)


def test_api_issues_are_in_the_saved_language(db):
    user = _user_with({"preferences": valid_answers("preferences", language="fr")}, done=("profile",))
    client = Client()
    client.force_login(user)
    revision = OnboardingSession.objects.get(user=user).revision

    response = client.patch(
        "/api/users/me/onboarding-progress",
        {"step": "work-profile", "answers": {"team_size": "2-10"}, "revision": revision},
        content_type="application/json",
    )

    messages = {issue["field"]: issue["message"] for issue in response.json()["issues"]}
    assert response.status_code == 400
    assert messages["timezone"] == "Saisissez votre fuseau horaire, par exemple Europe/Paris"
    assert messages["functions"] == "Sélectionnez au moins une fonction couverte par votre équipe"


@pytest.mark.parametrize("theme", ["light", "dark", "system"])
def test_the_theme_answer_is_applied_to_every_page(db, theme):
    user = _user_with({"preferences": valid_answers("preferences", theme=theme)})
    client = Client()
    client.force_login(user)

    for path in ("/o/workspace/", "/o/profile/"):
        assert f'data-theme="{theme}"' in client.get(path).content.decode()


def test_a_visitor_without_an_answer_follows_the_system_theme(db):
    assert 'data-theme="system"' in Client().get("/accounts/login/").content.decode()


def test_invitations_are_written_in_the_inviters_language(db, django_capture_on_commit_callbacks):
    user = _user_with(
        {"preferences": valid_answers("preferences", language="de")},
        done=STEPS_BEFORE_PREFERENCES + ("preferences", "workspace"),
    )
    client = Client()
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = submit_step(client, "workspace", valid_answers("workspace"))

    assert response["Location"] == "/dashboard/"
    [message] = mail.outbox
    workspace = Workspace.objects.get(name="Analytical Engines")
    assert message.to == ["charles@example.com"]
    assert message.subject == f"{user.username} hat Sie zu Analytical Engines eingeladen"
    assert "„Einem bestehenden Workspace beitreten“" in message.body
    assert workspace.join_code in message.body


def test_the_dashboard_confirms_the_workspace_the_invitations_and_the_code(completed_user):
    client = Client()
    client.force_login(completed_user)
    workspace = Workspace.objects.get()

    html = client.get("/dashboard/").content.decode()

    assert '<h1 id="confirmation-title">You\'re all set</h1>' in html
    assert 'Your workspace <strong class="workspace-name">Analytical Engines</strong> is ready.' in html
    assert "<li>charles@example.com</li>" in html
    assert f'<code id="invite-code">{workspace.join_code}</code>' in html
    assert "What happens next" in html


def test_the_workspace_fields_say_which_answer_reveals_them(new_user):
    client = Client()
    client.force_login(_user_with(done=STEPS_BEFORE_PREFERENCES + ("preferences",)))

    html = client.get("/o/workspace/").content.decode()

    assert 'data-field="workspace_name"' in html and 'data-revealed-by="mode" data-reveal-value="create"' in html
    assert 'data-revealed-by="mode" data-reveal-value="join"' in html


def test_steps_already_answered_link_back_from_the_progress_list(db):
    client = Client()
    client.force_login(_user_with(done=("profile", "work-profile")))

    html = client.get("/o/tools/").content.decode()

    assert '<a href="/o/profile/">Profile basics' in html
    assert '<a href="/o/work-profile/">Work profile' in html
    assert '<a href="/o/tools/">' not in html  # the current step
    assert '<a href="/o/invites/">' not in html  # not reached yet


def test_the_timezone_is_typed_from_a_list_and_checked_by_the_server(new_user):
    client = Client()
    client.force_login(_user_with(done=("profile",)))

    html = client.get("/o/work-profile/").content.decode()
    refused = submit_step(client, "work-profile", valid_answers("work-profile", timezone="Mars/Olympus"))

    assert re.search(
        r'<input type="text" name="work-profile-timezone"[^>]* list="id_work-profile-timezone_options"', html
    )
    assert '<option value="Europe/Berlin"></option>' in html
    assert "Enter a timezone from the list, for example Europe/Berlin" in refused.content.decode()
