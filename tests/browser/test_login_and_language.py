"""Logging in, and switching the interface language from the header."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

import inbox

from .helpers import log_in

pytestmark = pytest.mark.browser

KO_CATALOG = Path(inbox.__file__).resolve().parent / "translations" / "ko" / "LC_MESSAGES" / "messages.mo"


def test_wrong_password_shows_an_error_and_the_right_one_opens_the_inbox(page, user):
    page.goto("/inbox")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Finbox"))

    page.locator("input[name=email]").fill(user.email)
    page.locator("input[name=password]").fill("not the password")
    page.locator("form.login button[type=submit]").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Wrong email or password.")
    expect(page).to_have_url(re.compile(r"/login"))
    # The address is kept so only the password needs retyping.
    expect(page.locator("input[name=email]")).to_have_value(user.email)
    expect(page.locator("header.topbar")).to_have_count(0)

    page.locator("input[name=password]").fill("correct horse battery staple")
    page.locator("form.login button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("header.topbar .who")).to_have_text("Agent Kim")
    expect(page.locator("#folder-open")).to_be_visible()
    expect(page.locator("#search")).to_be_visible()


def test_language_switch_turns_the_interface_korean_and_back(page, user):
    log_in(page, user)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#switch-language")).to_have_text("한국어")

    page.locator("#switch-language").click()

    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("body")).to_have_attribute("data-locale", "ko")
    expect(page).to_have_url(re.compile(r"/inbox"))
    switch = page.locator("#switch-language")
    expect(switch).to_have_text("English")
    expect(switch).to_have_attribute("lang", "en")

    # The choice is kept on the user, not only for one page.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    nav_text = page.locator("nav.mainnav").inner_text()

    page.locator("#switch-language").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav.mainnav")).to_contain_text("Inbox")

    if not KO_CATALOG.exists():
        pytest.skip("Korean labels not checked: inbox/translations/ko/LC_MESSAGES/messages.mo is not compiled yet")
    with KO_CATALOG.open("rb") as fh:
        inbox_label = gettext.GNUTranslations(fh).gettext("Inbox")
    # Expected wording is 받은편지함; any Hangul translation proves the catalog is used.
    assert re.search(r"[\uac00-\ud7a3]", inbox_label), f"'Inbox' is not translated: {inbox_label!r}"
    assert inbox_label in nav_text, f"nav {nav_text!r} lacks {inbox_label!r}"
