"""ingest_many() and the set-based polling.store_batch(): a batch of mail gives exactly the
rows that ingest() / store() give one message at a time, in arrival order."""

from __future__ import annotations

import datetime as dt

import pytest

from inbox import automation, conversations, ingest, polling, reminders, search
from inbox.db import db, utcnow
from inbox.ingest import InboundAttachment, InboundMessage, ingest_many
from inbox.models import (
    Attachment,
    AuditEvent,
    Channel,
    Contact,
    Conversation,
    FollowUp,
    Identity,
    Message,
    MessageSource,
    Notification,
)

from .conftest import _truncate
from .factories import make_channel, make_user

BASE = dt.datetime(2025, 3, 1, 9, 0)


def at(minutes: float) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def mail(channel: Channel, pid: str, address: str, minutes: float, **kw) -> InboundMessage:
    kw.setdefault("text", f"text of {pid}")
    kw.setdefault("subject", f"subject {pid}")
    meta = kw.pop("meta", {})
    meta.setdefault("message_id", f"<{pid}@customer.example>")
    return InboundMessage(
        channel_id=channel.id, kind="email", provider_id=f"<{pid}@customer.example>#{pid}", address=address,
        received_at=at(minutes), raw=f"raw {pid}".encode(), meta=meta, **kw,
    )  # fmt: skip


# --- a mailbox in every state a batch can meet ---------------------------------------------


def prepare() -> tuple[Channel, dict]:
    """Contacts whose conversations are closed, snoozed, answered, nameless, dormant, with
    follow-ups pending; one message already stored; one mail of ours sent."""
    _truncate()
    channel = make_channel("email", name="Mailbox", leads=True)
    agent = make_user("agent", "Agent Kim", "agent@example.com")
    make_user("manager", "Manager Lee", "manager@example.com")

    def known(pid, address, minutes, **kw):
        return ingest.ingest(mail(channel, pid, address, minutes, **kw), channel).message

    closed = known("old-closed", "closed@example.com", -600, name="Closed Customer")
    conversations.close(Conversation.get_by_id(closed.conversation_id), agent)
    snoozed = known("old-snoozed", "snoozed@example.com", -500, name="Snoozed Customer")
    conversations.snooze(Conversation.get_by_id(snoozed.conversation_id), agent, utcnow() + dt.timedelta(days=2))
    answered = known("old-answered", "answered@example.com", -400, name="Answered")
    Conversation.update(waiting_since=None, last_outbound_at=at(-300), first_response_at=at(-300)).where(
        Conversation.id == answered.conversation_id
    ).execute()
    known("old-nameless", "nameless@example.com", -350)
    dormant = known("old-dormant", "dormant@example.com", -300, name="Dormant Lead")
    Contact.update(lead_status="dormant", dormant_since=at(-200)).where(
        Contact.id == Conversation.get_by_id(dormant.conversation_id).contact_id
    ).execute()
    chased = known("old-chased", "chased@example.com", -250, name="Chased")
    auto_only = known("old-auto", "auto@example.com", -240, name="Auto Only")
    for msg in (dormant, chased, auto_only):
        for kind in ("cadence", "reengage", "manual"):
            reminders.schedule(msg.conversation_id, utcnow() + dt.timedelta(days=3), kind=kind)
    fired = reminders.schedule(chased.conversation_id, utcnow() - dt.timedelta(days=1), kind="cadence")
    FollowUp.update(fired_at=utcnow()).where(FollowUp.id == fired.id).execute()  # stays as it is
    ours = Message.create(
        conversation=closed.conversation_id, channel=channel, channel_kind="email", direction="out",
        provider_id="<ours.1@example.com>", address="closed@example.com", text="Our answer", status="sent",
        sent_at=at(-550),
    )  # fmt: skip
    return channel, {"agent": agent, "ours": ours}


