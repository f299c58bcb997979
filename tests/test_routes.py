"""Every route, every role: who may see and do what, and what garbage input gets back.

The role matrix is checked against ``app.url_map``: a new route without an entry in
``GET_MATRIX`` or ``POST_MATRIX`` fails ``test_every_route_has_a_matrix_entry``.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.security import generate_password_hash

from inbox import canned, contacts, outbound
from inbox.db import utcnow
from inbox.ingest import InboundAttachment
from inbox.models import ALL_MODELS, Attachment, Contact, Conversation, Message, Template, User

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
    template = canned.save(None, manager, name="Welcome", shortcut="welcome", body="Hi {{ contact.first_name }}",
                           channels="")  # fmt: skip
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
    }


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
    return response.get_data(as_text=True)


# --- the matrix ----------------------------------------------------------------------


def everyone(status):
    return {"logged_out": LOGIN, "agent": status, "manager": status, "admin": status}


def public(status, logged_in=None):
    other = status if logged_in is None else logged_in
    return {"logged_out": status, "agent": other, "manager": other, "admin": other}


MANAGERS = {"logged_out": LOGIN, "agent": 403, "manager": 200, "admin": 200}
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
    "health.healthz": ("/healthz", public(200)),
    "vendor.vendor": ("/vendor/htmx.min.js", public(200)),
    "static": ("/static/app.css", public(200)),
}

WRITE = everyone(303)
MANAGER_WRITE = {"logged_out": LOGIN, "agent": 403, "manager": 303, "admin": 303}
ADMIN_WRITE = {"logged_out": LOGIN, "agent": 403, "manager": 403, "admin": 303}
NEW_PASSWORD = "another long password"

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
    for endpoint, (pattern, _) in GET_MATRIX.items():
        adapter = app.url_map.bind("localhost")
        path = urlsplit(pattern.replace("{", "").replace("}", "")).path
        if "{" in pattern:
            continue  # ids are checked by the matrix tests themselves
        assert adapter.match(path, method="GET")[0] == endpoint, pattern


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
    receive_for = factories.receive(email_channel, address="a@example.com", name="Assigned Lead")
    conv = Conversation.get_by_id(receive_for.conversation_id)
    factories.receive(email_channel, address="b@example.com", name="Unassigned Lead")
    from inbox import conversations

    conversations.assign(conv, manager, manager)
    login(client, agent)
    page = body(client.get(f"/inbox?assignee={manager.id}"))
    assert "Assigned Lead" in page and "Unassigned Lead" in page  # filter ignored for agents
    client = client_as(client.application, manager)
    page = body(client.get(f"/inbox?assignee={manager.id}"))
    assert "Assigned Lead" in page and "Unassigned Lead" not in page
