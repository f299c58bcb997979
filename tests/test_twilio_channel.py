"""SMS and WhatsApp through the real twilio library and a local Twilio-compatible server:
signed webhooks, polling, media, status callbacks, opt-outs and the 24-hour window."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

import tasks
from inbox import canned, channel_config, consent, messaging, outbound, settings
from inbox.models import Attachment, AuditEvent, Channel, Contact, Conversation, Message

from .twilio_server import TwilioServer

SMS_NUMBER = "+8215881234"
WA_NUMBER = "+821099990000"
CUSTOMER = "+821012345678"


@pytest.fixture(scope="session")
def twilio_server():
    server = TwilioServer(status_delay=0.02).start()
    yield server
    server.stop()


@pytest.fixture
def twilio(twilio_server, client):
    """The server, reset, with its webhooks and status callbacks posted to the app
    (through Flask's test client, at the public URL the app believes it has)."""
    twilio_server.reset()

    def transport(url, params, headers):
        return client.post(urlsplit(url).path, data=params, headers=headers)

    twilio_server.transport = transport
    yield twilio_server
    twilio_server.wait_idle()


@pytest.fixture
def channel(twilio):
    return channel_config.add_twilio_channel(
        "Twilio",
        {
            "account_sid": twilio.account_sid, "auth_token": twilio.auth_token, "sms_from": SMS_NUMBER,
            "whatsapp_from": WA_NUMBER, "api_base_url": twilio.base_url,
        },
    )  # fmt: skip


def hook(channel, kind="inbound") -> str:
    return f"{settings.get('base_url').rstrip('/')}/webhooks/twilio/{channel.id}/{kind}"


def test_sms_webhook_is_signed_stored_and_answered_with_empty_twiml(twilio, channel):
    sent = twilio.inbound(CUSTOMER, SMS_NUMBER, "배송 언제 되나요?", url=hook(channel))
    assert sent.response.status_code == 200
    assert sent.response.get_data(as_text=True).endswith("<Response />")
    message = Message.get()
    assert (message.channel_kind, message.text, message.provider_id) == ("sms", "배송 언제 되나요?", sent.sid)
    assert Contact.get().identities.get().value == CUSTOMER


def test_forged_unsigned_and_oversized_webhooks_are_refused_and_store_nothing(twilio, channel, client):
    forged = twilio.inbound(CUSTOMER, SMS_NUMBER, "hi", url=hook(channel), forge_signature=True)
    assert forged.response.status_code == 403
    unsigned = client.post(urlsplit(hook(channel)).path, data={"MessageSid": "SM1", "From": CUSTOMER, "Body": "x"})
    assert unsigned.status_code == 403
    big = {"MessageSid": "SM2", "From": CUSTOMER, "Body": "x" * (10 * 1024 * 1024)}
    response = client.post(
        urlsplit(hook(channel)).path, data=big, headers={"X-Twilio-Signature": twilio.sign(hook(channel), big)}
    )
    assert response.status_code == 413
    assert Message.select().count() == 0


def test_a_signed_webhook_with_a_missing_field_is_a_clear_400(twilio, channel):
    response = twilio.post_webhook(hook(channel), {"MessageSid": "SM3", "Body": "no sender"})
    assert response.status_code == 400
    assert "From is missing" in response.get_data(as_text=True)


def test_duplicate_webhook_delivery_and_a_poll_store_the_message_once(twilio, channel):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "once please", url=hook(channel), twice=True)
    result = messaging.poll(channel.id)
    assert result.error is None and result.stored == 0
    assert Message.select().count() == 1


def test_polling_backfills_what_no_webhook_delivered(twilio, channel):
    for i in range(3):
        twilio.inbound(CUSTOMER, SMS_NUMBER, f"missed {i}")
    twilio.inbound("+821055556666", WA_NUMBER, "via whatsapp", whatsapp=True, profile_name="Jiho")
    result = messaging.poll(channel.id)
    assert result.error is None and result.stored == 4
    assert messaging.poll(channel.id).stored == 0
    # The Messages API carries no WhatsApp profile name (only webhooks do).
    wa = Message.get(Message.channel_kind == "whatsapp")
    assert wa.address == "+821055556666" and wa.text == "via whatsapp"


def test_mms_with_two_media_are_downloaded_with_the_account_credentials(twilio, channel):
    twilio.inbound(
        CUSTOMER, SMS_NUMBER, "사진 보냅니다", media=[("image/jpeg", b"\xff\xd8jpeg"), ("application/pdf", b"%PDF-1")],
        url=hook(channel),
    )  # fmt: skip
    files = list(Attachment.select().order_by(Attachment.id))
    assert [(f.content_type, bytes(f.data)) for f in files] == [
        ("image/jpeg", b"\xff\xd8jpeg"),
        ("application/pdf", b"%PDF-1"),
    ]


