"""Every route, every role: who may see and do what, and what garbage input gets back.

The role matrix is checked against ``app.url_map``: a new route without an entry in
``GET_MATRIX`` or ``POST_MATRIX`` fails ``test_every_route_has_a_matrix_entry``.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.security import generate_password_hash

from inbox import canned, channel_config, contacts, conversations, intake, leads, notifications, outbound, reminders
from inbox.db import utcnow
from inbox.ingest import InboundAttachment
from inbox.models import ALL_MODELS, Attachment, Channel, Contact, Conversation, Message, Template, User

from . import factories
from .conftest import csrf_token, login, post

ROLES = ("logged_out", "agent", "manager", "admin")
LOGIN = "login"  # expected: 302 to /login?next=<the page>
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _english_and_fast_hashes(monkeypatch):
    """English messages to assert on; cheap password hashes so every test can make users."""
    monkeypatch.setenv("INBOX_DEFAULT_LOCALE", "en")
    monkeypatch.setattr(
        "inbox.users.generate_password_hash", functools.partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


# --- the world every route is tried against -------------------------------------------


@pytest.fixture
def world(agent, manager, admin, email_channel):
    """One of everything, with the ids the route patterns need."""
    msg = factories.receive(
        email_channel,
        address="customer@example.com",
        name="Customer One",
        subject="Quote",
        text="Can I get a quote?",
        attachments=[InboundAttachment("photo.png", "image/png", PNG)],
    )
    conv = Conversation.get_by_id(msg.conversation_id)
    contact = Contact.get_by_id(conv.contact_id)
    identity = contacts.add_identity(contact, admin, "phone", "010-1234-5678")
    other = contacts.create(admin, name="Customer One", emails=["other@example.com"])
    template = canned.save(
        None, manager, name="Welcome", shortcut="welcome", body="Hi {{ contact.first_name }}", channels=""
    )
    colleague = factories.make_user("agent", "Colleague Choi", "colleague@example.com")
    reply = outbound.send(conv, kind="email", text="Here is the quote.", author=agent)
    outbound.mark_failed(reply, "test failure")
    return {
        "conv": conv.id,
        "contact": contact.id,
        "other": other.id,
        "identity": identity.id,
        "message": msg.id,
        "reply": reply.id,
        "attachment": Attachment.get().id,
        "template": template.id,
        "user": colleague.id,
        "agent": agent.id,
        "since": utcnow().isoformat(),
        "channel": email_channel.id,
        "twilio": channel_config.add_twilio_channel(
            "Twilio", {"account_sid": "AC" + "0" * 32, "auth_token": "token", "sms_from": "+82215881234"}
        ).id,
        # the agent's own: other users get a 404
        "notification": notifications.notify(agent, "reminder", conv, note="Call back").id,
        "followup": reminders.remind(conv, agent, utcnow() + dt.timedelta(hours=2), "Call back").id,
        "lead_source": leads.add_source("Website form")[0].id,
        "intake": _failed_webhook(),
    }


def _failed_webhook() -> int:
    """A webhook that could not be stored after every attempt (its channel was deleted)."""
    row_id = intake.accept(None, "inbound", {"MessageSid": "SM1", "From": "+821012345678"})
    intake.process(row_id, {})
    return row_id


def _users(agent, manager, admin):
    return {"logged_out": None, "agent": agent, "manager": manager, "admin": admin}


def client_as(app, user):
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


def snapshot() -> dict:
    """Every row of every table, to prove a refused request wrote nothing."""
    return {m.__name__: list(m.select().order_by(m._meta.primary_key).tuples()) for m in ALL_MODELS}


def is_login_redirect(response, path: str) -> bool:
    if response.status_code != 302:
        return False
    location = urlsplit(response.headers["Location"])
    return location.path == "/login" and parse_qs(location.query).get("next", [""])[0].startswith(path)


def body(response) -> str:
    """The response text with HTML entities decoded, to look for messages in."""
    return html.unescape(response.get_data(as_text=True))


# --- the matrix ----------------------------------------------------------------------


def everyone(status):
    return {"logged_out": LOGIN, "agent": status, "manager": status, "admin": status}


def public(status, logged_in=None):
    other = status if logged_in is None else logged_in
    return {"logged_out": status, "agent": other, "manager": other, "admin": other}


MANAGERS = {"logged_out": LOGIN, "agent": 403, "manager": 200, "admin": 200}
AGENTS_OWN = {"logged_out": LOGIN, "agent": 302, "manager": 404, "admin": 404}  # the agent's own record
ADMINS = {"logged_out": LOGIN, "agent": 403, "manager": 403, "admin": 200}

# endpoint -> (path pattern, expected status per role) for GET
GET_MATRIX = {
    "auth.login_GET": ("/login", public(200, logged_in=302)),
    "auth.me_GET": ("/me", everyone(200)),
    "conversations.home": ("/", everyone(302)),
    "conversations.index": ("/inbox", everyone(200)),
    "conversations.updates": ("/inbox/updates?since={since}", everyone(200)),
    "conversations.show": ("/c/{conv}", everyone(200)),
    "conversations.older": ("/c/{conv}/timeline", everyone(200)),
    "conversations.conversation_updates": ("/c/{conv}/updates?since={since}&after_message=0", everyone(200)),
    "conversations.template_picker": ("/c/{conv}/templates?q=wel", everyone(200)),
    "conversations.template_render": ("/c/{conv}/templates/render?template_id={template}", everyone(200)),
    "conversations.attachment": ("/attachments/{attachment}", everyone(200)),
    "contacts.index": ("/contacts", everyone(200)),
    "contacts.new_GET": ("/contacts/new", everyone(200)),
    "contacts.show": ("/contacts/{contact}", everyone(200)),
    "contacts.duplicates": ("/contacts/duplicates", everyone(200)),
    "templates.index": ("/templates", everyone(200)),
    "templates.new_GET": ("/templates/new", MANAGERS),
    "templates.edit_GET": ("/templates/{template}", MANAGERS),
    "admin.users": ("/admin/users", ADMINS),
    "admin.user_GET": ("/admin/users/{user}", ADMINS),
    "channels.index": ("/settings/channels", ADMINS),
    "channels.new_GET": ("/settings/channels/new", ADMINS),
    "channels.new_twilio_GET": ("/settings/channels/new/twilio", ADMINS),
    "channels.edit_GET": ("/settings/channels/{channel}", ADMINS),
    "channels.status": ("/settings/channels/{channel}/status", ADMINS),
    "lead_sources.index": ("/settings/lead-sources", ADMINS),
    "lead_settings.edit_GET": ("/settings/leads", MANAGERS),
    "notifications.index": ("/notifications", everyone(200)),
    "notifications.count": ("/notifications/count", everyone(200)),
    "notifications.follow": ("/notifications/{notification}", AGENTS_OWN),
    "reminders.index": ("/reminders", everyone(200)),
    "sla_settings.edit_GET": ("/settings/sla", MANAGERS),
    "stats.now_page": ("/stats", MANAGERS),
    "stats.responses_page": ("/stats/responses?days=90&agent={agent}&channel=email", MANAGERS),
    "stats.funnel_page": ("/stats/funnel?from=2024-01-01&to=2024-03-31&source=web", MANAGERS),
    "stats.channels_page": ("/stats/channels?from=2024-01-01&to=2024-03-31&split=2024-02-01", MANAGERS),
    "stats.export_csv": ("/stats/responses.csv?table=by_agent&days=90", MANAGERS),
    "stats.conversations_csv": ("/stats/conversations.csv?days=7", MANAGERS),
    "health.healthz": ("/healthz", public(200)),
    "vendor.vendor": ("/vendor/htmx.min.js", public(200)),
    "static": ("/static/app.css", public(200)),
}

WRITE = everyone(303)
MANAGER_WRITE = {"logged_out": LOGIN, "agent": 403, "manager": 303, "admin": 303}
ADMIN_WRITE = {"logged_out": LOGIN, "agent": 403, "manager": 403, "admin": 303}
NEW_PASSWORD = "another long password"
MAILBOX = {
    "name": "New mailbox", "imap_host": "imap.example.com", "imap_port": "993", "imap_security": "ssl",
    "imap_username": "sales", "imap_password": "secret", "smtp_host": "smtp.example.com", "smtp_port": "465",
    "smtp_security": "ssl", "from_address": "sales@example.com",
}  # fmt: skip

# endpoint -> (path pattern, form, expected status per role) for POST, with a valid form
POST_MATRIX = {
    "auth.login_POST": ("/login", {"email": "nobody@example.com", "password": "wrong password"}, public(401)),
    "auth.logout_POST": ("/logout", {}, public(303)),
    "auth.language_POST": ("/language", {"locale": "en", "next": "/inbox"}, public(303)),
    "auth.me_POST": ("/me", {"name": "New Name"}, WRITE),
    "conversations.assign_POST": ("/c/{conv}/assign", {"assignee_id": "{agent}"}, WRITE),
    "conversations.close_POST": ("/c/{conv}/close", {}, WRITE),
    "conversations.reopen_POST": ("/c/{conv}/reopen", {}, WRITE),
    "conversations.snooze_POST": ("/c/{conv}/snooze", {"preset": "1h"}, WRITE),
    "conversations.reply_POST": ("/c/{conv}/reply", {"mode": "note", "text": "Called them."}, WRITE),
    "conversations.retry_POST": ("/c/{conv}/messages/{reply}/retry", {}, WRITE),
    "contacts.new_POST": ("/contacts/new", {"name": "New Lead", "emails": "lead@example.com"}, WRITE),
    "contacts.panel_POST": ("/contacts/{contact}/panel", {"company": "ACME", "tags": "vip"}, WRITE),
    "contacts.identity_POST": ("/contacts/{contact}/identities", {"kind": "email", "value": "x@example.com"}, WRITE),
    "contacts.identity_delete_POST": ("/contacts/{contact}/identities/{identity}/delete", {}, WRITE),
    "contacts.merge_POST": ("/contacts/merge", {"keep_id": "{contact}", "other_id": "{other}"}, WRITE),
    "templates.new_POST": ("/templates/new", {"name": "Bye", "shortcut": "bye", "body": "Bye"}, MANAGER_WRITE),
    "templates.edit_POST": ("/templates/{template}", {"name": "Hi", "shortcut": "hi", "body": "Hi"}, MANAGER_WRITE),
    "templates.delete_POST": ("/templates/{template}/delete", {}, MANAGER_WRITE),
    "templates.preview_POST": ("/templates/preview", {"body": "Hi {{ contact.name }}"}, everyone(200)),
    "admin.users_POST": (
        "/admin/users",
        {"email": "new@example.com", "name": "New Person", "role": "agent", "password": NEW_PASSWORD},
        ADMIN_WRITE,
    ),
    "admin.user_POST": ("/admin/users/{user}", {"name": "Renamed", "role": "manager"}, ADMIN_WRITE),
    "admin.deactivate_POST": ("/admin/users/{user}/deactivate", {"reassign_to": "{agent}"}, ADMIN_WRITE),
    "admin.reactivate_POST": ("/admin/users/{user}/reactivate", {}, ADMIN_WRITE),
    "channels.new_POST": ("/settings/channels/new", MAILBOX, ADMIN_WRITE),
    "channels.new_twilio_POST": (
        "/settings/channels/new/twilio",
        {"name": "New Twilio", "account_sid": "AC" + "1" * 32, "auth_token": "token", "sms_from": "+82215881234"},
        ADMIN_WRITE,
    ),
    "channels.edit_POST": ("/settings/channels/{channel}", {**MAILBOX, "name": "Renamed mailbox"}, ADMIN_WRITE),
    "channels.enabled_POST": ("/settings/channels/{channel}/enabled", {"enabled": "1"}, ADMIN_WRITE),
    "channels.test_POST": ("/settings/channels/{channel}/test", {}, ADMINS),
    "channels.sync_POST": ("/settings/channels/{channel}/sync", {}, ADMIN_WRITE),
    "channels.webhook_retry_POST": ("/settings/channels/webhooks/{intake}/retry", {}, ADMIN_WRITE),
    "lead_sources.create_POST": ("/settings/lead-sources", {"name": "Ad platform"}, ADMINS),  # the token page
    "lead_settings.edit_POST": (
        "/settings/leads",
        {
            "ack_template_email": "welcome",
            "rule_channel": "",
            "rule_source": "",
            "rule_language": "ko",
            "rule_agents_0": "{agent}",
        },
        MANAGER_WRITE,
    ),
    "lead_sources.deactivate_POST": ("/settings/lead-sources/{lead_source}/deactivate", {}, ADMIN_WRITE),
    # Lead capture needs no login but a lead source's bearer token: without one it is 401.
    "leads_api.create": ("/api/leads", {"email": "lead@example.com", "message": "Hi"}, public(401)),
    "contacts.consent_POST": ("/contacts/{contact}/consent", {"whatsapp_opt_in": "1"}, WRITE),
    "notifications.read_all_POST": ("/notifications/read", {}, WRITE),
    "reminders.remind_POST": ("/c/{conv}/remind", {"preset": "1h", "note": "Call back"}, WRITE),
    "reminders.cancel_POST": ("/reminders/{followup}/cancel", {}, {**AGENTS_OWN, "agent": 303}),
    "reminders.done_POST": ("/reminders/{followup}/done", {}, {**AGENTS_OWN, "agent": 303}),
    "sla_settings.edit_POST": (
        "/settings/sla",
        {
            "section": "leads",
            "lead_ack_delay_minutes": "5",
            "lead_reminder_minutes": "60, 1440",
            "lead_reengage_days": "3",
        },
        MANAGER_WRITE,
    ),  # fmt: skip
    "contacts.cadence_POST": ("/contacts/{contact}/cadence", {"cadence": "14 21"}, WRITE),
    # Provider webhooks need no login but a valid signature: unsigned is 403 for everyone.
    "webhooks.twilio_inbound": ("/webhooks/twilio/{twilio}/inbound", {"MessageSid": "SM1", "From": "+1"}, public(403)),
    "webhooks.twilio_status": (
        "/webhooks/twilio/{twilio}/status",
        {"MessageSid": "SM1", "MessageStatus": "sent"},
        public(403),
    ),
}


def fill(pattern: str, world: dict) -> str:
    return pattern.format(**world)


def test_every_route_has_a_matrix_entry(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, rule.endpoint))
    table = {("GET", e) for e in GET_MATRIX} | {("POST", e) for e in POST_MATRIX}
    assert not routes - table, f"routes without a matrix entry: {sorted(routes - table)}"
    assert not table - routes, f"matrix entries for routes that do not exist: {sorted(table - routes)}"
    adapter = app.url_map.bind("localhost")
    names = ("conv", "contact", "other", "identity", "message", "reply", "attachment", "template", "user", "agent")
    names += ("channel", "twilio", "notification", "followup", "lead_source", "intake")
    ids = dict.fromkeys(names, 1) | {"since": "2024-01-01"}
    for method, matrix in (("GET", GET_MATRIX), ("POST", POST_MATRIX)):
        for endpoint, (pattern, *_) in matrix.items():
            path = urlsplit(fill(pattern, ids)).path
            assert adapter.match(path, method=method)[0] == endpoint, f"{method} {pattern} is not {endpoint}"


@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, agent, manager, admin, role):
    client = client_as(app, _users(agent, manager, admin)[role])
    problems = []
    for endpoint, (pattern, expected) in GET_MATRIX.items():
        path = fill(pattern, world)
        response = client.get(path)
        want = expected[role]
        if want == LOGIN:
            ok = is_login_redirect(response, urlsplit(path).path)
        else:
            ok = response.status_code == want
            if want == 403:
                ok = ok and "Your role does not allow this." in body(response)
        if not ok:
            problems.append(f"{endpoint} {path}: expected {want}, got {response.status_code}")
        response.close()  # a streamed export ends here, in its own request
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(POST_MATRIX))
def test_post_matrix(app, world, agent, manager, admin, role, endpoint):
    pattern, form, expected = POST_MATRIX[endpoint]
    path = fill(pattern, world)
    data = {k: fill(v, world) for k, v in form.items()}
    client = client_as(app, _users(agent, manager, admin)[role])
    data["csrf_token"] = csrf_token(client, "/login" if role == "logged_out" else "/me")
    before = snapshot()
    response = client.post(path, data=data)
    want = expected[role]
    if want == LOGIN:
        assert is_login_redirect(response, path), (response.status_code, response.headers.get("Location"))
    else:
        assert response.status_code == want, body(response)[:2000]
    if want in (LOGIN, 403):
        assert snapshot() == before, "a refused request changed the database"
    if want == 403:
        assert "Your role does not allow this." in body(response)


def test_role_gates_on_writes(client, agent, manager, admin):
    """The examples from the role description, spelled out."""
    login(client, agent)
    response = post(client, "/admin/users", {"email": "x@example.com", "name": "X", "password": NEW_PASSWORD})
    assert response.status_code == 403
    response = post(client, "/templates/new", {"name": "X", "shortcut": "x", "body": "x"})
    assert response.status_code == 403
    assert User.select().count() == 3 and Template.select().count() == 0
    assert client.get("/templates").status_code == 200  # agents may read templates


def test_assignee_filter_is_for_managers(client, agent, manager, email_channel):
    assigned = factories.receive(email_channel, address="a@example.com", name="Assigned Lead")
    factories.receive(email_channel, address="b@example.com", name="Unassigned Lead")
    conversations.assign(Conversation.get_by_id(assigned.conversation_id), manager, manager)
    login(client, agent)
    page = body(client.get(f"/inbox?assignee={manager.id}"))
    assert "Assigned Lead" in page and "Unassigned Lead" in page  # filter ignored for agents
    client = client_as(client.application, manager)
    page = body(client.get(f"/inbox?assignee={manager.id}"))
    assert "Assigned Lead" in page and "Unassigned Lead" not in page


# --- garbage in, a clear answer out (never a 500) ---------------------------------------

HUGE_ID = "9" * 30


@pytest.fixture
def as_admin(app, world, admin):
    return client_as(app, admin)


def test_unknown_ids_are_404_with_a_message(as_admin, world, email_channel):
    other = factories.receive(email_channel, address="someone@example.com", text="Other thread")
    w = world
    gets = [
        "/c/999999", f"/c/{HUGE_ID}", "/c/999999/timeline", "/c/999999/updates?since=2024-01-01",
        "/c/999999/templates", f"/c/{w['conv']}/templates/render?template_id=999999",
        f"/c/{w['conv']}/templates/render?shortcut=nope", "/attachments/999999", f"/attachments/{HUGE_ID}",
        "/contacts/999999", f"/contacts/{HUGE_ID}", "/templates/999999", "/admin/users/999999",
        f"/admin/users/{HUGE_ID}", "/vendor/nope.js", "/no/such/page",
    ]  # fmt: skip
    posts = [
        ("/c/999999/close", {}),
        (f"/c/{w['conv']}/assign", {"assignee_id": "999999"}),
        (f"/c/{w['conv']}/messages/999999/retry", {}),
        (f"/c/{w['conv']}/messages/{other.id}/retry", {}),  # a message of another conversation
        (f"/c/{HUGE_ID}/reply", {"text": "hello"}),
        ("/contacts/999999/panel", {"name": "x"}),
        ("/contacts/999999/identities", {"kind": "email", "value": "a@example.com"}),
        (f"/contacts/{w['contact']}/identities/{HUGE_ID}/delete", {}),
        ("/contacts/merge", {"keep_id": w["contact"], "other_id": "999999"}),
        ("/templates/999999", {"name": "x", "shortcut": "x", "body": "x"}),
        ("/templates/999999/delete", {}),
        ("/templates/preview", {"contact_id": "999999", "body": "x"}),
        ("/admin/users/999999", {"name": "x"}),
        (f"/admin/users/{w['user']}/deactivate", {"reassign_to": "999999"}),
        ("/admin/users/999999/reactivate", {}),
    ]
    before = snapshot()
    problems = []
    for path in gets:
        response = as_admin.get(path)
        if response.status_code != 404 or "Nothing here" not in body(response):
            problems.append(f"GET {path}: {response.status_code}")
    for path, data in posts:
        response = post(as_admin, path, data)
        if response.status_code != 404 or "Nothing here" not in body(response):
            problems.append(f"POST {path}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert snapshot() == before


def test_404_keeps_the_views_own_reason(as_admin, world, email_channel, admin):
    factories.receive(
        email_channel, address="big@example.com",
        attachments=[InboundAttachment("huge.zip", "application/zip", None, size=50 * MB, note="too large: 50 MB")],
    )  # fmt: skip
    att = Attachment.select().order_by(Attachment.id.desc()).get()
    response = as_admin.get(f"/attachments/{att.id}")
    assert response.status_code == 404
    assert "This file was not kept: too large: 50 MB" in body(response)
    contacts.merge(Contact.get_by_id(world["contact"]), Contact.get_by_id(world["other"]), admin)
    response = post(as_admin, f"/contacts/{world['other']}/panel", {"name": "x"})
    assert response.status_code == 404
    assert "This contact was merged into another one." in body(response)
    # the merged contact's page sends people to the contact it was merged into
    response = as_admin.get(f"/contacts/{world['other']}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contacts/{world['contact']}")


def test_non_integer_ids_are_400(as_admin, world):
    w = world
    gets = [
        ("/contacts?after=abc", "after must be a whole number."),
        ("/contacts?after=1.5", "after must be a whole number."),
        (f"/contacts?after={HUGE_ID}", "after is out of range."),
        ("/inbox?assignee=abc", "assignee must be a whole number."),
        ("/inbox?assignee=²", "assignee must be a whole number."),
        (f"/inbox/updates?since={w['since']}&assignee=x", "assignee must be a whole number."),
        (f"/c/{w['conv']}/updates?since={w['since']}&after_message=x", "after_message must be a whole number."),
        (f"/c/{w['conv']}/updates?since={w['since']}&after_event=[]", "after_event must be a whole number."),
        (f"/c/{w['conv']}/templates/render?template_id=x", "template_id must be a whole number."),
        (f"/c/{w['conv']}/templates/render?template_id={HUGE_ID}", "template_id is out of range."),
    ]
    posts = [
        (f"/c/{w['conv']}/assign", {"assignee_id": "abc"}, "assignee_id must be a whole number."),
        (f"/c/{w['conv']}/assign", {"assignee_id": HUGE_ID}, "assignee_id is out of range."),
        ("/contacts/merge", {"keep_id": "x", "other_id": w["other"]}, "keep_id must be a whole number."),
        ("/contacts/merge", {"keep_id": w["contact"], "other_id": "1e3"}, "other_id must be a whole number."),
        ("/contacts/merge", {}, "Choose the two contacts to merge."),
        ("/templates/preview", {"contact_id": "abc", "body": "x"}, "contact_id must be a whole number."),
        (f"/admin/users/{w['user']}/deactivate", {"reassign_to": "abc"}, "reassign_to must be a whole number."),
    ]
    before = snapshot()
    problems = []
    for path, reason in gets:
        response = as_admin.get(path)
        if response.status_code != 400 or reason not in body(response):
            problems.append(f"GET {path}: {response.status_code}")
    for path, data, reason in posts:
        response = post(as_admin, path, data)
        if response.status_code != 400 or reason not in body(response):
            problems.append(f"POST {path} {data}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert snapshot() == before


def test_owner_that_is_not_a_number_is_a_panel_error(as_admin, world):
    for owner in ("abc", "²", HUGE_ID, "-1"):
        response = post(as_admin, f"/contacts/{world['contact']}/panel", {"owner_id": owner}, htmx=True)
        assert response.status_code == 200, owner
        assert "Unknown owner." in body(response) or "Unknown or deactivated owner." in body(response), owner
    assert Contact.get_by_id(world["contact"]).owner_id is None


def test_huge_strings(as_admin, world):
    w = world
    megabyte = "x" * MB
    before = snapshot()
    for path, data, reason in [
        (f"/c/{w['conv']}/reply", {"kind": "email", "text": megabyte}, "The message is longer than 50000 characters."),
        (f"/c/{w['conv']}/reply", {"mode": "note", "text": megabyte}, "The note is too long."),
        ("/contacts/new", {"name": megabyte}, "Too long (at most 255 characters)."),
        ("/contacts/new", {"name": "Kim", "notes": megabyte}, "Too long (at most 20000 characters)."),
        ("/contacts/new", {"emails": megabyte}, "Not a valid email address"),
        ("/admin/users", {"email": "big@example.com", "name": megabyte, "password": NEW_PASSWORD},
         "Give a name of at most 120 characters."),
        ("/admin/users", {"email": "big@example.com", "name": "Big", "password": megabyte}, "The password is too long."),
        ("/templates/new", {"name": "Big", "shortcut": "big", "body": megabyte},
         "The template is longer than 20,000 characters."),
    ]:  # fmt: skip
        response = post(as_admin, path, data)
        assert response.status_code == 400, path
        assert reason in body(response), path
    for path, data, reason in [
        (f"/contacts/{w['contact']}/panel", {"name": megabyte}, "Too long (at most 255 characters)."),
        (
            f"/contacts/{w['contact']}/identities",
            {"kind": "phone", "value": megabyte},
            "Phone number is empty or too long.",
        ),
        ("/templates/preview", {"body": megabyte}, "x" * 20_000),  # previews the first 20,000 characters
    ]:
        response = post(as_admin, path, data, htmx=True)
        assert response.status_code == 200, path
        assert reason in body(response), path
    assert snapshot() == before
    # search boxes cut the query short instead of failing
    for path in (
        f"/inbox?q={megabyte}",
        f"/contacts?q={megabyte}",
        f"/c/{w['conv']}/templates?q={megabyte}",
    ):
        assert as_admin.get(path).status_code == 200, path[:60]
    assert as_admin.get(f"/c/{w['conv']}/templates/render?shortcut={megabyte}").status_code == 404


def test_body_over_the_size_limit_is_413(as_admin, world):
    data = {"csrf_token": csrf_token(as_admin, "/me"), "text": "x" * (26 * MB)}
    response = as_admin.post(f"/c/{world['conv']}/reply", data=data)
    assert response.status_code == 413
    assert "The upload is too large." in body(response)


def test_unknown_filter_values_fall_back_to_defaults(as_admin, world):
    for query in (
        "folder=nope&sort=nope",
        "channel=fax&lead_status=nope&tag=" + "t" * 500,
        "folder[]=open&sort=",
        "q=%00%ff",
        "q=\"'*(){}[]:^-",
    ):
        response = as_admin.get(f"/inbox?{query}")
        assert response.status_code == 200, query
    assert "Customer One" in body(as_admin.get("/inbox?folder=nope&sort=nope"))


@pytest.mark.parametrize(
    "since",
    ["", "now", "yesterday", "2024-13-01", "0001-01-01", "0001-01-01T00:00:00%2B09:00", "%00"],
)
def test_malformed_since_is_400(as_admin, world, since):
    for path in ("/inbox/updates", f"/c/{world['conv']}/updates"):
        response = as_admin.get(f"{path}?since={since}")
        assert response.status_code == 400, path
        assert "since must be a timestamp." in body(response)


@pytest.mark.parametrize("since", ["2024-01-01T00:00:00%2B09:00", "2024-01-01T00:00:00Z", "9999-12-31T23:59:59"])
def test_odd_but_valid_since(as_admin, world, since):
    for path in ("/inbox/updates", f"/c/{world['conv']}/updates"):
        assert as_admin.get(f"{path}?since={since}").status_code == 200, path


@pytest.mark.parametrize(
    ("cursor", "status"),
    [
        ("garbage", 200),
        ("2024-01-01T00:00:00|", 200),
        ("|5", 200),
        ("x|1", 200),
        ("2024-01-01T00:00:00|abc", 200),
        ("2024-01-01T00:00:00|" + "1" * 20, 400),
        ("2024-01-01T00:00:00%2B09:00|5", 200),
        ("9999-12-31T23:59:59|1", 200),
    ],
)
def test_malformed_cursors(as_admin, world, cursor, status):
    """A cursor that cannot be read means the first page; one whose id no database can
    hold is a 400."""
    for path in (
        f"/inbox?cursor={cursor}",
        f"/inbox?sort=waiting&cursor={cursor}",
        f"/c/{world['conv']}/timeline?before={cursor}",
    ):
        response = as_admin.get(path)
        assert response.status_code == status, path
        if status == 400:
            assert "is out of range." in body(response)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("email", "not an email", "Not a valid email address"),
        ("email", "", "Not a valid email address"),
        ("email", "a@" + "b" * 300 + ".com", "Not a valid email address"),
        ("phone", "12", "not a valid phone number"),
        ("phone", "call me", "Not a phone number"),
        ("phone", "1" * 100, "Phone number is empty or too long."),
        ("email", "customer@example.com", "customer@example.com is already on this contact."),
        ("email", "other@example.com", "other@example.com belongs to Customer One; merge the two contacts instead."),
    ],
)
def test_bad_identity_rerenders_the_panel_with_the_reason(as_admin, world, kind, value, reason):
    before = snapshot()
    path = f"/contacts/{world['contact']}/identities"
    response = post(as_admin, path, {"kind": kind, "value": value}, htmx=True)
    assert response.status_code == 200
    assert reason.lower() in body(response).lower()
    assert f'id="panel-contact-{world["contact"]}"' in body(response)
    # without HTMX: back to the contact page, with the reason flashed there
    response = post(as_admin, path, {"kind": kind, "value": value})
    assert response.status_code == 303
    assert reason.lower() in body(as_admin.get(response.headers["Location"])).lower()
    assert snapshot() == before


def test_identity_kind_must_be_email_or_phone(as_admin, world):
    response = post(as_admin, f"/contacts/{world['contact']}/identities", {"kind": "fax", "value": "123"})
    assert response.status_code == 400 and "kind must be email or phone." in body(response)


def test_bad_contact_fields(as_admin, world):
    path = f"/contacts/{world['contact']}/panel"
    for data, reason in [
        ({"lead_status": "zzz"}, "Unknown lead status."),
        ({"next_action_at": "tomorrow"}, "Next action date is not a date."),
        ({"next_action_at": "0001-01-01T00:00"}, "Next action date is not a date."),
        ({"next_action_at": "9999-12-31T23:59"}, ""),
        ({"owner_id": "999999"}, "Unknown or deactivated owner."),
    ]:
        response = post(as_admin, path, data, htmx=True)
        assert response.status_code == 200, data
        assert reason in body(response), data
    response = post(as_admin, "/contacts/new", {"name": "Kim", "next_action_at": "0001-01-01T00:00"})
    assert response.status_code == 400 and "Next action date is not a date." in body(response)
    response = post(as_admin, "/contacts/new", {})
    assert response.status_code == 400 and "Give at least a name, an email or a phone." in body(response)


def test_snooze_in_the_past_or_garbage(as_admin, world):
    path = f"/c/{world['conv']}/snooze"
    before = snapshot()
    for until, reason in [
        ("2000-01-01T00:00", "Pick a time in the future."),
        ("0001-01-01T00:00", "Pick a date and time to snooze until."),
        ("9999-12-31T23:59", "Snooze for at most a year."),
        ("soon", "Pick a date and time to snooze until."),
        ("", "Pick a date and time to snooze until."),
    ]:
        response = post(as_admin, path, {"until": until})
        assert response.status_code == 400, until
        assert reason in body(response), until
        response = post(as_admin, path, {"until": until}, htmx=True)
        assert response.status_code == 200, until
        assert reason in body(response), until
    response = post(as_admin, path, {"preset": "forever"})
    assert response.status_code == 400 and "Pick a date and time to snooze until." in body(response)
    assert snapshot() == before
    assert Conversation.get_by_id(world["conv"]).state == "open"


def test_empty_or_odd_replies(as_admin, world):
    path = f"/c/{world['conv']}/reply"
    before = snapshot()
    for data, reason in [
        ({"kind": "email", "text": ""}, "The message is empty."),
        ({"kind": "email", "text": "   \n\t "}, "The message is empty."),
        ({"text": "hello"}, "Unknown channel"),
        ({"kind": "fax", "text": "hello"}, "Unknown channel: fax"),
        ({"mode": "note", "text": ""}, "The note is empty."),
    ]:
        response = post(as_admin, path, data)
        assert response.status_code == 400, data
        assert reason in body(response), data
        response = post(as_admin, path, data, htmx=True)
        assert response.status_code == 200, data
        assert reason in body(response), data
    assert snapshot() == before
    # a contact without a phone cannot get an SMS
    lonely = factories.receive(Channel.get(), address="lonely@example.com", text="hi")
    response = post(as_admin, f"/c/{lonely.conversation_id}/reply", {"kind": "sms", "text": "hello"})
    assert response.status_code == 400 and "This contact has no phone number." in body(response)
    assert Message.select().where(Message.direction == "out").count() == 1  # the world's failed reply


def test_wrong_types_and_shapes(as_admin, world, admin):
    w = world
    # JSON instead of a form: nothing to read, so the view says what is missing
    response = as_admin.post(
        f"/c/{w['conv']}/reply",
        json={"kind": "email", "text": "hi"},
        headers={"X-CSRFToken": csrf_token(as_admin, "/me")},
    )
    assert response.status_code == 400 and "The message is empty." in body(response)
    # repeated fields: the first one counts
    response = post(as_admin, f"/c/{w['conv']}/assign", {"assignee_id": [str(w["agent"]), "abc"]})
    assert response.status_code == 303
    assert Conversation.get_by_id(w["conv"]).assignee_id == w["agent"]
    # admin forms
    new_user = {"email": "l@example.com", "name": "L", "password": NEW_PASSWORD}
    response = post(as_admin, "/admin/users", {**new_user, "locale": "xx"})
    assert response.status_code == 400 and "Language must be ko or en." in body(response)
    response = post(as_admin, "/admin/users", {"email": "l@example.com", "name": "L", "role": "god"})
    assert response.status_code == 400 and "Role must be agent, manager or admin." in body(response)
    response = post(as_admin, "/admin/users", {"email": "bad", "name": "L"})
    assert response.status_code == 400 and "Not a valid email address" in body(response)
    response = post(as_admin, "/admin/users", {"email": "l@example.com", "name": "L", "password": "short"})
    assert response.status_code == 400 and "The password needs at least 10 characters." in body(response)
    assert not User.select().where(User.email == "l@example.com").exists()
    for path, data, reason in [
        (f"/admin/users/{w['user']}", {"role": "god"}, "Role must be agent, manager or admin."),
        (f"/admin/users/{w['user']}", {"name": "  "}, "Give a name of at most 120 characters."),
        (f"/admin/users/{admin.id}/deactivate", {}, "You cannot deactivate yourself."),
        (f"/admin/users/{w['user']}/deactivate", {"reassign_to": w["user"]}, "Pick an active colleague to take over."),
        ("/me", {"timezone": "Mars/Olympus_Mons"}, "Unknown time zone."),
        ("/me", {"locale": "xx"}, "Language must be ko or en."),
        ("/me", {"new_password": NEW_PASSWORD, "current_password": "wrong"}, "The current password is wrong."),
        ("/me", {"new_password": "short", "current_password": factories.PASSWORD},
         "The password needs at least 10 characters."),
    ]:  # fmt: skip
        response = post(as_admin, path, data)
        assert response.status_code == 303, (path, data)
        assert reason in body(as_admin.get(response.headers["Location"])), (path, data)
    assert User.get_by_id(w["user"]).role == "agent" and User.get_by_id(w["user"]).active
    # templates
    for data, reason in [
        ({"name": "", "shortcut": "", "body": "x"}, "Name and shortcut are required."),
        ({"name": "x", "shortcut": "a b", "body": "x"}, "Shortcut: letters, digits, - and _ only"),
        ({"name": "x", "shortcut": "welcome", "body": "x"}, "The shortcut /welcome is already used by"),
        ({"name": "x", "shortcut": "x", "body": "{{ nope }}"}, "Template error"),
        ({"name": "x", "shortcut": "x", "body": "{% for %}"}, "Template error"),
        ({"name": "x", "shortcut": "x", "body": "{{ ''.__class__.__mro__ }}"}, "Template error"),
    ]:
        response = post(as_admin, "/templates/new", data)
        assert response.status_code == 400, data
        assert reason in body(response), data
    response = post(as_admin, "/templates/preview", {"body": "{{ contact.name.__class__ }}"}, htmx=True)
    assert response.status_code == 200 and "Template error" in body(response)
    response = post(as_admin, "/contacts/merge", {"keep_id": w["contact"], "other_id": w["contact"]})
    assert response.status_code == 400 and "A contact cannot be merged with itself." in body(response)


def test_wrong_method_is_405(as_admin, world):
    for path in ("/logout", f"/c/{world['conv']}/close", "/contacts/merge"):
        response = as_admin.get(path)
        assert response.status_code == 405, path
        assert "This action is not available here." in body(response)
    assert as_admin.delete(f"/c/{world['conv']}").status_code == 405
