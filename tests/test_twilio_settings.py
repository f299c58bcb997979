"""Settings > Channels for a Twilio account (SMS + WhatsApp): admins connect it through the
form, against the local Twilio-compatible server, see the webhook URLs to paste into
Twilio's console, test the credentials and poll now; the auth token never comes back out."""

from __future__ import annotations

import html
import re

import pytest

from inbox import crypto
from inbox.models import AuditEvent, Channel, Message

from . import factories
from .conftest import login, post
from .test_twilio_channel import CUSTOMER, SMS_NUMBER, WA_NUMBER, twilio, twilio_server  # noqa: F401

API_KEY_SID = "SK" + "5" * 32
API_KEY_SECRET = "api-key-secret-value"


def body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("INBOX_DEFAULT_LOCALE", "en")


@pytest.fixture
def admin_client(client, admin):
    return login(client, admin)


def form(server, **changes) -> dict:
    values = {
        "name": "Sales SMS", "account_sid": server.account_sid, "auth_token": server.auth_token,
        "api_key_sid": "", "api_key_secret": "", "sms_from": SMS_NUMBER, "whatsapp_from": "010-9999-0000",
        "messaging_service_sid": "", "api_base_url": server.base_url,
    }  # fmt: skip
    values.update(changes)
    return values


@pytest.fixture
def connected(admin_client, twilio):  # noqa: F811
    response = post(admin_client, "/settings/channels/new/twilio", form(twilio))
    assert response.status_code == 303, body(response)[:2000]
    channel = Channel.get(Channel.name == "Sales SMS")
    assert response.headers["Location"] == f"/settings/channels/{channel.id}"
    return channel


def stored_values(channel: Channel, **changes) -> dict:
    """The edit form as the page fills it (secrets empty), with ``changes``."""
    values = {k: v for k, v in channel.settings.items() if isinstance(v, str)}
    values.update({"name": channel.name, "auth_token": "", "api_key_secret": "", **changes})
    return values


# --- who may -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_agents_and_managers_get_403(client, twilio_channel, role):
    login(client, factories.make_user(role, f"{role} user", f"{role}@example.com"))
    base = f"/settings/channels/{twilio_channel.id}"
    for path in ("/settings/channels/new/twilio", base, f"{base}/status"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Your role does not allow this." in body(response)
    for path in ("/settings/channels/new/twilio", base, f"{base}/test", f"{base}/sync", f"{base}/enabled"):
        data = {"name": "x", "account_sid": "AC" + "1" * 32, "auth_token": "t", "sms_from": SMS_NUMBER}
        assert post(client, path, data).status_code == 403, path
    assert Channel.select().count() == 1 and Channel.get().settings == twilio_channel.settings


def test_logged_out_is_sent_to_login(client, twilio_channel):
    for path in ("/settings/channels/new/twilio", f"/settings/channels/{twilio_channel.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), path


def test_the_list_offers_to_connect_twilio(admin_client):
    page = body(admin_client.get("/settings/channels"))
    assert 'id="connect-twilio"' in page and 'href="/settings/channels/new/twilio"' in page
    page = body(admin_client.get("/settings/channels/new/twilio"))
    assert "<h1>Connect Twilio</h1>" in page
    for name in ("name", "account_sid", "auth_token", "api_key_sid", "api_key_secret", "sms_from", "whatsapp_from",
                 "messaging_service_sid", "api_base_url"):  # fmt: skip
        assert f'id="field-{name}"' in page, name
    assert 'id="webhooks"' not in page  # no URLs before the account exists


# --- connecting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": " "}, "name", "Give the account a name."),
        ({"account_sid": "XX123"}, "account_sid", "The account SID starts with AC and has 34 characters."),
        ({"auth_token": ""}, "auth_token", "The auth token is needed (it also checks webhook signatures)."),
        ({"sms_from": "call us"}, "sms_from", "Not a valid phone number."),
        ({"whatsapp_from": "12"}, "whatsapp_from", "Not a valid phone number."),
        ({"sms_from": "", "whatsapp_from": ""}, "sms_from", "Give an SMS number, a WhatsApp sender or a Messaging"),
        ({"messaging_service_sid": "MG1"}, "messaging_service_sid", "A Messaging Service SID starts with MG"),
        ({"api_key_sid": API_KEY_SID}, "api_key_secret", "An API key needs its secret."),
        ({"api_base_url": "ftp://x"}, "api_base_url", "The API base URL must start with http:// or https://."),
    ],
)
def test_a_failed_add_rerenders_the_form_with_the_fields_error(admin_client, twilio, changes, field, reason):  # noqa: F811
    response = post(admin_client, "/settings/channels/new/twilio", form(twilio, **changes))
    page = body(response)
    assert response.status_code == 400
    assert re.search(rf'id="error-{field}" role="alert">{re.escape(reason)}', page), page[:3000]
    assert f'aria-describedby="error-{field}"' in page
    assert twilio.auth_token not in page  # never echoed back
    if field != "account_sid":
        assert f'value="{twilio.account_sid}"' in page  # what was typed is kept
    assert Channel.select().count() == 0


