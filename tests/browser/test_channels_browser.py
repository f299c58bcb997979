"""Settings > Channels in a real browser: an admin connects a Dovecot mailbox, tests it,
syncs it and watches the progress and health change without reloading the page."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

import tasks
from inbox.channels import email as email_adapter
from inbox.models import Channel, Conversation, Message

from .. import factories
from ..test_email_channel import dovecot, mail, mailbox, smtp  # noqa: F401  (real Dovecot + SMTP sink)
from .helpers import assert_same_page, log_in, mark_page

pytestmark = pytest.mark.browser

MESSAGES = 300
CUSTOMERS = 30


@pytest.fixture
def admin_user():
    return factories.make_user("admin", "Admin Park", "admin@example.com", locale="en", timezone="Asia/Seoul")


@pytest.fixture
def gated_sync(monkeypatch):
    """Make the sync pause once its first batch is stored (and its progress saved) until
    the test lets it go on, so the page can be seen showing the progress. Small batches,
    so there is more than one."""
    monkeypatch.setattr(email_adapter, "FETCH_BATCH", 100)
    paused, go_on = threading.Event(), threading.Event()
    real_fetch_batches = email_adapter.fetch_batches

    def fetch_batches(*args, **kwargs):
        for number, batch in enumerate(real_fetch_batches(*args, **kwargs)):
            if number == 1:  # asked for the next batch: the first one is done
                paused.set()
                go_on.wait(60)
            yield batch

    monkeypatch.setattr(email_adapter, "fetch_batches", fetch_batches)
    yield paused, go_on
    go_on.set()


def test_connect_sync_live_and_see_the_mail(page, admin_user, mailbox, dovecot, smtp, gated_sync, artifacts):  # noqa: F811
    """An admin connects a mailbox of 300 messages, tests it, syncs it and watches the
    progress and health without reloading; then the mail is in the inbox."""
    paused, go_on = gated_sync
    for i in range(MESSAGES):
        customer = i % CUSTOMERS
        mailbox.append(
            "INBOX", mail(sender=f"lead{customer}@example.kr", subject=f"Quote request {i}", body=f"Message number {i}")
        )

    log_in(page, admin_user)
    page.locator("#nav-channels").click()
    expect(page).to_have_url(re.compile(r"/settings/channels$"))
    expect(page.locator("#no-channels")).to_be_visible()

    # Connect a mailbox
    page.locator("#connect-mailbox").click()
    expect(page.locator("h1")).to_have_text("Connect a mailbox")
    page.screenshot(path=str(artifacts / "channels-connect.png"), full_page=True)
    page.locator("#field-name").fill("Sales mailbox")
    page.locator("#field-imap_host").fill("127.0.0.1")
    page.locator("#field-imap_port").fill(str(dovecot.port))
    page.locator("#field-imap_security").select_option("none")
    page.locator("#field-imap_username").fill(mailbox.user)
    page.locator("#field-imap_password").fill("mailbox-secret")
    page.locator("#field-smtp_host").fill("127.0.0.1")
    page.locator("#field-smtp_port").fill(str(smtp.port))
    page.locator("#field-smtp_security").select_option("none")
    page.locator("#field-smtp_username").fill("smtp-user")
    page.locator("#field-smtp_password").fill("smtp-pass")
    page.locator("#field-from_address").fill(mailbox.user)
    page.locator("#field-from_name").fill("Sales Team")
    expect(page.locator("#field-folders")).to_have_value("INBOX")
    page.locator("#save-channel").click()

    expect(page).to_have_url(re.compile(r"/settings/channels$"))
    expect(page.locator(".flash")).to_have_text("Sales mailbox is connected. Test the connection, then sync.")
    channel = Channel.get(Channel.name == "Sales mailbox")
    card = page.locator(f"#channel-{channel.id}")
    status = page.locator(f"#channel-status-{channel.id}")
    expect(card.locator(".channel-state")).to_have_text("Enabled")
    expect(status.locator(".last-poll")).to_have_text("Never")
    assert "mailbox-secret" not in page.content() and "smtp-pass" not in page.content()
    mark_page(page)

    # Test connection: each step with its result, in place
    card.locator("button.test-connection").click()
    steps = card.locator(".test-step")
    expect(steps).to_have_count(3)
    expect(card.locator(".step-ok")).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("IMAP login")
    expect(steps.nth(1)).to_contain_text("Folder INBOX")
    expect(steps.nth(1)).to_contain_text(f"{MESSAGES} messages")
    expect(steps.nth(2)).to_contain_text("SMTP login")
    expect(card.locator(".test-result")).to_contain_text("Connection test: everything works.")

    # Sync now, with a worker taking the task from the queue as in production
    tasks.huey.immediate = False
    tasks.huey.flush()
    worker = None
    try:
        card.locator("button.sync-now").click()
        expect(status.locator(".sync-waiting")).to_have_text(re.compile(r"Sync requested: waiting for it to start"))
        task = tasks.huey.dequeue()
        assert task is not None and task.name.endswith("poll_email_channel")
        worker = threading.Thread(target=tasks.huey.execute, args=(task,), name="test-worker", daemon=True)
        worker.start()
        assert paused.wait(30), "the sync never got past its first batch"

        # The status refreshes itself: done / total, rate and time left
        expect(status.locator(".sync-counts")).to_have_text(
            re.compile(rf"Syncing INBOX: [1-9]\d* / {MESSAGES}"), timeout=10000
        )
        expect(status.locator(".sync-rate")).to_have_text(re.compile(r"messages/s"))
        expect(status.locator(".sync-left")).to_have_text(re.compile(r"about .+ left"))
        expect(status.locator("progress")).to_have_attribute("max", str(MESSAGES))
        page.screenshot(path=str(artifacts / "channels-syncing.png"), full_page=True)
        go_on.set()
        worker.join(60)
        assert not worker.is_alive()
    finally:
        go_on.set()
        if worker is not None:
            worker.join(60)
        tasks.huey.immediate = True

    # ... and once the sync is over it shows the health and stops asking
    expect(status.locator(".sync-progress")).to_have_count(0, timeout=10000)
    expect(status.locator(".last-poll time")).to_have_text(re.compile(r"\d{4}.*\d{1,2}:\d{2}:\d{2}"))
    expect(status.locator(".error-count")).to_have_text("0")
    expect(status.locator(".last-error")).to_have_text("None")
    expect(status).not_to_have_attribute("hx-trigger", re.compile(".+"))
    assert_same_page(page)
    page.screenshot(path=str(artifacts / "channels-synced.png"), full_page=True)

    saved = Channel.get_by_id(channel.id)
    assert saved.last_poll_at is not None and saved.error_count == 0 and "progress" not in saved.cursor
    assert Message.select().count() == MESSAGES
    assert Conversation.select().count() == CUSTOMERS

    # The imported mail is in the inbox
    page.locator(".mainnav a", has_text="Inbox").click()
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(page.locator("#folder-unassigned .count")).to_have_text(str(CUSTOMERS))
    expect(page.locator("#rows li.row")).to_have_count(CUSTOMERS)
    newest = page.locator("#rows li.row").nth(0)
    expect(newest.locator(".preview")).to_contain_text(f"Message number {MESSAGES - 1}")
    newest.locator("a.row-link").click()
    expect(page.locator("#timeline li.msg")).to_have_count(MESSAGES // CUSTOMERS)
    expect(page.locator("#timeline li.msg").last.locator(".subject")).to_have_text(f"Quote request {MESSAGES - 1}")
