"""Translations: every string in the code has a Korean translation, the compiled catalog
is current, and users see the UI (and durations, and domain errors) in their language."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from inbox import contacts, users
from inbox.i18n import UserFacingError

from .conftest import login, post
from .factories import receive

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "inbox" / "translations"
KO_PO = TRANSLATIONS / "ko" / "LC_MESSAGES" / "messages.po"
KO_MO = TRANSLATIONS / "ko" / "LC_MESSAGES" / "messages.mo"


def _read_po(path: Path, locale: str | None = "ko"):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A fresh extraction of the code, with the command from docs/translations.md."""
    target = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "lazy_gettext", "-k", "N_",
         "--no-location", "-o", str(target), str(ROOT)]
    )  # fmt: skip
    return _read_po(target, locale=None)


def _ids(catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


def test_extraction_finds_strings_of_code_and_templates(extracted):
    ids = _ids(extracted)
    assert "Inbox" in ids  # a template
    assert "waiting %(d)s" in ids  # a template with a value
    assert "Unknown lead status." in ids  # a domain module, marked with N_
    assert "Please log in to continue." in ids  # lazy_gettext


def test_every_string_has_a_korean_translation(extracted):
    po = _read_po(KO_PO)
    translated = {m.id: m for m in po if m.id}
    missing = sorted(_ids(extracted) - set(translated))
    assert not missing, f"not in messages.po (run pybabel update, see docs/translations.md): {missing}"
    untranslated = sorted(i for i in _ids(extracted) if not translated[i].string)
    assert not untranslated, f"empty msgstr in messages.po: {untranslated}"
    fuzzy = sorted(i for i in _ids(extracted) if translated[i].fuzzy)
    assert not fuzzy, f"fuzzy entries in messages.po (review them, then drop the flag): {fuzzy}"
    assert not po.fuzzy, "the messages.po header is marked fuzzy"


def test_translations_keep_their_placeholders():
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _read_po(KO_PO).check()]
    assert not problems


def test_committed_mo_matches_the_po():
    buffer = BytesIO()
    write_mo(buffer, _read_po(KO_PO))
    buffer.seek(0)
    fresh = {m.id: m.string for m in read_mo(buffer) if m.id}
    with KO_MO.open("rb") as f:
        committed = {m.id: m.string for m in read_mo(f) if m.id}
    assert committed == fresh, "messages.mo is stale: run pybabel compile -d inbox/translations"


def _as(client, user, locale: str):
    user.locale = locale
    user.save()
    return login(client, user)


def test_korean_user_sees_korean_inbox(client, agent):
    html = _as(client, agent, "ko").get("/inbox").get_data(as_text=True)
    assert '<html lang="ko">' in html
    for text in ("받은편지함", "연락처", "템플릿", "미배정", "로그아웃"):
        assert text in html
    assert "Log out" not in html and "Unassigned" not in html


def test_english_user_sees_english_inbox(client, agent):
    html = _as(client, agent, "en").get("/inbox").get_data(as_text=True)
    assert '<html lang="en">' in html
    for text in ("Inbox", "Contacts", "Templates", "Unassigned", "Log out"):
        assert text in html
    assert "받은편지함" not in html and "로그아웃" not in html


@pytest.mark.parametrize(("locale", "expected"), [("ko", "대기 12분"), ("en", "waiting 12 min")])
def test_waiting_time_is_in_the_users_language(client, agent, email_channel, locale, expected):
    receive(email_channel, address="customer@example.com", name="Customer", minutes_ago=12)
    html = _as(client, agent, locale).get("/inbox").get_data(as_text=True)
    assert expected in html


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("ko", "너무 깁니다 (최대 255자)."), ("en", "Too long (at most 255 characters).")],
)
def test_domain_errors_with_values_are_translated(client, agent, locale, expected):
    _as(client, agent, locale)
    response = post(client, "/contacts/new", {"name": "Kim", "company": "x" * 300})
    assert response.status_code == 400
    assert expected in response.get_data(as_text=True)


def test_errors_carry_msgid_and_values_and_read_as_english():
    with pytest.raises(contacts.ContactError) as caught:
        contacts.parse_identity("phone", "")
    assert isinstance(caught.value, UserFacingError)
    assert caught.value.field == "phone"
    assert str(caught.value) == "Phone number is empty or too long."
    with pytest.raises(users.UserError) as caught:
        users.check_password_rules("short")
    assert caught.value.msgid == "The password needs at least %(n)s characters."
    assert caught.value.params == {"n": users.MIN_PASSWORD}
    assert str(caught.value) == f"The password needs at least {users.MIN_PASSWORD} characters."


def test_domain_modules_do_not_import_flask():
    for name in ("contacts", "users", "conversations", "outbound", "canned", "identities", "i18n"):
        source = (ROOT / "inbox" / f"{name}.py").read_text(encoding="utf-8")
        assert not re.search(r"^(from|import) flask", source, re.MULTILINE), name
