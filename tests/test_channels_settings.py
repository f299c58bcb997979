"""Settings > Channels: admins connect a mailbox, test it against real servers, sync it and
watch its health; secrets never come back out."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from inbox import channel_config, crypto
from inbox.ingest import InboundMessage, ingest
from inbox.models import Channel, Conversation, Message

from . import factories
from .conftest import login, post
from .test_email_channel import dovecot, mail, mailbox, smtp  # noqa: F401  (real Dovecot + SMTP sink)

IMAP_PASSWORD = "mailbox-secret"
SMTP_PASSWORD = "smtp-pass"


def body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """English messages to assert on (users get the default locale)."""
    monkeypatch.setenv("INBOX_DEFAULT_LOCALE", "en")


@pytest.fixture
def admin_client(client, admin):
    return login(client, admin)


def form(imap_at: int, smtp_at: int, user: str, **changes) -> dict:
    values = {
        "name": "Sales mailbox",
        "imap_host": "127.0.0.1", "imap_port": str(imap_at), "imap_security": "none",
        "imap_username": user, "imap_password": IMAP_PASSWORD,
        "smtp_host": "127.0.0.1", "smtp_port": str(smtp_at), "smtp_security": "none",
        "smtp_username": "smtp-user", "smtp_password": SMTP_PASSWORD,
        "from_address": user, "from_name": "Sales Team", "folders": "INBOX",
        "import_since": "", "poll_seconds": "60",
    }  # fmt: skip
    values.update(changes)
    return values


@pytest.fixture
def connected(admin_client, dovecot, smtp, mailbox):  # noqa: F811
    """A mailbox connected through the Settings form."""
    smtp.messages.clear()
    smtp.refuse_code = None
    response = post(admin_client, "/settings/channels/new", form(dovecot.port, smtp.port, mailbox.user))
    assert response.status_code == 303, body(response)[:2000]
    return Channel.get(Channel.name == "Sales mailbox")


# --- who may -------------------------------------------------------------------------


def _pages(channel_id: int) -> tuple[list[str], list[str]]:
    base = f"/settings/channels/{channel_id}"
    gets = ["/settings/channels", "/settings/channels/new", base, f"{base}/status"]
    posts = ["/settings/channels/new", base, f"{base}/enabled", f"{base}/test", f"{base}/sync"]
    return gets, posts


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_agents_and_managers_get_403(client, email_channel, role):
    user = factories.make_user(role, f"{role} user", f"{role}@example.com")
    login(client, user)
    gets, posts = _pages(email_channel.id)
    for path in gets:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Your role does not allow this." in body(response)
    for path in posts:
        assert post(client, path, {"name": "x", "enabled": "0"}).status_code == 403, path
    assert Channel.select().count() == 1 and Channel.get().enabled is False
    assert 'id="nav-channels"' not in body(client.get("/inbox"))


def test_logged_out_is_sent_to_login(client, email_channel):
    gets, _ = _pages(email_channel.id)
    for path in gets:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_admin_sees_the_nav_link_and_an_empty_list(admin_client):
    page = body(admin_client.get("/inbox"))
    assert 'id="nav-channels"' in page and 'href="/settings/channels"' in page
    page = body(admin_client.get("/settings/channels"))
    assert "No channels yet." in page and 'href="/settings/channels/new"' in page


# --- connecting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": " "}, "name", "Give the mailbox a name."),
        ({"imap_host": ""}, "imap_host", "This field is required."),
        ({"imap_port": "imap"}, "imap_port", "The port must be a number."),
        ({"smtp_port": "70000"}, "smtp_port", "The port must be between 1 and 65535."),
        ({"imap_security": "tls13"}, "imap_security", "Security must be ssl, starttls or none."),
        ({"from_address": "sales at example"}, "from_address", "The address to send as is not a valid email address."),
        ({"import_since": "last week"}, "import_since", "Import since must be a date like 2026-01-31."),
        ({"folders": " , "}, "folders", "Give at least one folder, e.g. INBOX."),
        ({"poll_seconds": "often"}, "poll_seconds", "The poll interval must be a number of seconds."),
        ({"imap_password": ""}, "imap_password", "This field is required."),
    ],
)
def test_a_failed_add_rerenders_the_form_with_the_fields_error(admin_client, changes, field, reason):
    values = form(1143, 2525, "sales@example.com", **changes)
    response = post(admin_client, "/settings/channels/new", values)
    page = body(response)
    assert response.status_code == 400
    assert re.search(rf'id="error-{field}" role="alert">{re.escape(reason)}<', page), page[:3000]
    assert f'id="field-{field}"' in page
    assert IMAP_PASSWORD not in page and SMTP_PASSWORD not in page  # never echoed back
    if field != "imap_host":
        assert 'value="127.0.0.1"' in page  # what was typed is kept
    assert Channel.select().count() == 0


def test_a_duplicate_name_is_refused(admin_client, connected, dovecot, smtp, mailbox):  # noqa: F811
    response = post(admin_client, "/settings/channels/new", form(dovecot.port, smtp.port, mailbox.user))
    assert response.status_code == 400
    assert 'id="error-name" role="alert">A channel with this name already exists.<' in body(response)


def test_add_stores_passwords_encrypted_and_never_shows_them(admin_client, connected, mailbox):  # noqa: F811
    stored = connected.settings
    assert stored["imap_password"].startswith(crypto.PREFIX) and stored["smtp_password"].startswith(crypto.PREFIX)
    assert IMAP_PASSWORD not in str(stored) and SMTP_PASSWORD not in str(stored)
    assert crypto.decrypt(stored["imap_password"]) == IMAP_PASSWORD
    assert stored["imap_username"] == mailbox.user and stored["folders"] == ["INBOX"]
    assert connected.kind == "email" and connected.enabled
    base = f"/settings/channels/{connected.id}"
    pages = [
        admin_client.get("/settings/channels"),
        admin_client.get(base),
        admin_client.get(f"{base}/status"),
        post(admin_client, f"{base}/test"),
        post(admin_client, f"{base}/test", htmx=True),
    ]
    assert "Sales mailbox is connected. Test the connection, then sync." in body(pages[0])
    for response in pages:
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert IMAP_PASSWORD not in page and SMTP_PASSWORD not in page
        assert stored["imap_password"] not in page and stored["smtp_password"] not in page
    edit = body(pages[1])
    assert 'id="state-imap_password">Stored password: set.' in edit
    assert 'id="state-smtp_password">Stored password: set.' in edit
    assert re.search(r'name="imap_password" id="field-imap_password" autocomplete="new-password" value=""', edit)


def test_edit_keeps_an_empty_password_and_changes_the_rest(admin_client, connected):
    values = {k: v for k, v in channel_config.public_settings(connected).items() if not isinstance(v, bool)}
    values.update(name="Support mailbox", folders="INBOX, Support", from_name="Support", append_to_sent="1",
                  imap_password="", smtp_password="")  # fmt: skip
    response = post(admin_client, f"/settings/channels/{connected.id}", values)
    assert response.status_code == 303, body(response)[:2000]
    channel = Channel.get_by_id(connected.id)
    assert channel.name == "Support mailbox"
    assert channel.settings["folders"] == ["INBOX", "Support"] and channel.settings["append_to_sent"] is True
    assert crypto.decrypt(channel.settings["imap_password"]) == IMAP_PASSWORD  # kept
    assert crypto.decrypt(channel.settings["smtp_password"]) == SMTP_PASSWORD
    # a new password replaces the stored one
    post(admin_client, f"/settings/channels/{connected.id}", {**values, "imap_password": "new secret"})
    assert crypto.decrypt(Channel.get_by_id(connected.id).settings["imap_password"]) == "new secret"
    # an error re-renders the edit form at the field, without saving
    response = post(admin_client, f"/settings/channels/{connected.id}", {**values, "imap_port": "0"})
    assert response.status_code == 400
    assert 'id="error-imap_port" role="alert">The port must be between 1 and 65535.<' in body(response)
    other = factories.make_channel("email", name="Other")
    response = post(admin_client, f"/settings/channels/{connected.id}", {**values, "name": other.name})
    assert 'id="error-name" role="alert">A channel with this name already exists.<' in body(response)
    assert Channel.get_by_id(connected.id).name == "Support mailbox"


def test_a_channel_never_fully_set_up_can_be_completed(admin_client, email_channel, dovecot, smtp):  # noqa: F811
    path = f"/settings/channels/{email_channel.id}"
    assert "Stored password: not set." in body(admin_client.get(path))
    response = post(admin_client, path, form(dovecot.port, smtp.port, "sales@example.com", imap_password=""))
    assert response.status_code == 400 and 'id="error-imap_password"' in body(response)
    response = post(admin_client, path, form(dovecot.port, smtp.port, "sales@example.com", name=email_channel.name))
    assert response.status_code == 303
    assert Channel.get_by_id(email_channel.id).settings["imap_password"].startswith(crypto.PREFIX)


# --- test connection -----------------------------------------------------------------


def test_connection_test_against_real_servers_says_ok(admin_client, connected, mailbox):  # noqa: F811
    mailbox.append("INBOX", mail())
    response = post(admin_client, f"/settings/channels/{connected.id}/test", htmx=True)
    page = body(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<div class="test-result test-ok" id="test-result-{connected.id}"')
    assert "<html" not in page  # a fragment for htmx
    steps = re.findall(r'<li class="test-step (step-\w+)">', page)
    assert steps == ["step-ok", "step-ok", "step-ok"]
    for text in ("IMAP login", "Folder INBOX", "1 messages", "SMTP login", "Connection test: everything works."):
        assert text in page
    # without htmx: a whole page with the same result
    page = body(post(admin_client, f"/settings/channels/{connected.id}/test"))
    assert "<html" in page and "Connection test: everything works." in page


def test_connection_test_with_wrong_passwords_says_what_failed(admin_client, connected):
    values = {k: v for k, v in channel_config.public_settings(connected).items() if not isinstance(v, bool)}
    response = post(
        admin_client,
        f"/settings/channels/{connected.id}",
        {**values, "name": connected.name, "imap_password": "wrong password", "smtp_password": "wrong too"},
    )
    assert response.status_code == 303
    page = body(post(admin_client, f"/settings/channels/{connected.id}/test", htmx=True))
    assert "Connection test: something failed." in page
    failed = re.findall(r'<li class="test-step step-failed">(.*?)</li>', page, re.S)
    assert len(failed) == 2, page
    assert "IMAP login" in failed[0] and "the server refused the username or password." in failed[0]
    assert "SMTP login" in failed[1] and "the server refused the username or password." in failed[1]
    assert "wrong password" not in page and "wrong too" not in page


def test_connection_test_with_a_missing_folder_and_a_closed_port(admin_client, connected, dovecot):  # noqa: F811
    values = {k: v for k, v in channel_config.public_settings(connected).items() if not isinstance(v, bool)}
    from .servers import free_port

    post(admin_client, f"/settings/channels/{connected.id}",
         {**values, "name": connected.name, "folders": "INBOX, Nope", "smtp_port": str(free_port())})  # fmt: skip
    page = body(post(admin_client, f"/settings/channels/{connected.id}/test", htmx=True))
    assert re.search(r"Folder Nope</strong>\s*<span class=\"step-detail\">missing or not readable", page), page
    assert "connection refused (is the server running, is the port right?)" in page


def test_connection_test_of_incomplete_settings(admin_client, email_channel):
    page = body(post(admin_client, f"/settings/channels/{email_channel.id}/test", htmx=True))
    assert "Settings" in page and "This mailbox is not fully set up" in page


# --- sync and health -------------------------------------------------------------------


def test_sync_now_stores_the_mail_and_shows_the_health(admin_client, connected, mailbox):  # noqa: F811
    for i in range(3):
        mailbox.append("INBOX", mail(sender=f"lead{i}@example.kr", subject=f"Question {i}", body=f"message {i}"))
    response = post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert response.status_code == 303 and response.headers["Location"] == "/settings/channels"
    assert Message.select().count() == 3 and Conversation.select().count() == 3
    channel = Channel.get_by_id(connected.id)
    assert channel.last_poll_at is not None and channel.error_count == 0 and "progress" not in channel.cursor
    page = body(admin_client.get("/settings/channels"))
    assert f"Sync finished for {channel.name}." in page
    assert re.search(r'<dd class="error-count">0</dd>', page) and ">Never<" not in page
    # with htmx: the status partial, which stays still as the sync is over
    mailbox.append("INBOX", mail(sender="lead9@example.kr", subject="Later"))
    response = post(admin_client, f"/settings/channels/{connected.id}/sync", htmx=True)
    page = body(response)
    assert page.lstrip().startswith(f'<div class="channel-status" id="channel-status-{connected.id}"')
    assert "hx-trigger" not in page and "Last successful poll" in page
    assert Message.select().count() == 4
    assert "Later" in body(admin_client.get("/inbox"))


def test_a_failing_poll_shows_the_error_and_the_count(admin_client, connected):
    values = {k: v for k, v in channel_config.public_settings(connected).items() if not isinstance(v, bool)}
    post(admin_client, f"/settings/channels/{connected.id}",
         {**values, "name": connected.name, "imap_password": "wrong password"})  # fmt: skip
    response = post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert response.status_code == 303
    page = body(admin_client.get("/settings/channels"))
    assert f"Sync failed for {connected.name}: see the last error." in page
    assert '<dd class="error-count error">1</dd>' in page
    assert "the server refused the username or password." in page
    assert "Next try" in page and ">Never<" in page


def test_disabled_channels_do_not_sync_and_can_be_enabled_again(admin_client, connected, mailbox):  # noqa: F811
    mailbox.append("INBOX", mail())
    assert post(admin_client, f"/settings/channels/{connected.id}/enabled", {"enabled": "0"}).status_code == 303
    assert Channel.get_by_id(connected.id).enabled is False
    page = body(admin_client.get("/settings/channels"))
    assert "is disabled: no mail is fetched until you enable it." in page and ">Disabled<" in page
    response = post(admin_client, f"/settings/channels/{connected.id}/sync", htmx=True)
    assert "is disabled. Enable it to sync." in body(response)
    post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert Message.select().count() == 0
    post(admin_client, f"/settings/channels/{connected.id}/enabled", {"enabled": "1"})
    assert Channel.get_by_id(connected.id).enabled is True
    post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert Message.select().count() == 1


def test_sync_of_a_mailbox_never_fully_set_up_says_why(admin_client):
    channel = factories.make_channel("email", name="Half done", enabled=True)
    response = post(admin_client, f"/settings/channels/{channel.id}/sync", htmx=True)
    assert "Half done cannot sync: This mailbox is not fully set up (missing: from_address" in body(response)
    response = post(admin_client, f"/settings/channels/{channel.id}/sync")
    assert response.status_code == 303
    assert "Half done cannot sync:" in body(admin_client.get("/settings/channels"))
    assert Channel.get_by_id(channel.id).error_count == 0


def test_status_refreshes_itself_while_a_sync_runs(admin_client, admin, connected):
    admin.timezone = "Asia/Seoul"
    admin.save()
    progress = {"folder": "INBOX", "done": 120, "total": 300, "rate": 60.0, "seconds_left": 3}
    Channel.update(cursor={"progress": progress}, last_poll_at=dt.datetime(2026, 1, 5, 3, 0)).where(
        Channel.id == connected.id
    ).execute()
    page = body(admin_client.get(f"/settings/channels/{connected.id}/status"))
    assert 'hx-trigger="load delay:2s"' in page and 'hx-swap="outerHTML"' in page
    assert "Syncing INBOX: 120 / 300" in page and "60.0 messages/s" in page and "about 3 sec left" in page
    assert '<progress max="300" value="120">' in page
    assert "12:00:00" in page  # 03:00 UTC, shown in the admin's time zone (Seoul)
    listing = body(admin_client.get("/settings/channels"))
    assert "Syncing INBOX: 120 / 300" in listing and 'hx-trigger="load delay:2s"' in listing
    # the sync is over: the partial stops asking
    Channel.update(cursor={}).where(Channel.id == connected.id).execute()
    page = body(admin_client.get(f"/settings/channels/{connected.id}/status"))
    assert "hx-trigger" not in page and "Syncing" not in page


def test_status_waits_for_a_requested_sync_then_stops(admin_client, connected):
    marker = "/0"  # never polled, no failures
    path = f"/settings/channels/{connected.id}/status"
    page = body(admin_client.get(f"{path}?since={marker}&wait=2"))
    assert "Sync requested: waiting for it to start" in page
    assert "wait=1" in page and 'hx-trigger="load delay:2s"' in page
    assert "hx-trigger" not in body(admin_client.get(f"{path}?since={marker}&wait=0"))
    # the poll finished meanwhile: the marker changed, so it stops at once
    Channel.update(last_poll_at=dt.datetime(2026, 1, 5, 3, 0)).where(Channel.id == connected.id).execute()
    page = body(admin_client.get(f"{path}?since={marker}&wait=5"))
    assert "hx-trigger" not in page and "waiting for it to start" not in page
    for garbage in ("wait=abc", "wait=" + "9" * 30, "since=%00&wait=-3"):
        assert admin_client.get(f"{path}?{garbage}").status_code in (200, 400), garbage


# --- what could not be read -------------------------------------------------------------


def test_unparsed_messages_are_listed_with_links(admin_client, connected):
    stored = ingest(
        InboundMessage(
            channel_id=connected.id, kind="email", provider_id="broken-1", address="unknown@invalid",
            subject="(unreadable message)", raw=b"\xff\xfe garbage", parse_error="HeaderParseError: bad header",
        )
    ).message  # fmt: skip
    factories.receive(connected, address="fine@example.com", subject="Fine", text="All good")
    page = body(admin_client.get("/settings/channels"))
    assert "Messages that could not be read: 1" in page
    page = body(admin_client.get(f"/settings/channels/{connected.id}"))
    assert f'href="/c/{stored.conversation_id}"' in page
    assert "HeaderParseError: bad header" in page and "Fine" not in page


# --- odd input ---------------------------------------------------------------------------


def test_unknown_channels_and_kinds_without_settings(admin_client, twilio_channel):
    for path in ("/settings/channels/999999", "/settings/channels/" + "9" * 30, "/settings/channels/999999/status"):
        assert admin_client.get(path).status_code == 404, path
    for path in (
        "/settings/channels/999999/test",
        "/settings/channels/999999/sync",
        "/settings/channels/999999/enabled",
    ):
        assert post(admin_client, path).status_code == 404, path
    # a kind these pages cannot set up
    other = factories.make_channel("fax", name="Fax line")
    base = f"/settings/channels/{other.id}"
    assert admin_client.get(base).status_code == 404
    assert post(admin_client, base, {"name": "x"}).status_code == 404
    assert post(admin_client, f"{base}/test").status_code == 404
    assert post(admin_client, f"{base}/sync").status_code == 404
    page = body(admin_client.get("/settings/channels"))
    assert "Fax line" in page and f'href="{base}"' not in page
    # a Twilio account never set up: its page opens, and the test and the poll say why not
    base = f"/settings/channels/{twilio_channel.id}"
    assert 'id="state-auth_token">Stored: not set.' in body(admin_client.get(base))
    assert "This Twilio account is not fully set up" in body(post(admin_client, f"{base}/test", htmx=True))
    assert "is disabled. Enable it to poll." in body(post(admin_client, f"{base}/sync", htmx=True))
    page = body(admin_client.get("/settings/channels"))
    assert twilio_channel.name in page and "SMS and WhatsApp (Twilio)" in page and f'href="{base}"' in page
    assert post(admin_client, f"{base}/enabled", {"enabled": "1"}).status_code == 303
    assert Channel.get_by_id(twilio_channel.id).enabled is True
    assert "cannot poll: This Twilio account is not fully set up" in body(post(admin_client, f"{base}/sync", htmx=True))


def test_forms_carry_csrf_tokens_and_refuse_without(admin_client, connected):
    for path in ("/settings/channels", "/settings/channels/new", f"/settings/channels/{connected.id}"):
        page = body(admin_client.get(path))
        forms = re.findall(r"<form\b.*?</form>", page, re.S)
        assert forms, path
        for f in forms:
            if 'method="post"' in f:
                assert 'name="csrf_token"' in f, (path, f[:200])
    response = admin_client.post(f"/settings/channels/{connected.id}/sync", data={})
    assert response.status_code == 400


def test_korean_admin_sees_the_page_in_korean(app, connected):
    korean = factories.make_user("admin", "관리자", "ko-admin@example.com", locale="ko")
    client = login(app.test_client(), korean)
    page = body(client.get("/settings/channels"))
    assert "메일함 연결" in page and "연결 테스트" in page and "마지막 성공 동기화" in page
    page = body(client.get("/settings/channels/new"))
    assert "받는 메일 (IMAP)" in page