def test_a_duplicate_name_is_refused(admin_client, connected, twilio):  # noqa: F811
    response = post(admin_client, "/settings/channels/new/twilio", form(twilio))
    assert response.status_code == 400
    assert 'id="error-name" role="alert">A channel with this name already exists.<' in body(response)


def test_add_stores_the_token_encrypted_and_never_shows_it(admin_client, connected, twilio):  # noqa: F811
    stored = connected.settings
    assert connected.kind == "twilio" and connected.enabled
    assert stored["auth_token"].startswith(crypto.PREFIX) and crypto.decrypt(stored["auth_token"]) == twilio.auth_token
    assert twilio.auth_token not in str(stored)
    assert stored["sms_from"] == SMS_NUMBER and stored["whatsapp_from"] == WA_NUMBER  # normalised to E.164
    assert stored["api_base_url"] == twilio.base_url
    assert AuditEvent.select().where(AuditEvent.action == "channel_added").exists()
    base = f"/settings/channels/{connected.id}"
    pages = [
        admin_client.get(base),
        admin_client.get("/settings/channels"),
        admin_client.get(f"{base}/status"),
        post(admin_client, f"{base}/test"),
        post(admin_client, f"{base}/test", htmx=True),
        post(admin_client, f"{base}/sync", htmx=True),
    ]
    assert "Sales SMS is connected. Paste the webhook URLs below into Twilio's console" in body(pages[0])
    for response in pages:
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert twilio.auth_token not in page and stored["auth_token"] not in page
    edit = body(pages[0])
    assert 'id="state-auth_token">Stored: set.' in edit and 'id="state-api_key_secret">Stored: not set.' in edit
    assert 'name="auth_token" id="field-auth_token" autocomplete="new-password" value=""' in edit
    assert f'value="{twilio.account_sid}"' in edit and f'value="{SMS_NUMBER}"' in edit
    listing = body(pages[1])
    assert f"{SMS_NUMBER} · {WA_NUMBER}" in listing and "Poll now" in listing
    assert f'href="{base}"' in listing


def test_the_edit_page_shows_the_webhook_urls_and_they_work(admin_client, connected, twilio):  # noqa: F811
    page = body(admin_client.get(f"/settings/channels/{connected.id}"))
    inbound = re.search(r'id="webhook-inbound" class="webhook-url" value="([^"]+)" readonly', page).group(1)
    status = re.search(r'id="webhook-status" class="webhook-url" value="([^"]+)" readonly', page).group(1)
    assert inbound == f"http://127.0.0.1:8000/webhooks/twilio/{connected.id}/inbound"
    assert status == f"http://127.0.0.1:8000/webhooks/twilio/{connected.id}/status"
    assert page.index('id="webhooks"') < page.index('id="channel-form"')  # above the form
    # What the page says to paste is what Twilio can call: a signed webhook is stored.
    sent = twilio.inbound(CUSTOMER, SMS_NUMBER, "Is the webhook set?", url=inbound)
    assert sent.response.status_code == 200
    assert Message.get().text == "Is the webhook set?"


