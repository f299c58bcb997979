"""The conversation page: canned replies, assigning, snoozing, reopening and closing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from inbox import canned

from .. import factories
from .helpers import assert_same_page, log_in, mark_page

pytestmark = pytest.mark.browser

NO_CHANNEL = "No email channel is configured, so nothing was sent."
QUOTE_BODY = "Hi {{ contact.first_name }}, thanks for asking about {{ last_topic }}. — {{ agent.first_name }}"
QUOTE_TEXT = "Hi Minji, thanks for asking about Quote for 40 seats. — Agent"


@pytest.fixture
def conversation(email_channel):
    message = factories.receive(
        email_channel, address="minji@example.com", name="Minji Park", minutes_ago=20,
        subject="Quote for 40 seats", text="Could you send a quote for 40 seats?",
    )  # fmt: skip
    return message.conversation


def _open(page, conversation) -> None:
    page.goto(f"/c/{conversation.id}")
    expect(page.locator("#conversation-header h1")).to_have_text("Minji Park")


def _timeline_events(page):
    return page.locator("#timeline li.event .event-text")


def test_reply_with_a_canned_template_shows_the_failed_delivery_live(page, user, conversation):
    canned.save(None, user, name="Quote follow-up", shortcut="quote", body=QUOTE_BODY, channels="")
    canned.save(None, user, name="Shipping times", shortcut="shipping", body="We ship in 3 days.", channels="")
    log_in(page, user)
    _open(page, conversation)
    mark_page(page)
    textarea = page.locator("#reply-text")

    # 1. The picker: type part of the name, click the match.
    page.locator("#template-search").fill("quote")
    expect(page.locator("#template-picker .insert-template")).to_have_count(1)
    page.locator("#insert-template-quote").click()
    expect(textarea).to_have_value(QUOTE_TEXT)
    expect(page.locator("#template-picker")).to_be_empty()

    # 2. The shortcut: "/quote" then Tab replaces the shortcut with the rendered text.
    textarea.fill("")
    textarea.press_sequentially("/quote")
    textarea.press("Tab")
    expect(textarea).to_have_value(QUOTE_TEXT)
    expect(textarea).to_be_focused()

    page.locator("#send-button").click()

    sent = page.locator("#timeline li.msg.dir-out")
    expect(sent).to_have_count(1)
    expect(sent.locator(".body")).to_have_text(QUOTE_TEXT)
    expect(sent.locator(".author")).to_have_text("Agent Kim")
    expect(sent.locator(".status")).to_have_attribute("data-status", "failed")
    expect(sent.locator(".status")).to_have_text("Failed")
    expect(sent.locator(".failure .error")).to_have_text(f"Not sent: {NO_CHANNEL}")
    expect(sent.get_by_role("button", name="Retry")).to_be_visible()
    # The composer is cleared for the next message; the page never reloaded.
    expect(page.locator("#reply-text")).to_have_value("")
    expect(page.locator("#composer-error")).to_have_count(0)
    # A reply that was never delivered has not answered the customer.
    expect(page.locator("#conversation-header .waiting-timer")).to_be_visible()

    # The next periodic poll must not append the same message a second time.
    with page.expect_response(lambda r: f"/c/{conversation.id}/updates" in r.url):
        pass
    expect(sent).to_have_count(1)
    ids = page.locator("#timeline > li").evaluate_all("items => items.map(li => li.id)")
    assert len(ids) == len(set(ids)), ids
    assert_same_page(page)


def test_a_status_change_made_elsewhere_reaches_the_open_page(page, user, conversation):
    """The timeline poller replaces a message whose status changed after the page was drawn."""
    from inbox import outbound

    message = outbound.send(conversation, kind="email", text="Queued before the page opened", author=user)
    log_in(page, user)
    _open(page, conversation)
    sent = page.locator("#timeline li.msg.dir-out")
    expect(sent.locator(".status")).to_have_attribute("data-status", "queued")
    mark_page(page)

    outbound.deliver(message.id)

    expect(sent.locator(".status")).to_have_attribute("data-status", "failed", timeout=8000)
    expect(sent.locator(".failure .error")).to_have_text(f"Not sent: {NO_CHANNEL}")
    assert_same_page(page)


def test_assign_to_a_colleague_writes_an_audit_line(page, user, colleague, conversation):
    log_in(page, user)
    _open(page, conversation)
    mark_page(page)

    page.locator("#assignee-select").select_option(label="Sarah Park")

    expect(_timeline_events(page)).to_have_text(["Agent Kim assigned this to Sarah Park"])
    expect(page.locator("#assignee-select option:checked")).to_have_text("Sarah Park")
    assert_same_page(page)

    page.goto("/inbox")
    row = page.locator(f"#conversation-{conversation.id}")
    expect(row.locator(".assignee")).to_have_text("Sarah Park")


def test_snooze_moves_the_conversation_to_snoozed_and_reopen_brings_it_back(page, user, conversation):
    log_in(page, user)
    _open(page, conversation)

    page.locator("#snooze-button").click()
    page.locator("#snooze-1h").click()

    state = page.locator("#conversation-state")
    expect(state).to_have_text(re.compile(r"^Snoozed · "))
    expect(page.locator("#reopen-button")).to_be_visible()
    expect(_timeline_events(page)).to_have_text(["Agent Kim snoozed this conversation"])

    page.locator("a.back").click()
    expect(page.locator(f"#conversation-{conversation.id}")).to_have_count(0)
    page.locator("#folder-snoozed").click()
    expect(page).to_have_url(re.compile(r"folder=snoozed"))
    row = page.locator(f"#conversation-{conversation.id}")
    expect(row.locator(".contact-name")).to_have_text("Minji Park")
    expect(row.locator(".badge.snoozed")).to_contain_text("Snoozed until")

    row.locator("a.row-link").click()
    page.locator("#reopen-button").click()

    expect(state).to_have_text("Open")
    expect(page.locator("#reopen-button")).to_have_count(0)
    expect(_timeline_events(page)).to_have_text(
        ["Agent Kim snoozed this conversation", "Agent Kim reopened this conversation"]
    )
    page.goto("/inbox?folder=snoozed")
    expect(page.locator("#empty-list")).to_be_visible()
    page.locator("#folder-open").click()
    expect(page.locator(f"#conversation-{conversation.id}")).to_be_visible()


def test_close_moves_the_conversation_to_closed(page, user, conversation):
    log_in(page, user)
    _open(page, conversation)

    page.locator("#close-button").click()

    expect(page.locator("#conversation-state")).to_have_text("Closed")
    expect(page.locator("#close-button")).to_have_count(0)
    expect(page.locator("#reopen-button")).to_be_visible()
    expect(page.locator("#conversation-header .waiting-timer")).to_have_count(0)
    expect(_timeline_events(page)).to_have_text(["Agent Kim closed this conversation"])

    page.goto("/inbox")
    expect(page.locator(f"#conversation-{conversation.id}")).to_have_count(0)
    page.locator("#folder-closed").click()
    row = page.locator(f"#conversation-{conversation.id}")
    expect(row.locator(".contact-name")).to_have_text("Minji Park")
    expect(row).to_have_class(re.compile(r"\bstate-closed\b"))
