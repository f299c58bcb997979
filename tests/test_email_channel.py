"""The email channel against a real Dovecot IMAP server and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import itertools
import socket
import threading
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

import tasks
from inbox import channel_config, outbound, polling
from inbox.models import Channel, Contact, Conversation, Message

from .servers import SmtpSink, free_port, start_dovecot

_users = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot():
    # Users are created up front: Dovecot caches its users file by modification time.
    server = start_dovecot({f"sales{i}@example.com": "mailbox-secret" for i in range(1, 200)})
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mailbox(dovecot):
    """A fresh mailbox (its own Dovecot user) with an IMAP client logged in."""
    user = f"sales{next(_users)}@example.com"
    client = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    client.login(user, "mailbox-secret")
    client.user = user
    yield client
    client.logout()


@pytest.fixture
def channel(mailbox, dovecot, smtp):
    smtp.messages.clear()
    smtp.refuse_code = None
    return channel_config.add_email_channel(
        "Sales mailbox",
        {
            "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
            "imap_username": mailbox.user, "imap_password": "mailbox-secret",
            "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
            "smtp_username": "smtp-user", "smtp_password": "smtp-pass",
            "from_address": mailbox.user, "from_name": "Sales Team", "folders": "INBOX",
        },
    )  # fmt: skip


def mail(sender="kim@example.kr", subject="견적 문의", body="견적서를 보내주세요", msgid=None, **headers) -> bytes:
    m = EmailMessage()
    m["From"] = f"김고객 <{sender}>"
    m["To"] = "sales@example.com"
    m["Subject"] = subject
    m["Message-ID"] = msgid or email.utils.make_msgid(domain="example.kr")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m.as_bytes()


def test_new_mail_is_stored_once_and_left_unread_on_the_server(mailbox, channel):
    for i in range(3):
        mailbox.append("INBOX", mail(body=f"message {i}"))
    first = polling.poll_email(channel.id)
    again = polling.poll_email(channel.id)
    assert (first.stored, first.error) == (3, None)
    assert again.stored == 0
    assert Message.select().count() == 3
    assert Contact.select().count() == 1
    mailbox.select_folder("INBOX")
    flags = mailbox.get_flags(mailbox.search(["ALL"]))
    assert len(flags) == 3 and all(b"\\Seen" not in f for f in flags.values())
    ch = Channel.get_by_id(channel.id)
    assert ch.last_poll_at is not None and ch.error_count == 0
    assert "mailbox-secret" not in str(ch.settings)  # stored encrypted


def test_uidvalidity_change_resyncs_without_duplicates(mailbox, channel):
    mailbox.create_folder("Support")
    Channel.update(settings={**channel.settings, "folders": ["Support"]}).where(Channel.id == channel.id).execute()
    old = [mail(body=f"old {i}") for i in range(3)]
    for raw in old:
        mailbox.append("Support", raw)
    assert polling.poll_email(channel.id).stored == 3
    before = Channel.get_by_id(channel.id).cursor["folders"]["Support"]["uidvalidity"]
    mailbox.delete_folder("Support")  # recreating a folder gives it a new UIDVALIDITY
    mailbox.create_folder("Support")
    for raw in old:
        mailbox.append("Support", raw)
    mailbox.append("Support", mail(body="new one"))
    result = polling.poll_email(channel.id)
    after = Channel.get_by_id(channel.id).cursor["folders"]["Support"]["uidvalidity"]
    assert after != before
    assert result.stored == 1
    assert Message.select().count() == 4


def test_two_different_mails_sharing_a_message_id_are_both_kept(mailbox, channel):
    mailbox.append("INBOX", mail(body="first", msgid="<same@broken-mailer>"))
    mailbox.append("INBOX", mail(body="second", msgid="<same@broken-mailer>"))
    assert polling.poll_email(channel.id).stored == 2


def test_wrong_password_is_reported_and_backs_off_then_recovers(mailbox, channel):
    mailbox.append("INBOX", mail())
    stored = dict(channel.settings)
    channel_config.update_email_channel(
        Channel.get_by_id(channel.id), {**_form(stored), "imap_password": "wrong password"}
    )
    result = polling.poll_email(channel.id)
    ch = Channel.get_by_id(channel.id)
    assert "refused the username or password" in result.error
    assert ch.error_count == 1 and "password" in ch.last_error
    assert not polling.due(ch)  # backing off
    channel_config.update_email_channel(ch, {**_form(stored), "imap_password": "mailbox-secret"})
    assert polling.poll_email(channel.id).stored == 1
    assert Channel.get_by_id(channel.id).error_count == 0


def _form(stored: dict) -> dict:
    return {k: v for k, v in stored.items() if k not in ("imap_password", "smtp_password")}


def test_server_down_then_up(mailbox, channel, dovecot):
    mailbox.append("INBOX", mail())
    dovecot.stop()
    try:
        result = polling.poll_email(channel.id)
        assert "connection refused" in result.error
    finally:
        dovecot.start()
    assert polling.poll_email(channel.id).stored == 1


class DroppingProxy:
    """A TCP proxy in front of Dovecot that cuts the connection after N bytes from the
    server: the IMAP connection drops in the middle of a FETCH."""

    def __init__(self, target_port: int, cut_after: int):
        self.target_port, self.cut_after = target_port, cut_after
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.cut_after), daemon=True).start()

    @staticmethod
    def _pipe(src, dst, limit):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: max(limit - sent, 0)])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def test_connection_dropped_mid_fetch_loses_and_doubles_nothing(mailbox, channel, dovecot):
    for i in range(40):
        mailbox.append("INBOX", mail(body=f"message {i} " + "x" * 3000))
    proxy = DroppingProxy(dovecot.port, cut_after=60_000)
    Channel.update(settings={**channel.settings, "imap_port": proxy.port}).where(Channel.id == channel.id).execute()
    result = polling.poll_email(channel.id)
    assert result.error  # the drop is reported, not swallowed
    partial = Message.select().count()
    assert partial < 40
    proxy.close()
    Channel.update(settings={**channel.settings, "imap_port": dovecot.port}, cursor={
        **Channel.get_by_id(channel.id).cursor, "retry_at": None,
    }).where(Channel.id == channel.id).execute()  # fmt: skip
    assert polling.poll_email(channel.id).error is None
    assert Message.select().count() == 40


def test_reply_threads_in_the_customers_mail_client_and_their_answer_lands_in_the_thread(mailbox, channel, smtp, agent):
    mailbox.append("INBOX", mail(subject="견적 문의", msgid="<q1@example.kr>"))
    polling.poll_email(channel.id)
    conv = Conversation.get()
    reply = outbound.send(conv, kind="email", text="견적서를 첨부드립니다.", author=agent)
    tasks.deliver(reply.id)
    sent = Message.get_by_id(reply.id)
    assert sent.status == "sent", sent.error
    (mail_from, rcpts, content) = smtp.messages[-1]
    out = email.message_from_bytes(content, policy=email.policy.default)
    assert rcpts == ["kim@example.kr"]
    assert out["In-Reply-To"] == "<q1@example.kr>"
    assert "<q1@example.kr>" in out["References"]
    assert out["Subject"] == "Re: 견적 문의"
    assert out["From"].addresses[0].display_name == "Agent Kim (Sales Team)"
    assert out["Message-ID"] == sent.provider_id
    # The customer answers from their mail client; it lands in the same thread.
    mailbox.append("INBOX", mail(subject="Re: 견적 문의", In_Reply_To=sent.provider_id, body="감사합니다"))
    polling.poll_email(channel.id)
    assert Conversation.select().count() == 1
    assert Message.select().where(Message.conversation == conv).count() == 3


def test_smtp_refusal_fails_visibly_with_the_reason(mailbox, channel, smtp, agent):
    mailbox.append("INBOX", mail())
    polling.poll_email(channel.id)
    smtp.refuse_code = 550
    reply = outbound.send(Conversation.get(), kind="email", text="Hello", author=agent)
    tasks.deliver(reply.id)
    failed = Message.get_by_id(reply.id)
    assert failed.status == "failed" and "550" in failed.error
    assert Conversation.get().waiting_since is not None  # the customer is still waiting


def test_bounce_marks_our_message_failed_and_auto_replies_do_not_reset_timers(mailbox, channel, smtp, agent):
    mailbox.append("INBOX", mail())
    polling.poll_email(channel.id)
    reply = outbound.send(Conversation.get(), kind="email", text="Hello", author=agent)
    tasks.deliver(reply.id)
    our_id = Message.get_by_id(reply.id).provider_id
    dsn = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.kr>\r\nTo: {mailbox.user}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.kr>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.kr\r\n\r\n"
        "Final-Recipient: rfc822; kim@example.kr\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {our_id}\r\nSubject: Re: 견적 문의\r\n"
        "--B--\r\n"
    ).encode()
    mailbox.append("INBOX", dsn)
    mailbox.append(
        "INBOX", mail(subject="Automatic reply: 견적 문의", Auto_Submitted="auto-replied", body="부재중입니다")
    )
    polling.poll_email(channel.id)
    bounced = Message.get_by_id(reply.id)
    assert bounced.status == "failed" and "user unknown" in bounced.error
    assert Contact.select().count() == 1  # no "mailer-daemon" contact
    conv = Conversation.get()
    assert conv.waiting_since is not None  # restored by the bounce, not touched by the auto-reply
    auto = Message.select().where(Message.auto_reply).count()
    assert auto == 2


def test_mail_we_sent_ourselves_is_not_ingested(mailbox, channel):
    mailbox.append("INBOX", mail(sender=mailbox.user, body="copy of our own mail"))
    mailbox.append("INBOX", mail(body="from a customer"))
    assert polling.poll_email(channel.id).stored == 1


def test_a_malformed_message_is_kept_raw_and_the_poller_goes_on(mailbox, channel):
    broken = b"From: broken\r\nContent-Type: multipart/mixed; boundary=nowhere\r\n\r\n\xff\xfe garbage \x01\r\n"
    mailbox.append("INBOX", broken)
    mailbox.append("INBOX", mail(body="after the broken one"))
    result = polling.poll_email(channel.id)
    assert result.stored == 2 and result.error is None
    flagged = Message.get(Message.parse_error.is_null(False))
    assert bytes(flagged.source_row.get().raw) == broken


@pytest.mark.skipif(
    bool(__import__("os").environ.get("INBOX_TEST_DATABASE_URL")), reason="the operator command runs on SQLite"
)
def test_poller_killed_at_random_points_loses_and_doubles_nothing(mailbox, dovecot):
    """`inbox poll --once` is SIGKILLed again and again during a large sync, then allowed
    to finish: every message is stored exactly once."""
    import os
    import random
    import sqlite3
    import subprocess
    import sys
    import tempfile
    import time

    total = 400
    mailbox.select_folder("INBOX")
    for i in range(total):
        mailbox.append("INBOX", mail(sender=f"c{i % 37}@example.kr", body=f"numbered message {i} " + "y" * 2000))
    data = tempfile.mkdtemp(prefix="inbox-kill-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    env.update(INBOX_DATA_DIR=data, INBOX_IMAP_PASSWORD="mailbox-secret")
    cli = [sys.executable, "-m", "inbox.cli"]
    subprocess.run(
        [*cli, "channel", "add-email", "--name", "Sales", "--imap-host", "127.0.0.1", "--imap-port", str(dovecot.port),
         "--imap-security", "none", "--imap-username", mailbox.user, "--smtp-host", "127.0.0.1",
         "--smtp-security", "none", "--from-address", mailbox.user],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    rng = random.Random(4)
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen([*cli, "poll", "--once"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
    final = subprocess.run([*cli, "poll", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    db = sqlite3.connect(f"{data}/inbox.db")
    texts = [row[0] for row in db.execute("SELECT text FROM message")]
    assert kills >= 3  # the sync really was interrupted
    assert len(texts) == total
    assert {t.split()[2] for t in texts} == {str(i) for i in range(total)}


def test_with_idle_new_mail_is_stored_within_two_seconds(mailbox, channel):
    """APPEND -> IDLE notification -> poll -> stored, as `inbox serve` wires it."""
    import time

    from inbox.db import db
    from inbox.idle import IdleSupervisor

    def poll_now(channel_id):
        with db.connection_context():
            polling.poll_email(channel_id)

    supervisor = IdleSupervisor(on_new=poll_now, refresh=60)
    supervisor.start()
    try:
        deadline = time.monotonic() + 10
        while not any(w.is_alive() for w in supervisor.watchers.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the watcher is now idling
        started = time.monotonic()
        mailbox.append("INBOX", mail(body="arrives by IDLE"))
        while Message.select().where(Message.text.contains("arrives by IDLE")).count() == 0:
            assert time.monotonic() - started < 5, "not stored within 5 s"
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        supervisor.stop()
    assert elapsed < 2.0, f"{elapsed:.2f}s"


def test_a_reply_with_an_attachment_sent_from_the_composer(client, mailbox, channel, smtp, agent):
    from io import BytesIO

    from .conftest import login, post

    mailbox.append("INBOX", mail(subject="견적 문의"))
    polling.poll_email(channel.id)
    conv = Conversation.get()
    login(client, agent)
    response = post(
        client, f"/c/{conv.id}/reply",
        {"kind": "email", "text": "첨부 확인 부탁드립니다", "attachments": (BytesIO(b"%PDF-1.4 quote"), "견적서.pdf")},
        htmx=True, content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 200
    out = email.message_from_bytes(smtp.messages[-1][2], policy=email.policy.default)
    (part,) = list(out.iter_attachments())
    assert part.get_filename() == "견적서.pdf"
    assert part.get_content() == b"%PDF-1.4 quote"
    assert Message.get(Message.direction == "out").status == "sent"


def test_a_copy_of_our_own_reply_is_not_ingested_and_the_sent_folder_gets_a_copy(mailbox, channel, smtp, agent):
    Channel.update(settings={**channel.settings, "append_to_sent": True}).where(Channel.id == channel.id).execute()
    mailbox.append("INBOX", mail(subject="문의"))
    polling.poll_email(channel.id)
    reply = outbound.send(Conversation.get(), kind="email", text="답변드립니다", author=agent)
    tasks.deliver(reply.id)
    ours = smtp.messages[-1][2]
    mailbox.select_folder("Sent", readonly=True)
    (uid,) = mailbox.search(["ALL"])
    copy = mailbox.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    assert email.message_from_bytes(copy)["Message-ID"] == Message.get_by_id(reply.id).provider_id
    # The same mail forwarded back into the inbox by some rule: not a customer message.
    mailbox.append(
        "INBOX",
        ours.replace(b"From: ", b"X-Original-From: ", 1).replace(
            b"X-Original-From: ", b"From: Someone <fwd@example.kr>\r\nX-Original-From: ", 1
        ),
    )
    assert polling.poll_email(channel.id).stored == 0