def batch(channel: Channel) -> list[InboundMessage]:
    """Mails as a mailbox gives them: new senders, repeat senders, duplicates, auto-replies,
    mail out of time order, HTML only, attachments, odd addresses."""
    return [
        mail(channel, "n1", "New.Person@Example.COM", 1),  # no name yet
        mail(channel, "n2", "new.person@example.com", 2, name="New Person"),  # the name comes later
        mail(channel, "c1", "closed@example.com", 3, auto_reply=True, text="Out of office"),
        mail(channel, "c2", "closed@example.com", 4, name="Someone Else", text="One more question 견적서를"),
        mail(channel, "s1", "snoozed@example.com", 5, text="Any news?"),
        mail(channel, "n2", "new.person@example.com", 2, name="New Person"),  # twice in the batch
        mail(channel, "old-answered", "answered@example.com", -400),  # stored before
        mail(channel, "a1", "answered@example.com", -350, text="Sent before your answer arrived"),
        mail(channel, "a2", "answered@example.com", 6, text="After your answer"),
        mail(channel, "nl", "nameless@example.com", 7, name="Finally Named"),
        mail(channel, "d1", "dormant@example.com", 8, text="I am back"),
        mail(channel, "d2", "dormant@example.com", 9, text="Hello again"),
        mail(channel, "ch", "chased@example.com", 10, text="Stop chasing me"),
        mail(channel, "au", "auto@example.com", 11, auto_reply=True, text="Automatic reply"),
        mail(channel, "g1", "auto-first@example.com", 12, auto_reply=True, name="Auto First"),
        mail(channel, "late", "new.person@example.com", -30, text="Written long ago, arrived late"),
        mail(channel, "h1", "html@example.com", 13, text="", html="<p onclick='x()'>Only <b>HTML</b> 환불</p>",
             name="Html Sender"),
        mail(channel, "at", "attach@example.com", 14, name="With Files", attachments=[
            InboundAttachment("견적서.pdf", "application/pdf", b"%PDF-1.4 data", content_id=None),
            InboundAttachment("big.bin", "application/octet-stream", None, size=40_000_000, note="too large"),
        ]),
        mail(channel, "bad", "not an address", 15, name="Odd Sender"),
        mail(channel, "sub", "html@example.com", 16, subject="", text="no subject here"),
    ]  # fmt: skip


def snapshot() -> dict:
    """Everything ingest writes, keyed by what identifies it rather than by ids."""
    identity_of = {c: v for c, v in Identity.select(Identity.contact, Identity.value).tuples()}
    conv_key = {
        cid: identity_of[contact]
        for cid, contact in Conversation.select(Conversation.id, Conversation.contact).tuples()
    }
    pid_of = dict(Message.select(Message.id, Message.provider_id).tuples())
    recent = utcnow() - dt.timedelta(minutes=5)

    def contact_row(c: Contact):
        return (identity_of[c.id], c.name, c.company, c.lead_status, c.dormant_since)

    def conv_row(c: Conversation):
        return (
            conv_key[c.id], c.state, c.snoozed_until is None, c.last_activity_at, c.opened_at > recent,
            c.waiting_since, c.last_inbound_at, c.last_outbound_at, c.first_response_at, c.last_inbound_channel,
            c.channels, c.preview, c.preview_direction, c.woke_at is None, c.assignee_id,
        )  # fmt: skip

    def message_row(m: Message):
        return (
            m.provider_id, conv_key[m.conversation_id], m.channel_id, m.channel_kind, m.direction, m.automatic,
            m.auto_reply, m.address, m.subject, m.text, m.html, m.status, m.error, m.sent_at, m.first_response,
            m.response_seconds, m.meta, m.parse_error,
        )  # fmt: skip

    words = ["견적", "환불", "html", "question", "office", "person", "named", "odd", "text", "attach", "a"]
    return {
        "contacts": sorted(contact_row(c) for c in Contact.select()),
        "contact_count": Contact.select().count(),
        "identities": sorted(Identity.select(Identity.kind, Identity.value).tuples()),
        "conversations": sorted(conv_row(c) for c in Conversation.select()),
        "messages": [message_row(m) for m in Message.select().order_by(Message.id)],
        "sources": sorted((pid_of[m], bytes(raw)) for m, raw in MessageSource.select(MessageSource.message,
                                                                                     MessageSource.raw).tuples()),
        "attachments": sorted(
            (pid_of[a.message_id], a.filename, a.content_type, a.size, a.content_id, bytes(a.data or b""), a.note)
            for a in Attachment.select()
        ),
        "audit": sorted((e.action, e.object_type, conv_key.get(e.conversation_id), e.after and e.after.get("lead_status"))
                        for e in AuditEvent.select()),
        "followups": sorted(
            (conv_key[f.conversation_id], f.kind, f.fired_at is None, f.cancelled_at is None) for f in FollowUp.select()
        ),
        "notifications": sorted((n.kind, conv_key.get(n.conversation_id)) for n in Notification.select()),
        "message_search": {w: sorted(pid_of[i] for i in search.matching_message_ids(w)) for w in words},
        "contact_search": {w: sorted(identity_of[i] for i in search.matching_contact_ids(w)) for w in words},
    }  # fmt: skip


def one_by_one(inbounds: list[InboundMessage], channel: Channel) -> int:
    return sum(automation.receive(i, channel).created for i in inbounds)


