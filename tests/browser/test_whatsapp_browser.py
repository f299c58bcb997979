"""WhatsApp in a real browser, against the local Twilio-compatible server: an agent replies
inside the 24-hour window and watches the delivery status change live (from Twilio's
signed status callbacks); outside the window only an approved template can be sent.
Also: an admin connects the Twilio account in Settings › Channels."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from playwright.sync_api import expect

from inbox import canned, channel_config, contacts, messaging, settings
from inbox.models import Channel, Conversation, Message

from .. import factories
from ..twilio_server import TwilioServer
from .helpers import assert_same_page, log_in, mark_page

pytestmark = pytest.mark.browser

WA_NUMBER = "+821099990000"
SMS_NUMBER = "+8215881234"
RECENT = "+821012345678"  # wrote ten minutes ago
LAPSED = "+821055556666"  # last wrote 30 hours ago
TEMPLATE_TEXT = "Hi Jiho, here is the brochure you asked for."


@pytest.fixture(scope="module")
def twilio_server():
    # Slow enough for each status callback to arrive after the reply request stored its SID.
    server = TwilioServer(status_delay=0.3).start()
    yield server
    server.stop()


@pytest.fixture
def twilio(twilio_server, live_server):
    """The server, reset. Its webhooks and status callbacks are signed for the public URL
    the app believes it has (INBOX_BASE_URL, http://127.0.0.1:8000 in tests) and posted to
    the live server the browser uses. The "read" callback waits for ``read_gate``, so the
    page can be seen at "delivered" first."""
    twilio_server.reset()
    live = urlsplit(live_server)
    read_gate = threading.Event()

    def transport(url, params, headers):
        if params.get("MessageStatus") == "read":
            read_gate.wait(30)
        parts = urlsplit(url)
        target = urlunsplit((live.scheme, live.netloc, parts.path, parts.query, ""))
        return requests.post(target, data=params, headers=headers, timeout=10, allow_redirects=False)

    twilio_server.transport = transport
    twilio_server.read_gate = read_gate
    yield twilio_server
    read_gate.set()
    twilio_server.wait_idle(timeout=30)


@pytest.fixture
def channel(twilio):
    return channel_config.add_twilio_channel(
        "Twilio",
        {
            "account_sid": twilio.account_sid, "auth_token": twilio.auth_token, "sms_from": SMS_NUMBER,
            "whatsapp_from": WA_NUMBER, "api_base_url": twilio.base_url,
        },
    )  # fmt: skip


def hook(channel: Channel) -> str:
    return f"{settings.get('base_url').rstrip('/')}/webhooks/twilio/{channel.id}/inbound"


@pytest.fixture
def conversations_(twilio, channel, user):
    """One customer who wrote on WhatsApp ten minutes ago (a signed webhook to the live
    server) and one whose last WhatsApp message is 30 hours old (found by polling)."""
    sent = twilio.inbound(
        RECENT, WA_NUMBER, "Do you ship to Busan?", whatsapp=True, profile_name="Minji Park", url=hook(channel),
        date_sent=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
    )  # fmt: skip
    assert sent.response is not None and sent.response.status_code == 200, twilio.webhooks[-1]
    recent = Conversation.get_by_id(Message.get(Message.provider_id == sent.sid).conversation_id)
    lapsed_contact = contacts.create(user, name="Jiho Lee", phones=["010-5555-6666"])
    twilio.inbound(
        LAPSED, WA_NUMBER, "Can you send the brochure?", whatsapp=True,
        date_sent=dt.datetime.now(dt.UTC) - dt.timedelta(hours=30),
    )  # fmt: skip
    assert messaging.poll(channel.id).stored == 1
    lapsed = Conversation.get(Conversation.contact == lapsed_contact)
    assert Message.get(Message.conversation == lapsed).text == "Can you send the brochure?"
    return recent, lapsed


@pytest.fixture
def templates(twilio, user):
    content_sid = twilio.register_content(
        variables={"1": "there"}, body="Hi {{1}}, here is the brochure you asked for.", friendly_name="brochure"
    )
    approved = canned.save(
        None, user, name="Brochure follow-up", shortcut="brochure", channels="whatsapp",
        body="Hi {{ contact.first_name }}, here is the brochure you asked for.",
        content_sid=content_sid, content_variables="1 = {{ contact.first_name }}",
    )  # fmt: skip
    canned.save(
        None, user, name="Brochure link", shortcut="brochure-link", body="Our brochure: example.com", channels=""
    )
    return approved


def search_templates(page, query: str) -> None:
    """Type in the template search and wait for the picker's answer to that query (the
    focus alone already asks for every template)."""
    with page.expect_response(lambda r: "/templates?" in r.url and f"q={query}" in r.url):
        page.locator("#template-search").fill(query)


def test_whatsapp_reply_status_goes_live_and_a_closed_window_takes_only_templates(
    page, user, twilio, channel, conversations_, templates, artifacts
):
    recent, lapsed = conversations_

    # 1. Inside the window: free text, then delivered and read without reloading.
    log_in(page, user)
    page.goto(f"/c/{recent.id}")
    expect(page.locator("#conversation-header h1")).to_have_text("Minji Park")
    mark_page(page)
    expect(page.locator("#reply-kind")).to_have_value("whatsapp")
    expect(page.locator("#wa-window")).to_have_attribute("data-open", "yes")
    textarea = page.locator("#reply-text")
    expect(textarea).to_be_editable()
    # inside the window the picker offers every WhatsApp template
    search_templates(page, "brochure")
    expect(page.locator("#template-picker .insert-template")).to_have_count(2)
    page.locator("#template-search").fill("")
    textarea.fill("Yes, we ship to Busan in two days.")
    page.locator("#send-button").click()

    sent = page.locator("#timeline li.msg.dir-out")
    expect(sent).to_have_count(1)
    expect(sent.locator(".body")).to_have_text("Yes, we ship to Busan in two days.")
    expect(textarea).to_have_value("")
    status = sent.locator(".status")
    expect(status).to_have_attribute("data-status", "delivered", timeout=10000)
    expect(status).to_have_text("Delivered")
    page.screenshot(path=str(artifacts / "whatsapp-delivered.png"), full_page=True)
    twilio.read_gate.set()  # the customer opens it
    expect(status).to_have_attribute("data-status", "read", timeout=10000)
    expect(status).to_have_text("Read")
    assert_same_page(page)
    (create,) = twilio.creates()
    assert create.form["To"] == f"whatsapp:{RECENT}" and create.form["From"] == f"whatsapp:{WA_NUMBER}"
    assert create.form["Body"] == "Yes, we ship to Busan in two days." and "ContentSid" not in create.form
    assert [c.status_code for c in twilio.callbacks()] == [200] * len(twilio.callbacks())

    # 2. Outside the window: the textarea is read-only and only the approved template is offered.
    page.goto(f"/c/{lapsed.id}")
    expect(page.locator("#conversation-header h1")).to_have_text("Jiho Lee")
    mark_page(page)
    expect(page.locator("#reply-kind")).to_have_value("whatsapp")
    window = page.locator("#wa-window")
    expect(window).to_have_attribute("data-open", "no")
    expect(window).to_contain_text("WhatsApp window closed")
    expect(textarea).not_to_be_editable()
    search_templates(page, "brochure")
    offered = page.locator("#template-picker .insert-template")
    expect(offered).to_have_count(1)
    expect(offered).to_contain_text("Brochure follow-up")
    expect(offered).to_contain_text("approved WhatsApp template")
    page.locator("#insert-template-brochure").click()
    expect(textarea).to_have_value(TEMPLATE_TEXT)
    expect(page.locator("#template-id")).to_have_value(str(templates.id))
    expect(page.locator("#template-picker")).to_be_empty()
    expect(textarea).not_to_be_editable()
    page.screenshot(path=str(artifacts / "whatsapp-template.png"), full_page=True)
    page.locator("#send-button").click()

    sent = page.locator("#timeline li.msg.dir-out")
    expect(sent).to_have_count(1)
    expect(sent.locator(".body")).to_have_text(TEMPLATE_TEXT)
    expect(page.locator("#composer-error")).to_have_count(0)
    expect(sent.locator(".status")).to_have_attribute("data-status", "read", timeout=10000)
    expect(textarea).not_to_be_editable()  # the window is still closed
    assert_same_page(page)
    create = twilio.creates()[-1]
    assert create.form["ContentSid"] == templates.content_sid
    assert json.loads(create.form["ContentVariables"]) == {"1": "Jiho"}
    assert create.form.get("Body") is None and create.form["To"] == f"whatsapp:{LAPSED}"
    message = Message.get((Message.conversation == lapsed) & (Message.direction == "out"))
    assert message.meta["content_sid"] == templates.content_sid and message.status == "read"


def test_admin_connects_twilio_tests_it_and_polls_now(page, twilio, artifacts):
    admin = factories.make_user("admin", "Admin Park", "admin@example.com", locale="en", timezone="Asia/Seoul")
    twilio.inbound(RECENT, SMS_NUMBER, "Hello from SMS")  # at Twilio only: no webhook is set up yet
    log_in(page, admin)
    page.goto("/settings/channels")
    page.locator("#connect-twilio").click()
    expect(page.locator("h1")).to_have_text("Connect Twilio")
    page.locator("#field-name").fill("Sales SMS")
    page.locator("#field-account_sid").fill(twilio.account_sid)
    page.locator("#field-auth_token").fill("not the token")
    page.locator("#field-sms_from").fill("1588-1234")
    page.locator("#field-whatsapp_from").fill("010-9999-0000")
    page.locator("#field-api_base_url").fill(twilio.base_url)
    page.locator("#save-channel").click()

    channel = Channel.get(Channel.name == "Sales SMS")
    expect(page).to_have_url(re.compile(rf"/settings/channels/{channel.id}$"))
    expect(page.locator(".flash")).to_contain_text("Sales SMS is connected.")
    expect(page.locator("#webhook-inbound")).to_have_value(
        f"http://127.0.0.1:8000/webhooks/twilio/{channel.id}/inbound"
    )
    expect(page.locator("#webhook-status")).to_have_value(f"http://127.0.0.1:8000/webhooks/twilio/{channel.id}/status")
    expect(page.locator("#state-auth_token")).to_contain_text("Stored: set.")
    mark_page(page)

    # A wrong token: the test says what failed, in place.
    page.locator("button.test-connection").click()
    result = page.locator(f"#test-result-{channel.id}")
    expect(result).to_contain_text("Connection test: something failed.")
    expect(result.locator(".step-failed")).to_contain_text("Twilio refused the account SID / auth token (or API key).")
    assert_same_page(page)

    # The right token: saved (the page reloads), then the test passes and Poll now fetches.
    page.locator("#field-auth_token").fill(twilio.auth_token)
    page.locator("#save-channel").click()
    expect(page.locator(".flash")).to_have_text("Saved.")
    mark_page(page)
    page.locator("button.test-connection").click()
    expect(result).to_contain_text("Connection test: everything works.")
    expect(result.locator(".step-ok")).to_contain_text("account Test account")
    status = page.locator(f"#channel-status-{channel.id}")
    expect(status.locator(".last-poll")).to_have_text("Never")
    page.locator("button.poll-now").click()
    expect(status.locator(".last-poll time")).to_be_visible()
    expect(status.locator(".error-count")).to_have_text("0")
    assert_same_page(page)
    page.screenshot(path=str(artifacts / "twilio-settings.png"), full_page=True)
    assert twilio.auth_token not in page.content()
    assert Message.get().text == "Hello from SMS"
