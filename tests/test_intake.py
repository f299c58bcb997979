"""Nothing accepted is lost: webhooks are kept before they are answered and stored once;
failed attempts are retried and then shown to admins; media that cannot be fetched never
holds back the text; text the database cannot hold (NUL) is cleaned on both backends;
and `inbox serve` killed with SIGKILL while webhooks pour in loses none it accepted."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import threading
from types import SimpleNamespace

import pytest

from inbox import intake, messaging
from inbox.db import set_clock
from inbox.models import Attachment, Channel, Contact, Intake, Message

from .conftest import login, post
from .test_twilio_channel import CUSTOMER, SMS_NUMBER, WA_NUMBER, channel, hook, twilio, twilio_server  # noqa: F401

MINUTE = dt.timedelta(minutes=1)


def test_a_webhook_is_kept_then_stored_once_and_marked_done(twilio, channel):  # noqa: F811
    first = twilio.inbound(CUSTOMER, SMS_NUMBER, "주문 확인 부탁드려요", url=hook(channel))
    again = twilio.inbound(
        CUSTOMER, SMS_NUMBER, "주문 확인 부탁드려요", url=hook(channel), extra={"MessageSid": first.sid}
    )
    assert first.response.status_code == again.response.status_code == 200
    rows = list(Intake.select().order_by(Intake.id))
    assert [(r.kind, r.payload["MessageSid"], r.done_at is not None) for r in rows] == [
        ("inbound", first.sid, True), ("inbound", first.sid, True),
    ]  # fmt: skip
    assert [m.text for m in Message.select()] == ["주문 확인 부탁드려요"]
    assert intake.pending_count() == 0


def test_when_the_webhook_cannot_be_kept_the_provider_is_told_to_send_it_again(twilio, channel):  # noqa: F811
    from inbox.db import db

    db.execute_sql("ALTER TABLE intake RENAME TO intake_away")  # writes fail, as on a full disk
    try:
        sent = twilio.inbound(CUSTOMER, SMS_NUMBER, "hello", url=hook(channel))
    finally:
        db.execute_sql("ALTER TABLE intake_away RENAME TO intake")
    assert sent.response.status_code == 503
    assert Message.select().count() == 0


def test_a_failing_store_is_retried_with_backoff_then_shown_to_admins_who_can_retry_it(twilio, channel):  # noqa: F811
    def broken(channel, form, prepared):
        raise RuntimeError("database is locked")

    handlers = {"inbound": intake.Handler(store=broken)}
    form = {"MessageSid": "SM" + "1" * 32, "From": CUSTOMER, "To": SMS_NUMBER, "Body": "견적 문의"}
    clock = SimpleNamespace(now=dt.datetime(2030, 3, 4, 1, 0))
    set_clock(lambda: clock.now)
    try:
        row_id = intake.accept(channel.id, "inbound", form)
        assert intake.process(row_id, handlers) == "will retry"
        row = Intake.get_by_id(row_id)
        assert (row.attempts, row.done_at, row.last_error) == (1, None, "RuntimeError: database is locked")
        assert intake.due(clock.now + MINUTE / 2) == []  # its own task has had its turn; the next try waits
        delays = []
        for _ in range(intake.MAX_ATTEMPTS - 1):
            row = Intake.get_by_id(row_id)
            delays.append((row.next_attempt_at - clock.now).total_seconds())
            clock.now = max(row.next_attempt_at, row.received_at + MINUTE)
            assert intake.due() == [row_id]
            intake.retry_due(handlers)
        now = clock.now
    finally:
        set_clock(None)
    assert delays == [30.0 * 2**n for n in range(intake.MAX_ATTEMPTS - 1)]  # backs off
    (failed,) = intake.failed()
    assert failed.id == row_id and failed.payload["Body"] == "견적 문의" and failed.failed_at is not None
    assert intake.due(now + dt.timedelta(days=30)) == []  # given up: not retried on its own
    assert intake.retry_failed(row_id)
    assert intake.process(row_id, messaging.INTAKE) == "stored"
    assert Message.get().text == "견적 문의" and intake.failed() == []


def test_nul_characters_are_cleaned_not_refused(twilio, channel, client, agent):  # noqa: F811
    sent = twilio.inbound(
        CUSTOMER, WA_NUMBER, "hello\x00world", whatsapp=True, profile_name="Kim\x00", url=hook(channel)
    )
    assert sent.response.status_code == 200
    message = Message.get()
    assert message.text == "helloworld"
    assert Contact.get().name == "Kim"
    login(client, agent)
    response = post(client, f"/c/{message.conversation_id}/reply", {"mode": "note", "text": "메모\x00 확인"})
    assert response.status_code == 303
    assert Message.get(Message.direction == "note").text == "메모 확인"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback web server: /media redirects to ``target``; every request is recorded."""

    hits: list[str] = []
    target = ""

    def do_GET(self):  # noqa: N802
        type(self).hits.append(self.path)
        if self.path.startswith("/media"):
            self.send_response(302)
            self.send_header("Location", type(self).target)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if not self.path.startswith("/media"):
            self.wfile.write(b"private page")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.hits = []
    yield server
    server.shutdown()


