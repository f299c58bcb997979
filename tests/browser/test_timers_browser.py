"""Timers in the browser: the waiting badge changes colour at its deadline without a
reload, a snoozed conversation comes back with its marker, and a fired reminder lights
up the notification bell."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from inbox import automation, conversations, reminders, team
from inbox.db import utcnow
from inbox.models import Conversation

from .. import factories
from .helpers import assert_same_page, log_in, mark_page

pytestmark = pytest.mark.browser


@pytest.fixture
def conversation(email_channel):
    message = factories.receive(
        email_channel, address="minji@example.com", name="Minji Park", minutes_ago=3,
        subject="Quote for 40 seats", text="Could you send a quote for 40 seats?",
    )  # fmt: skip
    return message.conversation


def test_the_waiting_badge_turns_red_at_the_deadline(page, user, conversation):
    team.put("sla_rules", [{"lead_status": None, "channel": "email", "minutes": 1}])
    log_in(page, user)
    # 54 s of a 1-minute target: due soon now, breached in about 6 s.
    since = utcnow() - dt.timedelta(seconds=54)
    Conversation.update(waiting_since=since).where(Conversation.id == conversation.id).execute()
    page.goto("/inbox")
    badge = page.locator(f"#conversation-{conversation.id} .waiting-timer")
    expect(badge).to_have_attribute("data-state", "due_soon")
    expect(badge).to_have_class(re.compile(r"\bsla-soon\b"))
    expect(badge).to_have_text("waiting 0 min")
    mark_page(page)

    # The page ticks every 30 s; "timers:tick" asks for a tick now, as often as the wait needs.
    page.wait_for_function(
        """id => {
            document.dispatchEvent(new Event("timers:tick"));
            const el = document.querySelector(`#conversation-${id} .waiting-timer`);
            return el && el.dataset.state === "breached";
        }""",
        arg=conversation.id,
        polling=500,
        timeout=15000,
    )
    expect(badge).to_have_class(re.compile(r"\bsla-breached\b"))
    expect(badge).not_to_have_class(re.compile(r"\bsla-soon\b"))
    expect(badge).to_have_text("waiting 1 min")
    assert_same_page(page)

    # The header of the conversation says the same, and the filter finds it.
    page.goto(f"/c/{conversation.id}")
    expect(page.locator("#conversation-header .waiting-timer")).to_have_attribute("data-state", "breached")
    page.goto("/inbox")
    page.locator("#filter-breached").check()
    expect(page).to_have_url(re.compile(r"breached=1"))
    expect(page.locator("#rows li.row")).to_have_count(1)
    expect(page.locator(".list-caption")).to_have_text("Open conversations past their reply target")


def test_a_snoozed_conversation_comes_back_with_its_marker(page, user, conversation):
    log_in(page, user)
    page.goto(f"/c/{conversation.id}")
    page.locator("#snooze-button").click()
    page.locator("#snooze-1h").click()
    expect(page.locator("#conversation-state")).to_have_text(re.compile(r"^Snoozed · "))

    page.locator("a.back").click()
    row = page.locator(f"#conversation-{conversation.id}")
    expect(row).to_have_count(0)
    mark_page(page)

    Conversation.update(snoozed_until=utcnow() - dt.timedelta(seconds=1)).where(
        Conversation.id == conversation.id
    ).execute()
    assert conversations.wake_due() == 1

    # The inbox poller (every 5 s) brings the row back, marked.
    expect(row).to_be_visible(timeout=12000)
    expect(row.locator(".badge.woke")).to_have_text("Snooze ended")
    assert_same_page(page)


def test_a_reminder_lights_up_the_bell(page, user, conversation):
    log_in(page, user)
    page.goto(f"/c/{conversation.id}")
    expect(page.locator("#notification-count")).to_have_count(0)

    page.locator("#remind-button").click()
    page.locator("#remind-note").fill("Send the revised quote")
    with page.expect_response(lambda r: r.url.endswith(f"/c/{conversation.id}/remind")) as answer:
        page.locator("#remind-1h").click()
    assert "Reminder set for" in answer.value.text()  # the header says so (until the next poll redraws it)
    expect(page.locator("#timeline li.event .event-text")).to_have_text(
        [re.compile(r"^Agent Kim set a reminder for .+: Send the revised quote$")]
    )
    mark_page(page)

    followup = reminders.pending_for(user)[0]
    assert automation.sweep_followups(now=followup.due_at + dt.timedelta(seconds=1)) == 1

    # The bell polls every 15 s.
    expect(page.locator("#notification-count")).to_have_text("1", timeout=20000)
    assert_same_page(page)

    page.locator("#notification-link").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    item = page.locator("#notifications li.notification")
    expect(item).to_have_count(1)
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item.locator(".notification-text")).to_have_text("Reminder: Minji Park — Send the revised quote")
    item.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/c/{conversation.id}$"))
    expect(page.locator("#notification-count")).to_have_count(0)

    page.goto("/reminders")
    fired = page.locator("#fired-reminders tr.reminder")
    expect(fired).to_have_count(1)
    fired.get_by_role("button", name="Mark done").click()
    expect(page.locator("#fired-reminders .done-badge")).to_have_text("Done")