def test_a_batch_stores_exactly_what_ingesting_one_by_one_stores():
    channel, _ = prepare()
    expected_created = one_by_one(batch(channel), channel)
    expected = snapshot()

    channel, _ = prepare()
    assert automation.receive_many(batch(channel), channel) == expected_created
    got = snapshot()
    for key in expected:
        assert got[key] == expected[key], key

    # What the batch had to do, checked directly as well.
    by_pid = {m.provider_id.split("#")[1]: m for m in Message.select().where(Message.direction == "in")}
    inbound_order = Message.select().where(Message.direction == "in").order_by(Message.id)
    assert [m.provider_id.split("#")[1] for m in inbound_order][-18:] == [
        "n1", "n2", "c1", "c2", "s1", "a1", "a2", "nl", "d1", "d2", "ch", "au", "g1", "late", "h1", "at", "bad",
        "sub",
    ]  # fmt: skip
    conv = lambda pid: Conversation.get_by_id(by_pid[pid].conversation_id)  # noqa: E731
    assert conv("c2").state == "open" and conv("c2").first_response_at is None
    assert conv("s1").state == "open" and conv("s1").woke_at is not None
    assert conv("g1").waiting_since is None  # an auto-reply starts no clock
    assert conv("a1").waiting_since == at(6)  # a1 came before our answer
    assert conv("late").waiting_since == at(-30) and conv("late").preview.startswith("subject n2")
    assert Contact.get_by_id(conv("n1").contact_id).name == "New Person"
    assert Contact.get_by_id(conv("nl").contact_id).name == "Finally Named"
    assert Contact.get_by_id(conv("c2").contact_id).name == "Closed Customer"
    assert Contact.get_by_id(conv("d1").contact_id).lead_status == "interested"
    assert "script" not in by_pid["h1"].html and "onclick" not in by_pid["h1"].html and by_pid["h1"].text
    pending = {
        (f.conversation_id, f.kind)
        for f in FollowUp.select().where(FollowUp.cancelled_at.is_null() & FollowUp.fired_at.is_null())
    }
    assert (conv("ch").id, "cadence") not in pending and (conv("ch").id, "manual") in pending
    assert (conv("au").id, "cadence") in pending  # only an auto-reply came


def test_a_batch_of_mail_already_stored_stores_nothing():
    channel, _ = prepare()
    inbounds = batch(channel)
    assert automation.receive_many(inbounds, channel) == 18
    before = snapshot()
    assert automation.receive_many(inbounds, channel) == 0
    assert one_by_one(inbounds, channel) == 0
    assert snapshot() == before


def test_ingest_many_refuses_what_it_does_not_handle():
    channel, _ = prepare()
    other = make_channel("email", name="Other")
    for inbound in (
        mail(channel, "b", "x@example.com", 1, meta={"bounce": {"original": [], "reason": "no such user"}}),
        mail(channel, "p", "x@example.com", 1, parse_error="broken multipart"),
        mail(other, "o", "x@example.com", 1),
        InboundMessage(channel_id=channel.id, kind="sms", provider_id="SM1", address="+821012345678"),
    ):
        with pytest.raises(ValueError):
            ingest_many([inbound], channel)
    assert Message.select().where(Message.provider_id.in_(["b", "p", "o", "SM1"])).count() == 0


# --- polling.store_batch: own mail, bounces, unparsed mail, failures ---------------------


def fetched(channel: Channel) -> list[InboundMessage]:
    """What a poll hands store_batch: the batch above with our own mail, a bounce about
    our message and an unreadable mail in the middle."""
    mails = batch(channel)
    mails.insert(3, mail(channel, "own", "closed@example.com", 3.5, meta={"message_id": "<ours.1@example.com>"}))
    mails.insert(6, mail(
        channel, "bounce", "mailer-daemon@example.net", 5.5, auto_reply=True, text="Delivery failed",
        meta={"bounce": {"original": ["<ours.1@example.com>"], "reason": "550 no such user"}},
    ))  # fmt: skip
    mails.insert(9, InboundMessage(
        channel_id=channel.id, kind="email", provider_id="unreadable#1", address="unknown@invalid",
        subject="(unreadable message)", raw=b"\xff\xfe", received_at=at(5.7), parse_error="HeaderParseError: x",
    ))  # fmt: skip
    return mails


