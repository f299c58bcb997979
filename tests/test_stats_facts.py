"""The statistics facts kept with conversations and outbound messages stay equal to what
their definitions give from the messages, through every way a message is written:
ingest one by one and in a batch, out-of-order mail, automatic and human replies, a
reply that fails and is retried, notes, auto-replies, another channel, and a merge."""

from __future__ import annotations

import datetime as dt

import pytest

from inbox import contacts, conversations, outbound
from inbox.ingest import InboundMessage, ingest_many
from inbox.models import Contact, Conversation, Message
from inbox.stats import facts

from .factories import make_channel, make_user
from .stats_data import HOUR, MINUTE, conversation_of, customer_writes, fails, local, we_send
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes

T0 = local("2026-03-02", "09:00")


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=minutes * MINUTE)


def expected(conversation_id: int) -> tuple[dict, dict]:
    """The facts of a conversation and of its outbound messages (our previous message on
    the channel, the customer's reply there), from the definitions."""
    messages = list(Message.select().where(Message.conversation == conversation_id))
    customer = [m for m in messages if m.direction == "in" and not m.auto_reply]
    ours = [m for m in messages if m.direction == "out" and m.status != "failed"]

    def first(items):
        return min((m.sent_at for m in items), default=None)

    first_out = first(ours)
    first_reply = first(m for m in customer if first_out is not None and m.sent_at > first_out)
    conversation = {
        "first_message_at": first(m for m in messages if m.direction != "note"),
        "first_human_reply_at": first(m for m in ours if not m.automatic and m.author_id is not None),
        "first_outbound_at": first_out,
        "first_customer_reply_at": first_reply,
        "touches_before_reply": sum(m.sent_at < first_reply for m in ours) if first_reply else 0,
    }
    replies = {
        m.id: (
            max((o.sent_at for o in ours if o.channel_kind == m.channel_kind and o.sent_at < m.sent_at), default=None),
            first(c for c in customer if c.channel_kind == m.channel_kind and c.sent_at > m.sent_at),
        )
        for m in messages
        if m.direction == "out"
    }
    return conversation, replies


def stored(conversation_id: int) -> tuple[dict, dict]:
    conv = Conversation.get_by_id(conversation_id)
    conversation = {name: getattr(conv, name) for name in expected(conversation_id)[0]}
    replies = {
        m.id: (m.previous_outbound_at, m.customer_reply_at)
        for m in Message.select().where((Message.conversation == conversation_id) & (Message.direction == "out"))
    }
    return conversation, replies


def check(conversation_id: int) -> tuple[dict, dict]:
    want = expected(conversation_id)
    assert stored(conversation_id) == want
    return want


@pytest.fixture
def team():
    return make_user("agent", "Agent Kim"), make_user("manager", "Manager Park")