def test_media_that_cannot_be_fetched_never_holds_back_the_text(twilio, channel, recorder):  # noqa: F811
    port = recorder.server_address[1]
    _Recorder.target = f"http://localhost:{port}/private"
    media = {
        "NumMedia": "3",
        "MediaUrl0": "http://[::1", "MediaContentType0": "image/jpeg",  # malformed
        "MediaUrl1": f"http://localhost:{port}/secret", "MediaContentType1": "image/png",  # not Twilio's host
        "MediaUrl2": f"http://127.0.0.1:{port}/media/1", "MediaContentType2": "image/gif",  # redirects to loopback
    }  # fmt: skip
    # The Twilio-compatible server's host is the trusted media host here, as api.twilio.com is live.
    Channel.update(settings={**channel.settings, "api_base_url": f"http://127.0.0.1:{port}"}).where(
        Channel.id == channel.id
    ).execute()
    sent = twilio.inbound(CUSTOMER, SMS_NUMBER, "사진 첨부합니다", url=hook(channel), extra=media)
    assert sent.response.status_code == 200
    message = Message.get()
    assert message.text == "사진 첨부합니다"
    notes = [(a.data, a.note) for a in Attachment.select().order_by(Attachment.id)]
    assert [data for data, _ in notes] == [None, None, None]
    assert all(note.startswith("unavailable") for _, note in notes), notes
    assert "localhost is not a Twilio media host" in notes[1][1]
    assert "redirected to localhost" in notes[2][1]
    assert _Recorder.hits == ["/media/1"]  # neither the other host nor the redirect target was asked
    assert Intake.get().done_at is not None


@pytest.mark.skipif(bool(os.environ.get("INBOX_TEST_DATABASE_URL")), reason="the server runs on its own SQLite")
def test_inbox_serve_killed_again_and_again_loses_no_accepted_webhook():
    from bench.webhook_kills import kill_run

    out = kill_run(kills=3, count=300, senders=6, seed=5, drain=90)
    assert out.kills == 3
    assert len(out.accepted) == 300
    assert out.lost == set() and out.duplicated == 0 and out.stored == 300


def test_an_admin_sees_a_webhook_that_could_not_be_stored_and_stores_it_again(client, admin, twilio, channel):  # noqa: F811
    def broken(channel, form, prepared):
        raise RuntimeError("disk I/O error")

    form = {"MessageSid": "SM" + "7" * 32, "From": CUSTOMER, "To": SMS_NUMBER, "Body": "환불 문의 <b>드립니다</b>"}
    row_id = intake.accept(channel.id, "inbound", form)
    for _ in range(intake.MAX_ATTEMPTS):
        intake.process(row_id, {"inbound": intake.Handler(store=broken)})
    login(client, admin)
    page = client.get("/settings/channels").get_data(as_text=True)
    assert 'id="failed-webhooks"' in page and "RuntimeError: disk I/O error" in page
    assert form["MessageSid"] in page and "\\u003cb\\u003e" in page and "<b>" not in page  # the payload, escaped
    response = post(client, f"/settings/channels/webhooks/{row_id}/retry")
    assert response.status_code == 303
    assert Message.get().text == "환불 문의 <b>드립니다</b>"
    assert 'id="failed-webhooks"' not in client.get("/settings/channels").get_data(as_text=True)
