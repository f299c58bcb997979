"""The inbox list: rows, opening a conversation, search, live updates, phone layout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .. import factories
from .helpers import DESKTOP, PHONE, assert_same_page, log_in, mark_page

pytestmark = pytest.mark.browser


def _row(page, name: str):
    return page.locator("#rows li.row").filter(has=page.locator(".contact-name", has_text=name))


def test_inbox_rows_open_a_conversation_with_its_timeline(page, user, email_channel, twilio_channel):
    factories.receive(
        email_channel, address="minji@example.com", name="Minji Park", minutes_ago=42,
        subject="Quote for 40 seats", text="Could you send a quote for 40 seats?",
    )  # fmt: skip
    factories.receive(
        email_channel, address="minji@example.com", minutes_ago=40, text="We would like to start in January."
    )
    factories.receive(
        twilio_channel, address="+821055512345", kind="sms", minutes_ago=5, text="배송은 언제쯤 도착하나요?"
    )

    log_in(page, user)

    rows = page.locator("#rows li.row")
    expect(rows).to_have_count(2)
    # Newest activity first: the SMS sender (no name yet, shown by number) is on top.
    expect(rows.nth(0).locator(".contact-name")).to_have_text("+821055512345")
    expect(rows.nth(0).locator(".preview")).to_have_text("배송은 언제쯤 도착하나요?")
    minji = _row(page, "Minji Park")
    expect(minji.locator(".preview")).to_have_text("We would like to start in January.")
    expect(minji.locator(".waiting-timer")).to_have_text(re.compile(r"waiting 4\d min"))
    expect(rows.nth(0).locator(".waiting-timer")).to_have_text(re.compile(r"waiting [5-7] min"))
    expect(minji.locator(".assignee")).to_have_text("Unassigned")
    expect(page.locator("#folder-unassigned .count")).to_have_text("2")

    minji.locator("a.row-link").click()

    expect(page).to_have_url(re.compile(r"/c/\d+$"))
    expect(page.locator("#conversation-header h1")).to_have_text("Minji Park")
    expect(page.locator("#conversation-state")).to_have_text("Open")
    expect(page.locator("#conversation-header .waiting-timer")).to_contain_text("waiting 4")
    messages = page.locator("#timeline li.msg")
    expect(messages).to_have_count(2)
    expect(messages.nth(0).locator(".subject")).to_have_text("Quote for 40 seats")
    expect(messages.nth(0).locator(".body")).to_have_text("Could you send a quote for 40 seats?")
    expect(messages.nth(0).locator(".author")).to_have_text("minji@example.com")
    expect(messages.nth(1).locator(".body")).to_have_text("We would like to start in January.")
    expect(page.locator("#contact-panel .identity-value")).to_have_text("minji@example.com")

    page.locator("a.back").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(rows).to_have_count(2)


def test_search_finds_a_korean_word_inside_a_longer_word_and_a_phone_number(page, user, email_channel, twilio_channel):
    factories.receive(
        email_channel, address="seoyeon@design.kr", name="박서연", minutes_ago=30,
        text="안녕하세요. 홈페이지 리뉴얼 견적서를 받아볼 수 있을까요?",
    )  # fmt: skip
    factories.receive(email_channel, address="sehoon@logis.kr", name="오세훈", minutes_ago=20, text="배송 일정 문의")
    factories.receive(twilio_channel, address="+821012345678", kind="sms", minutes_ago=10, text="환불 요청드립니다")
    log_in(page, user)
    rows = page.locator("#rows li.row")
    expect(rows).to_have_count(3)
    mark_page(page)

    page.locator("#search").fill("견적")

    expect(page.locator(".list-caption")).to_have_text("Search results for “견적”")
    expect(rows).to_have_count(1)
    expect(rows.locator(".contact-name")).to_have_text("박서연")
    expect(rows.locator(".preview")).to_contain_text("견적서를")
    expect(page).to_have_url(re.compile(r"q=%EA%B2%AC%EC%A0%81"))

    page.locator("#search").fill("010-1234-5678")

    expect(page.locator(".list-caption")).to_have_text("Search results for “010-1234-5678”")
    expect(rows).to_have_count(1)
    expect(rows.locator(".contact-name")).to_have_text("+821012345678")
    expect(rows.locator(".preview")).to_have_text("환불 요청드립니다")

    page.locator("#search").fill("없는단어")
    expect(rows).to_have_count(0)
    expect(page.locator("#empty-list")).to_have_text("No conversation matches.")
    assert_same_page(page)


def test_a_new_conversation_appears_at_the_top_without_a_reload(page, user, email_channel):
    factories.receive(email_channel, address="old@example.com", name="Old Customer", minutes_ago=60, text="Earlier")
    log_in(page, user)
    rows = page.locator("#rows li.row")
    expect(rows).to_have_count(1)
    mark_page(page)

    factories.receive(email_channel, address="new@example.com", name="New Lead", text="Do you ship to Busan?")

    # The inbox poller asks for changes every 5 s.
    expect(rows).to_have_count(2, timeout=12_000)
    expect(rows.nth(0).locator(".contact-name")).to_have_text("New Lead")
    expect(rows.nth(0).locator(".preview")).to_have_text("Do you ship to Busan?")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bfresh\b"))
    expect(rows.nth(1).locator(".contact-name")).to_have_text("Old Customer")
    assert_same_page(page)

    rows.nth(0).locator("a.row-link").click()
    expect(page.locator("#conversation-header h1")).to_have_text("New Lead")


def _no_horizontal_overflow(page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width + 1, f"page is {scroll_width}px wide in a {width}px viewport"


def _seed_for_screenshots(email_channel, twilio_channel) -> None:
    factories.receive(
        email_channel, address="seoyeon@seoyeon-design.kr", name="박서연", minutes_ago=35,
        subject="홈페이지 리뉴얼 견적 문의",
        text="안녕하세요. 홈페이지 리뉴얼 견적서를 받아볼 수 있을까요? 예산은 500만원 정도입니다.",
    )  # fmt: skip
    factories.receive(
        email_channel, address="emily@brightside.co.uk", name="Emily Chen-Fitzgerald-Montgomery", minutes_ago=3000,
        text="Hi, could you send the proposal for 40 seats? We'd like to start in January. " * 4,
    )  # fmt: skip
    factories.receive(twilio_channel, address="+821098765432", kind="whatsapp", minutes_ago=600, text="배송은 언제쯤?")
    factories.receive(twilio_channel, address="+33612345678", kind="sms", minutes_ago=90, text="Open on Sunday?")


def test_inbox_and_conversation_on_a_desktop(page, user, email_channel, twilio_channel, artifacts):
    _seed_for_screenshots(email_channel, twilio_channel)
    log_in(page, user)
    expect(page.locator("#rows li.row")).to_have_count(4)
    _no_horizontal_overflow(page, DESKTOP["width"])
    page.screenshot(path=str(artifacts / "inbox-desktop.png"), full_page=True)

    page.locator("#rows li.row a.row-link").first.click()
    expect(page.locator("#timeline li.msg")).to_have_count(1)
    _no_horizontal_overflow(page, DESKTOP["width"])
    page.screenshot(path=str(artifacts / "conversation-desktop.png"), full_page=True)


@pytest.mark.browser_context_args(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
def test_inbox_is_usable_on_a_phone(page, user, email_channel, twilio_channel, artifacts):
    _seed_for_screenshots(email_channel, twilio_channel)
    log_in(page, user)
    assert page.viewport_size == PHONE
    rows = page.locator("#rows li.row")
    expect(rows).to_have_count(4)
    for i in range(4):
        row = rows.nth(i)
        expect(row.locator(".contact-name")).to_be_visible()
        expect(row.locator(".preview")).to_be_visible()
        box = row.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    expect(page.locator("#search")).to_be_in_viewport()
    # The folder tabs are one compact strip, not a band stretched by the page height.
    folders = page.locator("aside.folders").bounding_box()
    assert folders and folders["height"] < 70, folders
    _no_horizontal_overflow(page, PHONE["width"])
    page.screenshot(path=str(artifacts / "inbox-phone.png"), full_page=True)

    rows.filter(has_text="Emily").locator("a.row-link").tap()
    expect(page.locator("#conversation-header h1")).to_have_text("Emily Chen-Fitzgerald-Montgomery")
    expect(page.locator("#reply-text")).to_be_visible()
    _no_horizontal_overflow(page, PHONE["width"])
    page.screenshot(path=str(artifacts / "conversation-phone.png"), full_page=True)