def test_facts_follow_every_kind_of_message(team):
    kim, boss = team
    mail = make_channel("email")
    phone = make_channel("twilio")
    address = "+821055550001"
    first = customer_writes(phone, at(0), address, kind="sms")
    cid = first.conversation_id
    conv, replies = check(cid)
    assert conv["first_message_at"] == at(0) and conv["first_outbound_at"] is None

    ack = we_send(cid, None, at(1), "sms", automatic=True)
    conv, replies = check(cid)
    assert conv["first_outbound_at"] == at(1) and conv["first_human_reply_at"] is None
    assert replies[ack.id] == (None, None)

    # An auto-reply and a note are no answer and no message of the lead.
    customer_writes(phone, at(2), address, kind="sms", auto_reply=True)
    conversations.add_note(conversation_of(first), kim, "Called, no answer.")
    conv, replies = check(cid)
    assert conv["first_customer_reply_at"] is None

    # Kim's reply fails: it is not our first human reply; the retry puts it back.
    failed = we_send(cid, kim, at(10), "sms")
    fails(failed)
    conv, _ = check(cid)
    assert conv["first_human_reply_at"] is None
    assert outbound.retry(Message.get_by_id(failed.id))
    conv, _ = check(cid)
    assert conv["first_human_reply_at"] == at(10)
    fails(Message.get_by_id(failed.id))
    second = we_send(cid, kim, at(20), "sms")
    conv, replies = check(cid)
    assert conv["first_human_reply_at"] == at(20)
    assert replies[second.id][0] == at(1)  # our message before it: the acknowledgement, not the failed one

    # The customer answers on WhatsApp: a reply to the conversation, not to our SMS.
    customer_writes(phone, at(30), address, kind="whatsapp")
    conv, replies = check(cid)
    assert conv["first_customer_reply_at"] == at(30)
    assert conv["touches_before_reply"] == 2  # the acknowledgement and the reply that went
    assert replies[ack.id] == (None, None)

    # Then on SMS; later an earlier SMS turns up (a delayed delivery report of the network).
    customer_writes(phone, at(50), address, kind="sms")
    conv, replies = check(cid)
    assert replies[ack.id] == (None, at(50))
    customer_writes(phone, at(15), address, kind="sms")
    conv, replies = check(cid)
    assert replies[ack.id] == (None, at(15)) and conv["first_customer_reply_at"] == at(15)
    assert conv["touches_before_reply"] == 1

    # A backdated message of ours before everything moves the first message of the lead.
    we_send(cid, boss, at(-30), "sms")
    conv, _ = check(cid)
    assert conv["first_message_at"] == at(-30) and conv["first_outbound_at"] == at(-30)
    assert conv["first_customer_reply_at"] == at(0)

    # An email contact merged into this one brings its messages along.
    other = customer_writes(mail, at(-60), "kim.customer@example.com")
    reply = we_send(other.conversation_id, kim, at(-50), "email")
    customer_writes(mail, at(5), "kim.customer@example.com")
    keep = Contact.get_by_id(conversation_of(first).contact_id)
    contacts.merge(keep, Contact.get_by_id(conversation_of(other).contact_id), boss)
    conv, replies = check(cid)
    assert conv["first_message_at"] == at(-60) and conv["first_outbound_at"] == at(-50)
    assert conv["first_customer_reply_at"] == at(0)
    assert replies[reply.id] == (None, at(5))


def test_a_batch_of_mail_keeps_the_facts_as_one_by_one(team):
    kim, _ = team
    mail = make_channel("email")
    first = customer_writes(mail, at(0), "batch@example.com")
    sent = we_send(first.conversation_id, kim, at(10))
    inbounds = [
        InboundMessage(
            channel_id=mail.id,
            kind="email",
            provider_id=f"batch-{i}",
            address=address,
            text="Hi",
            received_at=at(minutes),
        )  # fmt: skip
        for i, (address, minutes) in enumerate(
            [
                ("batch@example.com", 40),
                ("batch@example.com", 20),
                ("new@example.com", 5),
            ]
        )  # fmt: skip
    ]
    assert ingest_many(inbounds, mail).stored == 3
    conv, replies = check(first.conversation_id)
    assert conv["first_customer_reply_at"] == at(20) and replies[sent.id] == (None, at(20))
    new = Message.get(Message.provider_id == "batch-2")
    conv, _ = check(new.conversation_id)
    assert conv["first_message_at"] == at(5) and conv["first_outbound_at"] is None


def test_refresh_all_computes_the_facts_of_data_written_without_them(team):
    kim, _ = team
    mail = make_channel("email")
    ids = []
    for n in range(3):
        m = customer_writes(mail, at(n), f"old{n}@example.com")
        we_send(m.conversation_id, kim, at(n + 60))
        customer_writes(mail, at(n + 2 * HOUR // MINUTE), f"old{n}@example.com")
        ids.append(m.conversation_id)
    want = [expected(cid) for cid in ids]
    Conversation.update(
        first_message_at=None, first_human_reply_at=None, first_outbound_at=None, first_customer_reply_at=None,
        touches_before_reply=0,
    ).execute()  # fmt: skip
    Message.update(customer_reply_at=None).execute()
    assert [stored(cid) for cid in ids] != want
    assert facts.refresh_all(batch=2) == 3
    assert [stored(cid) for cid in ids] == want
