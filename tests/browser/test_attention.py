"""The "Needs attention" folder: open leads with no next step, in English and Korean.

Four leads, each made through the product's own steps: one we answered whose follow-up
plan was then cancelled (no next step: the only one listed), one waiting for our reply,
one with a follow-up planned, and one closed. Giving the listed lead a next step takes it
off the list."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from inbox import automation, conversations, reminders
from inbox.models import Contact, Conversation, FollowUp

from .. import factories
from .helpers import log_in

pytestmark = pytest.mark.browser

DROPPED = "Haneul Kim"  # answered, then its plan was cancelled: no next step
WAITING = "Minji Park"  # waits for our reply
PLANNED = "Jisoo Choi"  # answered, a follow-up is planned
CLOSED = "Dohyun Jung"  # answered, then closed
FOLDER_LABEL = {"en": "Needs attention", "ko": "확인 필요"}


def _row(page, name: str):
    return page.locator("#rows li.row").filter(has=page.locator(".contact-name", has_text=name))


def _lead(channel, name: str, address: str, minutes_ago: float) -> Conversation:
    message = factories.receive(
        channel, address=address, name=name, minutes_ago=minutes_ago, text=f"Hello, {name} here."
    )
    return Conversation.get_by_id(message.conversation_id)


def _pending(conv: Conversation) -> int:
    return (
        FollowUp.select()
        .where((FollowUp.conversation == conv.id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null())
        .count()
    )


def _seed(channel, user) -> dict[str, Conversation]:
    dropped = _lead(channel, DROPPED, "haneul@example.com", 50)
    automation.reply(dropped, kind="email", text="Thanks, here is our offer.", author=user)
    reminders.cancel_pending(dropped.id, reminders.AUTOMATIC_KINDS)

    waiting = _lead(channel, WAITING, "minji@example.com", 40)
    # Only the reply due from us is left as its next step.
    reminders.cancel_pending(waiting.id, reminders.AUTOMATIC_KINDS)

    planned = _lead(channel, PLANNED, "jisoo@example.com", 30)
    automation.reply(planned, kind="email", text="Thanks, here is our offer.", author=user)

    closed = _lead(channel, CLOSED, "dohyun@example.com", 20)
    automation.reply(closed, kind="email", text="Thanks, here is our offer.", author=user)
    conversations.close(Conversation.get_by_id(closed.id), user)

    convs = {name: Conversation.get_by_id(c.id) for name, c in
             ((DROPPED, dropped), (WAITING, waiting), (PLANNED, planned), (CLOSED, closed))}  # fmt: skip
    # The setup is what the test says it is: each lead differs from the dropped one by one thing.
    for name, conv in convs.items():
        contact = Contact.get_by_id(conv.contact_id)
        assert contact.lead_status in ("new", "contacted", "interested", "dormant"), (name, contact.lead_status)
        assert contact.next_action_at is None, name
    assert (convs[DROPPED].state, convs[DROPPED].waiting_since, _pending(convs[DROPPED])) == ("open", None, 0)
    assert convs[WAITING].state == "open" and convs[WAITING].waiting_since is not None
    assert _pending(convs[WAITING]) == 0
    assert (convs[PLANNED].state, convs[PLANNED].waiting_since) == ("open", None) and _pending(convs[PLANNED]) >= 1
    assert (convs[CLOSED].state, convs[CLOSED].waiting_since, _pending(convs[CLOSED])) == ("closed", None, 0)
    return convs


def _open_attention(page, lang: str) -> None:
    folder = page.locator("#folder-attention")
    expect(folder).to_contain_text(FOLDER_LABEL[lang])
    expect(folder.locator(".count")).to_have_text("1")
    folder.click()
    expect(page).to_have_url(re.compile(r"/inbox\?folder=attention$"))
    expect(page.locator("#folder-attention")).to_have_class(re.compile(r"\bactive\b"))


def _only_the_dropped_lead_is_listed(page) -> None:
    rows = page.locator("#rows li.row")
    expect(rows).to_have_count(1)
    expect(rows.locator(".contact-name")).to_have_text(DROPPED)
    for name in (WAITING, PLANNED, CLOSED):
        expect(_row(page, name)).to_have_count(0)


def _the_list_is_empty(page) -> None:
    expect(page.locator("#rows li.row")).to_have_count(0)
    expect(page.locator("#empty-list")).to_be_visible()
    expect(page.locator("#folder-attention .count")).to_have_text("0")


def test_needs_attention_lists_the_lead_with_no_next_step_until_it_gets_a_next_action(page, user, email_channel):
    convs = _seed(email_channel, user)
    log_in(page, user)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # The other three are in the inbox, just not in this folder (the closed one is not open).
    expect(page.locator("#rows li.row")).to_have_count(3)

    _open_attention(page, "en")
    _only_the_dropped_lead_is_listed(page)

    # A dated next action, set in the contact panel beside the conversation.
    _row(page, DROPPED).locator("a.row-link").click()
    expect(page.locator("#conversation-header h1")).to_have_text(DROPPED)
    when = (dt.datetime.now() + dt.timedelta(days=3)).replace(hour=10, minute=0).strftime("%Y-%m-%dT%H:%M")
    panel = page.locator("#contact-panel")
    panel.locator("input[name=next_action]").fill("Call about the offer")
    panel.locator("input[name=next_action_at]").fill(when)
    with page.expect_response(lambda r: r.request.method == "POST" and "/contacts/" in r.url):
        panel.locator("#save-contact").click()
    expect(panel.locator("input[name=next_action_at]")).to_have_value(when)
    expect(panel.get_by_role("alert")).to_have_count(0)
    assert Contact.get_by_id(convs[DROPPED].contact_id).next_action_at is not None

    page.goto("/inbox?folder=attention")
    page.reload()
    _the_list_is_empty(page)
    expect(page.locator("#empty-list")).to_have_text("No conversations here.")


def test_needs_attention_in_korean(page, user, email_channel):
    convs = _seed(email_channel, user)
    log_in(page, user)
    page.locator("#switch-language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    _open_attention(page, "ko")
    _only_the_dropped_lead_is_listed(page)
    page.screenshot(path="/tmp/attention-ko.png", full_page=True)

    # We write to the lead again: the follow-up plan starts from that reply.
    automation.reply(Conversation.get_by_id(convs[DROPPED].id), kind="email", text="다시 연락드립니다.", author=user)
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    _the_list_is_empty(page)
    expect(page.locator("#empty-list")).to_have_text("대화가 없습니다.")