def test_store_batch_stores_what_store_stores_one_by_one(monkeypatch):
    channel, _ = prepare()
    expected_created = sum(polling.store(i, channel) for i in fetched(channel))
    expected = snapshot()
    expected_ours = Message.get(Message.provider_id == "<ours.1@example.com>")

    channel, _ = prepare()
    calls = []
    real_store = polling.store
    monkeypatch.setattr(
        polling, "store", lambda inbound, ch=None: calls.append(inbound.provider_id) or real_store(inbound, ch)
    )
    assert polling.store_batch(fetched(channel), channel) == expected_created == 20
    assert calls == ["<bounce@customer.example>#bounce", "unreadable#1"]  # plain mail went in together
    got = snapshot()
    for key in expected:
        assert got[key] == expected[key], key
    ours = Message.get(Message.provider_id == "<ours.1@example.com>")
    assert ours.status == expected_ours.status == "failed" and ours.error == expected_ours.error
    assert Message.select().where(Message.provider_id.startswith("<own@")).count() == 0
    bounce = Message.get(Message.provider_id.startswith("<bounce@"))
    assert bounce.address == "closed@example.com" and bounce.auto_reply


def test_a_chunk_that_fails_half_way_is_rolled_back_and_stored_one_by_one(monkeypatch):
    channel, _ = prepare()
    expected_created = sum(polling.store(i, channel) for i in fetched(channel))
    expected = snapshot()

    channel, _ = prepare()

    real_hook = automation._on_customer_messages
    hooks = []

    def fail_the_second_time(first_message, leads):
        hooks.append(first_message)
        if len(hooks) == 2:  # the last run of plain mail, after the bounce and the unreadable mail
            raise RuntimeError("the database went away after the messages were written")
        real_hook(first_message, leads)

    monkeypatch.setattr(automation, "_on_customer_messages", fail_the_second_time)
    calls = []
    real_store = polling.store
    monkeypatch.setattr(
        polling, "store", lambda inbound, ch=None: calls.append(inbound.provider_id) or real_store(inbound, ch)
    )
    assert polling.store_batch(fetched(channel), channel) == expected_created
    # The bounce and the unreadable mail were stored, then rolled back with the chunk.
    assert len(calls) == 2 + len(fetched(channel))
    assert snapshot() == expected


def test_a_message_that_cannot_be_stored_is_kept_raw_and_the_rest_of_its_chunk_is_stored(monkeypatch):
    channel, _ = prepare()
    real_clean = ingest.clean_html

    def clean(html):
        if "explode" in html:
            raise ValueError("sanitiser crashed")
        return real_clean(html)

    monkeypatch.setattr(ingest, "clean_html", clean)
    mails = [mail(channel, f"m{i}", f"c{i % 3}@example.com", i) for i in range(6)]
    mails[2].html = "<p>explode</p>"
    assert polling.store_batch(mails, channel) == 6
    kept = Message.get(Message.provider_id == mails[2].provider_id)
    assert kept.parse_error.startswith("ValueError") and bytes(kept.source_row.get().raw) == b"raw m2"
    assert Message.select().where(Message.provider_id.startswith("<m")).count() == 6


def test_store_batch_statements_do_not_grow_per_message_with_peewee_queries(monkeypatch):
    """50 new mails from 10 senders: the set-based path builds a handful of peewee queries
    per chunk, not ~15 per mail. (On a channel that takes leads, each new sender is also a
    new lead with its own steps: owner, notification, reminders.)"""
    channel, _ = prepare()
    Channel.update(settings={"leads": False}).where(Channel.id == channel.id).execute()
    channel = Channel.get_by_id(channel.id)
    mails = [mail(channel, f"q{i}", f"sender{i % 10}@example.com", i, name=f"Sender {i % 10}") for i in range(50)]
    executed = []
    real = type(db.obj).execute_sql
    monkeypatch.setattr(
        type(db.obj), "execute_sql", lambda self, sql, params=None: executed.append(sql) or real(self, sql, params)
    )
    assert polling.store_batch(mails, channel) == 50
    assert len(executed) <= 15, executed
    assert Contact.select().join(Identity).where(Identity.value.startswith("sender")).count() == 10
    ids = [m.id for m in Message.select().where(Message.provider_id.startswith("<q")).order_by(Message.sent_at)]
    assert ids == sorted(ids)  # ids grow with arrival order


def test_bigram_documents_are_the_documents_of_bigram_document():
    texts = [
        ("견적 문의드립니다", "견적서를 보내주세요. A/S 접수, e-mail: kim_lee@example.com"),
        ("", ""),
        ("Re: a b c", "İstanbul ǅ ß ﬁ _a_b_ 1_2 3x 한 글 자 ñ\u0301"),
        ("견적", "견적 견적서 환불 refund REFUND Refund"),
    ]
    assert search.bigram_documents(texts) == [search.bigram_document(*parts) for parts in texts]
