"""ingest(): one write path for every inbound message, idempotent, keeping timers current."""

import datetime as dt

from inbox import outbound
from inbox.db import utcnow
from inbox.ingest import ingest, ingest_many
from inbox.models import Contact, Conversation, Identity, Message

from .factories import inbound, receive


def test_first_message_creates_contact_identity_and_conversation(email_channel):
    msg = receive(email_channel, address="Customer@Example.COM", name="고객님", text="견적 문의")
    contact = Contact.get()
    assert contact.name == "고객님"
    assert Identity.get().value == "customer@example.com"
    conv = Conversation.get()
    assert msg.conversation_id == conv.id and conv.contact_id == contact.id
    assert conv.waiting_since == msg.sent_at
    assert conv.preview.startswith("견적 문의")


def test_same_provider_id_is_stored_once(email_channel):
    data = inbound(email_channel, address="a@example.com", provider_id="<m1@example.com>")
    first = ingest(data)
    second = ingest(data)
    assert first.created and not second.created
    assert second.message.id == first.message.id
    assert Message.select().count() == 1


def test_sms_and_whatsapp_from_one_number_share_one_contact(twilio_channel):
    receive(twilio_channel, address="+821012345678", kind="sms", text="문자")
    receive(twilio_channel, address="whatsapp:+821012345678", kind="whatsapp", text="왓츠앱")
    receive(twilio_channel, address="010-1234-5678", kind="sms", text="국내 형식")
    assert Contact.select().count() == 1
    assert Identity.get().value == "+821012345678"
    conv = Conversation.get()
    assert conv.channels == "sms whatsapp"
    assert Message.select().where(Message.conversation == conv).count() == 3


def test_odd_sender_numbers_are_kept_not_refused(twilio_channel):
    msg = receive(twilio_channel, address="KAKAO-NOTI", kind="sms", text="알림")
    assert msg.address == "KAKAO-NOTI"


def test_waiting_since_is_the_oldest_unanswered_message(email_channel, agent):
    first = receive(email_channel, address="a@example.com", minutes_ago=30)
    receive(email_channel, address="a@example.com", minutes_ago=10)
    conv = Conversation.get()
    assert conv.waiting_since == first.sent_at
    reply = outbound.send(conv, kind="email", text="Answer", author=agent)
    conv = Conversation.get()
    assert conv.waiting_since is None
    assert reply.first_response is True
    assert 30 * 60 - 5 <= reply.response_seconds <= 30 * 60 + 5


def test_auto_reply_does_not_start_the_clock(email_channel):
    receive(email_channel, address="a@example.com", auto_reply=True, text="Out of office")
    assert Conversation.get().waiting_since is None


def test_automatic_message_does_not_stop_the_clock(email_channel):
    receive(email_channel, address="a@example.com")
    conv = Conversation.get()
    outbound.send(conv, kind="email", text="Thanks, we got it", author=None, automatic=True)
    assert Conversation.get().waiting_since is not None


def test_new_message_reopens_a_closed_conversation(email_channel, agent):
    from inbox import conversations

    receive(email_channel, address="a@example.com")
    conv = Conversation.get()
    conversations.close(conv, agent)
    receive(email_channel, address="a@example.com", text="One more question")
    assert Conversation.get().state == "open"


def test_new_message_wakes_a_snoozed_conversation(email_channel, agent):
    from inbox import conversations

    receive(email_channel, address="a@example.com")
    conv = Conversation.get()
    conversations.snooze(conv, agent, utcnow() + dt.timedelta(days=1))
    receive(email_channel, address="a@example.com", text="Any news?")
    conv = Conversation.get()
    assert conv.state == "open" and conv.woke_at is not None


def test_customer_html_is_sanitised_before_storage(email_channel):
    msg = receive(
        email_channel,
        address="a@example.com",
        text="",
        html='<p onclick="steal()">Hi<script>alert(1)</script><a href="javascript:alert(2)">x</a></p>',
    )
    assert "script" not in msg.html and "onclick" not in msg.html and "javascript" not in msg.html
    assert msg.text.startswith("Hi")


def test_a_contact_made_from_old_mail_is_dated_by_the_mail(email_channel):
    """Importing years of mail must not make every sender a lead of the import day."""
    days = 24 * 60
    message = ingest(inbound(email_channel, address="old@example.com", minutes_ago=400 * days)).message
    assert Contact.get_by_id(message.conversation.contact_id).created_at == message.sent_at
    message = ingest(inbound(email_channel, address="ahead@example.com", minutes_ago=-2 * days)).message
    assert Contact.get_by_id(message.conversation.contact_id).created_at <= utcnow() < message.sent_at
    later = inbound(email_channel, address="batch@example.com", minutes_ago=397 * days)
    earlier = inbound(email_channel, address="batch@example.com", minutes_ago=399 * days)
    ingest_many([later, earlier], email_channel)
    contact = Identity.get((Identity.kind == "email") & (Identity.value == "batch@example.com")).contact
    assert contact.created_at == earlier.received_at