def test_media_over_the_size_limit_is_recorded_not_dropped(twilio, channel):
    Channel.update(settings={**channel.settings, "media_max_bytes": 1000}).where(Channel.id == channel.id).execute()
    twilio.inbound(CUSTOMER, SMS_NUMBER, "", media=[("video/mp4", b"v" * 5000)], url=hook(channel))
    (att,) = Attachment.select()
    assert att.data is None and "larger than" in att.note and att.size >= 5000


def test_whatsapp_text_image_location_and_button_reply_land_in_one_thread(twilio, channel):
    twilio.inbound(CUSTOMER, WA_NUMBER, "안녕하세요", whatsapp=True, profile_name="최우진", url=hook(channel))
    twilio.inbound(CUSTOMER, WA_NUMBER, "", whatsapp=True, media=[("image/png", b"\x89PNG")], url=hook(channel))
    twilio.inbound(CUSTOMER, WA_NUMBER, "", whatsapp=True, latitude=37.5665, longitude=126.978, label="Seoul City Hall",
                   url=hook(channel))  # fmt: skip
    twilio.inbound(CUSTOMER, WA_NUMBER, "", whatsapp=True, button_text="Confirm", button_payload="confirm-1",
                   url=hook(channel))  # fmt: skip
    # The same person texting by SMS joins the same thread.
    twilio.inbound(CUSTOMER, SMS_NUMBER, "SMS도 보냅니다", url=hook(channel))
    assert Conversation.select().count() == 1
    contact = Contact.get()
    assert contact.name == "최우진"
    texts = [m.text for m in Message.select().order_by(Message.id)]
    assert "Seoul City Hall" in texts[2] and texts[3] == "Confirm"
    assert Conversation.get().channels == "sms whatsapp"
    assert contact.whatsapp_opt_in_at is not None  # the customer wrote first


def test_stop_blocks_sms_and_start_lifts_it(twilio, channel, agent):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "hello", url=hook(channel))
    twilio.inbound(CUSTOMER, SMS_NUMBER, "STOP", url=hook(channel))
    conv = Conversation.get()
    assert Contact.get().sms_opted_out_at is not None
    with pytest.raises(outbound.SendError, match="opted out"):
        outbound.send(conv, kind="sms", text="Still there?", author=agent)
    assert AuditEvent.select().where(AuditEvent.action == "opted_out").exists()
    twilio.inbound(CUSTOMER, SMS_NUMBER, "START", url=hook(channel))
    assert Contact.get().sms_opted_out_at is None
    reply = outbound.send(conv, kind="sms", text="Welcome back", author=agent)
    tasks.deliver(reply.id)
    assert Message.get_by_id(reply.id).status in ("sent", "delivered")


def test_error_21610_marks_the_contact_opted_out(twilio, channel, agent):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "hello", url=hook(channel))
    twilio.opt_out(CUSTOMER)  # opted out at Twilio, but we never saw the STOP
    reply = outbound.send(Conversation.get(), kind="sms", text="Offer", author=agent)
    tasks.deliver(reply.id)
    failed = Message.get_by_id(reply.id)
    assert failed.status == "failed" and "opted out" in failed.error and "21610" in failed.error
    assert Contact.get().sms_opted_out_at is not None


def test_sms_reply_goes_through_twilio_and_status_moves_to_delivered(twilio, channel, agent):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "price?", url=hook(channel))
    reply = outbound.send(Conversation.get(), kind="sms", text="10,000원입니다", author=agent)
    tasks.deliver(reply.id)
    sid = Message.get_by_id(reply.id).provider_id
    (create,) = twilio.creates()
    assert create.form["To"] == CUSTOMER and create.form["From"] == SMS_NUMBER
    assert create.form["StatusCallback"] == hook(channel, "status")
    twilio.wait_idle()
    assert Message.get_by_id(reply.id).status == "delivered"
    assert twilio.message(sid)["status"] == "delivered"


def test_out_of_order_status_callbacks_never_move_a_status_backwards(twilio, channel, agent):
    twilio.inbound(CUSTOMER, WA_NUMBER, "hi", whatsapp=True, url=hook(channel))
    twilio.out_of_order = True
    try:
        reply = outbound.send(Conversation.get(), kind="whatsapp", text="hello!", author=agent)
        tasks.deliver(reply.id)
        twilio.wait_idle()
    finally:
        twilio.out_of_order = False
    statuses = [c.params["MessageStatus"] for c in twilio.callbacks()]
    assert statuses.index("delivered") < statuses.index("sent")  # really out of order
    assert Message.get_by_id(reply.id).status == "read"