def test_edit_keeps_an_empty_token_and_changes_the_rest(admin_client, connected, twilio):  # noqa: F811
    path = f"/settings/channels/{connected.id}"
    values = stored_values(connected, name="Support SMS", sms_from="+82215885555", whatsapp_from="")
    response = post(admin_client, path, values)
    assert response.status_code == 303 and response.headers["Location"] == path, body(response)[:2000]
    channel = Channel.get_by_id(connected.id)
    assert channel.name == "Support SMS" and channel.settings["sms_from"] == "+82215885555"
    assert channel.settings["whatsapp_from"] == ""
    assert crypto.decrypt(channel.settings["auth_token"]) == twilio.auth_token  # kept
    assert "Saved." in body(admin_client.get(path))
    # a new token replaces the stored one
    post(admin_client, path, {**values, "auth_token": "a new token"})
    assert crypto.decrypt(Channel.get_by_id(connected.id).settings["auth_token"]) == "a new token"
    # an error re-renders the edit form at the field, without saving
    response = post(admin_client, path, {**values, "messaging_service_sid": "nope"})
    assert response.status_code == 400
    page = body(response)
    assert 'id="error-messaging_service_sid" role="alert">A Messaging Service SID starts with MG' in page
    assert 'id="webhook-inbound"' in page  # still the edit page
    other = factories.make_channel("email", name="Other")
    response = post(admin_client, path, {**values, "name": other.name})
    assert 'id="error-name" role="alert">A channel with this name already exists.<' in body(response)
    response = post(admin_client, path, {**values, "name": ""})
    assert 'id="error-name" role="alert">Give the account a name.<' in body(response)
    assert Channel.get_by_id(connected.id).name == "Support SMS"


def test_a_twilio_channel_never_fully_set_up_can_be_completed(admin_client, twilio_channel, twilio):  # noqa: F811
    path = f"/settings/channels/{twilio_channel.id}"
    response = post(admin_client, path, form(twilio, name=twilio_channel.name, auth_token=""))
    assert response.status_code == 400 and 'id="error-auth_token"' in body(response)
    response = post(admin_client, path, form(twilio, name=twilio_channel.name))
    assert response.status_code == 303
    assert Channel.get_by_id(twilio_channel.id).settings["auth_token"].startswith(crypto.PREFIX)


# --- test connection -----------------------------------------------------------------


