"""The whole mail corpus (tests/mailcorpus.py) APPENDed to a real Dovecot mailbox and
polled twice: every message is stored exactly once, as a person reading it expects."""

from __future__ import annotations

import logging

import tasks
from inbox import outbound, polling
from inbox.channels import email_parse
from inbox.channels.email_parse import content_hash
from inbox.models import Attachment, Contact, Conversation, Identity, Message

from . import test_email_channel as _email_channel
from .mailcorpus import BY_NAME, CASES

# The Dovecot and SMTP servers and the mailbox/channel fixtures of the email channel tests.
dovecot, smtp = _email_channel.dovecot, _email_channel.smtp
mailbox, channel = _email_channel.mailbox, _email_channel.channel

SEED = "plain_english"  # the first mail: the thread our bounced replies belong to


def test_the_whole_corpus_is_stored_exactly_once(mailbox, channel, smtp, agent, caplog, monkeypatch):
    caplog.set_level(logging.WARNING)
    # test_email_parse reads the 30 MB case against the real limit; here a 3 MB copy over a
    # 1 MB limit takes the same path through IMAP and storage in a fraction of the time.
    monkeypatch.setattr(email_parse, "MAX_ATTACHMENT_BYTES", 1024 * 1024)
    # A customer writes, we reply twice; the two bounce cases are about those replies.
    mailbox.append("INBOX", BY_NAME[SEED].raw())
    assert polling.poll_email(channel.id).stored == 1
    conv = Conversation.get()
    replies = []
    for text in ("The quote is attached.", "Did the quote reach you?"):
        reply = outbound.send(conv, kind="email", text=text, author=agent)
        tasks.deliver(reply.id)
        replies.append(Message.get_by_id(reply.id))
    assert [r.status for r in replies] == ["sent", "sent"]
    bounced = {"bounce_dsn": replies[0], "bounce_text_only": replies[1]}

    raws = {SEED: BY_NAME[SEED].raw()}
    for case in CASES:
        if case.name != SEED:
            params = {"original_id": bounced[case.name].provider_id} if case.name in bounced else {}
            if case.too_large:
                params["size"] = 3 * 1024 * 1024
            raws[case.name] = case.raw(**params)
            mailbox.append("INBOX", raws[case.name])

    first, second = polling.poll_email(channel.id), polling.poll_email(channel.id)
    assert (first.error, second.error) == (None, None)
    assert (first.stored, second.stored, second.fetched) == (len(CASES) - 1, 0, 0)
    assert Message.select().where(Message.direction == "in").count() == len(CASES)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    for case in CASES:
        raw = raws[case.name]
        rows = list(Message.select().where(Message.provider_id.endswith(f"#{content_hash(raw)}")))
        assert len(rows) == 1, f"{case.name}: stored {len(rows)} times"
        (m,) = rows
        assert bytes(m.source_row.get().raw) == raw, f"{case.name}: raw source not kept byte for byte"
        assert m.subject == case.subject, case.name
        assert m.conversation.contact.name == (case.contact_name or m.conversation.contact.name), case.name
        assert m.auto_reply == case.auto_reply, case.name
        assert bool(m.parse_error) == case.parse_error, f"{case.name}: {m.parse_error}"
        assert "\ufffd" not in m.text + m.subject, case.name
        for part in case.text:
            assert part in m.text, f"{case.name}: {part!r} not in {m.text!r}"
        if case.html:
            assert m.html and "<script" not in m.html
        assert (m.meta or {}).get("cc", []) == list(case.cc), case.name
        atts = list(Attachment.select().where(Attachment.message == m).order_by(Attachment.id))
        assert [a.filename for a in atts] == list(case.attachments), case.name
        for att in atts:
            if att.filename in case.too_large:
                assert att.data is None and att.size == 3 * 1024 * 1024 and "not kept" in att.note
            else:
                assert att.data is not None and att.size == len(bytes(att.data))
        if case.bounce:
            # In the customer's thread, as an auto-reply, and our reply is marked failed.
            assert m.conversation_id == conv.id and m.address == BY_NAME[SEED].contact, case.name
            assert Message.get_by_id(bounced[case.name].id).status == "failed"
        else:
            assert m.address == case.contact, case.name

    assert "User unknown" in Message.get_by_id(replies[0].id).error
    assert not Identity.select().where(Identity.value.startswith("mailer-daemon")).exists()
    assert not Contact.select().where(Contact.name.contains("Mail Delivery")).exists()
    assert Conversation.get_by_id(conv.id).waiting_since is not None  # the bounces undid our answers
    flagged = Message.select().where(Message.parse_error.is_null(False)).count()
    assert flagged == sum(c.parse_error for c in CASES)