def test_transient_api_errors_are_retried_and_permanent_ones_fail_with_an_explanation(twilio, channel, agent):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "hi", url=hook(channel))
    conv = Conversation.get()
    for status, code in ((429, 20429), (500, 20500)):
        twilio.fail_next_creates(1, status=status, code=code)
        reply = outbound.send(conv, kind="sms", text="retry me", author=agent)
        with pytest.raises(Exception):  # noqa: B017 - the task raises so Huey retries it
            outbound.deliver(reply.id)
        assert Message.get_by_id(reply.id).status == "queued"
        assert outbound.deliver(reply.id) == "sent"
    twilio.fail_next_creates(1, status=400, code=21211)
    bad = outbound.send(conv, kind="sms", text="bad", author=agent)
    assert outbound.deliver(bad.id) == "failed"
    assert "not valid" in Message.get_by_id(bad.id).error


def test_whatsapp_window_free_text_refused_after_24h_template_allowed_and_window_reopens(twilio, channel, agent):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    twilio.inbound(CUSTOMER, WA_NUMBER, "yesterday's question", whatsapp=True, date_sent=old)
    messaging.poll(channel.id)
    conv = Conversation.get()
    assert consent.window_left(conv.id) is None
    with pytest.raises(outbound.SendError, match="24-hour window"):
        outbound.send(conv, kind="whatsapp", text="free text", author=agent)
    content_sid = twilio.register_content(variables={"1": "name", "2": "topic"}, body="Hi {{1}}, about {{2}}")
    template = canned.save(None, agent, name="Follow-up", shortcut="wa-follow", body="Hi {{ contact.first_name }}",
                           channels="whatsapp")  # fmt: skip
    template.content_sid = content_sid
    template.content_variables = {"1": "{{ contact.first_name }}", "2": "{{ last_topic }}"}
    template.save()
    Contact.update(name="Woojin Choi").execute()
    reply = outbound.send(conv, kind="whatsapp", text="", author=agent, template=template)
    tasks.deliver(reply.id)
    (create,) = twilio.creates()
    assert create.form["ContentSid"] == content_sid
    assert create.form.get("Body") is None
    assert create.form["ContentVariables"] == '{"1": "Woojin", "2": "yesterday\'s question"}'
    twilio.wait_idle()
    assert Message.get_by_id(reply.id).status == "read"
    # The customer writes again: the window is open and free text works.
    twilio.inbound(CUSTOMER, WA_NUMBER, "thanks!", whatsapp=True, url=hook(channel))
    assert consent.window_left(conv.id) > dt.timedelta(hours=23)
    free = outbound.send(conv, kind="whatsapp", text="you're welcome", author=agent)
    tasks.deliver(free.id)
    assert Message.get_by_id(free.id).status in ("sent", "delivered", "read")


def test_63016_from_twilio_is_explained(twilio, channel, agent):
    # Our window check passed (recent message), but Twilio's view differs: it reports 63016.
    twilio.inbound(CUSTOMER, WA_NUMBER, "hi", whatsapp=True, url=hook(channel))
    twilio.script_next_deliveries(["queued", "failed"], error_code=63016)
    reply = outbound.send(Conversation.get(), kind="whatsapp", text="late answer", author=agent)
    tasks.deliver(reply.id)
    twilio.wait_idle()
    failed = Message.get_by_id(reply.id)
    assert failed.status == "failed" and "24-hour window" in failed.error and "63016" in failed.error


def test_whatsapp_needs_a_recorded_opt_in_before_we_write_first(channel, agent):
    from inbox import contacts

    contact = contacts.create(agent, name="Cold Lead", phones=["010-2222-3333"])
    conv = Conversation.get(Conversation.contact == contact)
    with pytest.raises(outbound.SendError, match="opt-in"):
        outbound.send(conv, kind="whatsapp", text="Hello!", author=agent)
    consent.set_whatsapp_consent(contact, True, agent, reason="signed the form")
    assert AuditEvent.select().where(AuditEvent.action == "whatsapp_consent_given").exists()


def test_status_callback_for_an_unknown_message_is_ignored(twilio, channel):
    response = twilio.post_webhook(hook(channel, "status"), {"MessageSid": "SMunknown", "MessageStatus": "delivered"})
    assert response.status_code == 200