def _steps(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<li class="test-step (step-\w+)">.*?<span class="step-detail">(.*?)</span>', page, re.S)


def test_connection_test_against_the_server_says_ok(admin_client, connected, twilio):  # noqa: F811
    response = post(admin_client, f"/settings/channels/{connected.id}/test", htmx=True)
    page = body(response)
    assert page.lstrip().startswith(f'<div class="test-result test-ok" id="test-result-{connected.id}"')
    assert "<html" not in page and "Twilio credentials" in page
    assert _steps(page) == [("step-ok", "account Test account")]
    assert "Connection test: everything works." in page
    assert twilio.requests_to("GET", f"/Accounts/{twilio.account_sid}.json")
    page = body(post(admin_client, f"/settings/channels/{connected.id}/test"))  # without htmx: a whole page
    assert "<html" in page and "Connection test: everything works." in page


def test_connection_test_with_a_wrong_token_says_what_failed(admin_client, connected, twilio):  # noqa: F811
    path = f"/settings/channels/{connected.id}"
    assert post(admin_client, path, stored_values(connected, auth_token="wrong token")).status_code == 303
    page = body(post(admin_client, f"{path}/test", htmx=True))
    assert "Connection test: something failed." in page
    assert _steps(page) == [("step-failed", "Twilio refused the account SID / auth token (or API key).")]
    assert "wrong token" not in page


def test_connection_test_with_an_api_key_and_an_unreachable_api(admin_client, connected, twilio):  # noqa: F811
    twilio.add_api_key(API_KEY_SID, API_KEY_SECRET)
    path = f"/settings/channels/{connected.id}"
    values = stored_values(connected, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
    assert post(admin_client, path, values).status_code == 303
    channel = Channel.get_by_id(connected.id)
    assert crypto.decrypt(channel.settings["api_key_secret"]) == API_KEY_SECRET
    assert 'id="state-api_key_secret">Stored: set.' in body(admin_client.get(path))
    assert _steps(body(post(admin_client, f"{path}/test", htmx=True))) == [("step-ok", "account Test account")]
    assert twilio.requests[-1].auth == (API_KEY_SID, API_KEY_SECRET)
    post(admin_client, path, {**stored_values(channel), "api_key_secret": "wrong secret"})
    page = body(post(admin_client, f"{path}/test", htmx=True))
    assert _steps(page) == [("step-failed", "Twilio refused the account SID / auth token (or API key).")]
    from .servers import free_port

    post(admin_client, path, {**stored_values(channel), "api_base_url": f"http://127.0.0.1:{free_port()}"})
    page = body(post(admin_client, f"{path}/test", htmx=True))
    assert _steps(page) == [("step-failed", "Twilio API unreachable: ConnectionError")]


def test_connection_test_of_incomplete_settings(admin_client, twilio_channel):
    page = body(post(admin_client, f"/settings/channels/{twilio_channel.id}/test", htmx=True))
    assert "step-failed" in page and "This Twilio account is not fully set up" in page


# --- poll now and health -----------------------------------------------------------------


def test_poll_now_stores_an_inbound_message_and_shows_the_health(admin_client, connected, twilio):  # noqa: F811
    twilio.inbound(CUSTOMER, SMS_NUMBER, "No webhook reached you")  # stored at Twilio only
    response = post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert response.status_code == 303 and response.headers["Location"] == "/settings/channels"
    (message,) = Message.select()
    assert message.text == "No webhook reached you" and message.channel_kind == "sms"
    assert message.address == CUSTOMER
    channel = Channel.get_by_id(connected.id)
    assert channel.last_poll_at is not None and channel.error_count == 0
    page = body(admin_client.get("/settings/channels"))
    assert "Poll finished for Sales SMS." in page and '<dd class="error-count">0</dd>' in page
    # with htmx: the status partial, still as the poll is over
    twilio.inbound("+821055556666", WA_NUMBER, "via whatsapp", whatsapp=True)
    page = body(post(admin_client, f"/settings/channels/{connected.id}/sync", htmx=True))
    assert page.lstrip().startswith(f'<div class="channel-status" id="channel-status-{connected.id}"')
    assert "hx-trigger" not in page and "Last successful poll" in page and ">Never<" not in page
    assert Message.select().count() == 2
    # the edit page shows the same health, with its own Poll now button
    page = body(admin_client.get(f"/settings/channels/{connected.id}"))
    assert f'id="channel-status-{connected.id}"' in page and 'class="sync-now poll-now"' in page


def test_a_failing_poll_shows_the_error_and_the_count(admin_client, connected):
    post(admin_client, f"/settings/channels/{connected.id}", stored_values(connected, auth_token="wrong token"))
    response = post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert response.status_code == 303
    page = body(admin_client.get("/settings/channels"))
    assert "Poll failed for Sales SMS: see the last error." in page
    assert '<dd class="error-count error">1</dd>' in page and "Twilio" in page and ">Never<" in page
    assert Channel.get_by_id(connected.id).last_error


def test_a_disabled_account_is_not_polled(admin_client, connected, twilio):  # noqa: F811
    twilio.inbound(CUSTOMER, SMS_NUMBER, "hello")
    response = post(admin_client, f"/settings/channels/{connected.id}/enabled", {"enabled": "0"})
    assert response.status_code == 303
    assert "nothing is sent or polled through it until you enable it." in body(admin_client.get("/settings/channels"))
    assert "Sales SMS is disabled. Enable it to poll." in body(
        post(admin_client, f"/settings/channels/{connected.id}/sync", htmx=True)
    )
    assert Message.select().count() == 0
    post(admin_client, f"/settings/channels/{connected.id}/enabled", {"enabled": "1"})
    assert "messages are sent and polled through it." in body(admin_client.get("/settings/channels"))
    post(admin_client, f"/settings/channels/{connected.id}/sync")
    assert Message.select().count() == 1


# --- forms and language ------------------------------------------------------------------


def test_forms_carry_csrf_tokens(admin_client, connected):
    for path in ("/settings/channels/new/twilio", f"/settings/channels/{connected.id}"):
        forms = re.findall(r"<form\b.*?</form>", body(admin_client.get(path)), re.S)
        assert len(forms) >= 2 if "new" not in path else forms, path
        for f in forms:
            if 'method="post"' in f:
                assert 'name="csrf_token"' in f, (path, f[:200])
    response = admin_client.post("/settings/channels/new/twilio", data={"name": "x"})
    assert response.status_code == 400 and Channel.select().count() == 1


def test_korean_admin_sees_the_twilio_pages_in_korean(app, connected):
    korean = factories.make_user("admin", "관리자", "ko-admin@example.com", locale="ko")
    client = login(app.test_client(), korean)
    page = body(client.get("/settings/channels"))
    assert "Twilio 연결" in page and "지금 가져오기" in page
    page = body(client.get(f"/settings/channels/{connected.id}"))
    assert "Twilio 콘솔에 입력할 웹후크 URL" in page and "인증 토큰" in page
    page = body(post(client, f"/settings/channels/{connected.id}/test", htmx=True))
    assert "Twilio 인증 정보" in page and "계정 Test account" in page
