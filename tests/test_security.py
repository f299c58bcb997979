"""CSRF on every form, logging in (rate limit, deactivation, sessions ending on a password
change, no open redirects), security headers, and how attachments are served."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import urlsplit

import pytest

from inbox import create_app, users
from inbox.ingest import InboundAttachment
from inbox.models import Attachment, LoginAttempt

from . import factories
from .conftest import csrf_token, post
from .test_routes import NEW_PASSWORD, POST_MATRIX, _english_and_fast_hashes, client_as, fill, snapshot, world

__all__ = ["_english_and_fast_hashes", "world"]  # fixtures shared with test_routes

PASSWORD = factories.PASSWORD
WRONG = "Wrong email or password."
RATE_LIMITED = "Too many failed attempts. Wait 15 minutes and try again."
CSRF_MESSAGE = "The form was missing its security token. Reload the page and try again."


def body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def attempt(client, email: str, password: str, ip: str = "127.0.0.1", **extra):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})


def logged_in(client) -> bool:
    return client.get("/inbox").status_code == 200


# --- CSRF ----------------------------------------------------------------------------


def _post_rules(app):
    """Every form POST; provider webhooks are signed by the provider instead (tested with
    the Twilio channel) and the lead API takes a lead source's bearer token (tested in
    test_leads.py), so neither carries a CSRF token."""
    tokenless = ("webhooks.", "leads_api.")
    rules = (r for r in app.url_map.iter_rules() if "POST" in r.methods and not r.endpoint.startswith(tokenless))
    return sorted(rules, key=lambda rule: rule.endpoint)


@pytest.mark.parametrize("hx", [False, True], ids=["form", "htmx"])
def test_every_post_without_a_csrf_token_is_400_and_writes_nothing(app, world, admin, hx):
    client = client_as(app, admin)
    headers = {"HX-Request": "true"} if hx else {}
    problems = []
    for rule in _post_rules(app):
        assert rule.endpoint in POST_MATRIX, f"{rule.rule}: add it to POST_MATRIX in test_routes.py"
        pattern, form, _ = POST_MATRIX[rule.endpoint]
        path = fill(pattern, world)
        data = {k: fill(v, world) for k, v in form.items()}
        before = snapshot()
        for token in (None, "not-a-token", ""):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            response = client.post(path, data=sent, headers=headers)
            if response.status_code != 400 or CSRF_MESSAGE not in body(response):
                problems.append(f"{rule.endpoint} token={token!r}: {response.status_code}")
        if snapshot() != before:
            problems.append(f"{rule.endpoint}: the database changed")
    assert not problems, "\n".join(problems)
    assert logged_in(client), "a logout without a token must not log out"


def test_csrf_token_of_another_session_is_refused(app, world, admin, agent):
    theirs = csrf_token(client_as(app, agent), "/me")
    client = client_as(app, admin)
    response = client.post(f"/c/{world['conv']}/close", data={"csrf_token": theirs})
    assert response.status_code == 400 and CSRF_MESSAGE in body(response)


def test_csrf_token_in_the_htmx_header_is_accepted(app, world, admin):
    client = client_as(app, admin)
    token = csrf_token(client, "/me")
    response = client.post(f"/c/{world['conv']}/close", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200
    response = client.post(f"/c/{world['conv']}/reopen", headers={"X-CSRFToken": "forged", "HX-Request": "true"})
    assert response.status_code == 400


def test_login_form_needs_a_token(client, agent):
    response = client.post("/login", data={"email": agent.email, "password": PASSWORD})
    assert response.status_code == 400
    assert not logged_in(client)


# --- logging in ----------------------------------------------------------------------


def test_wrong_password_or_unknown_address_is_401_with_the_same_message(client, agent):
    for email, password in ((agent.email, "not the password"), ("nobody@example.com", PASSWORD), ("", ""),
                            ("x" * 10_000, "y" * 10_000)):  # fmt: skip
        response = attempt(client, email, password)
        assert response.status_code == 401
        assert WRONG in body(response)
        assert 'name="csrf_token"' in body(response)  # the form can be sent again
    assert not logged_in(client)


def test_right_password_logs_in_and_logout_ends_it(client, agent):
    response = attempt(client, agent.email.upper(), PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/inbox"
    assert logged_in(client)
    assert post(client, "/logout").status_code == 303
    assert not logged_in(client)


def test_rate_limit_after_ten_failures_per_address(client, agent, manager):
    for i in range(10):  # from ten machines, so only the address limit applies
        assert attempt(client, agent.email, "wrong password", ip=f"10.0.0.{i}").status_code == 401
    response = attempt(client, agent.email, PASSWORD, ip="10.0.1.1")
    assert response.status_code == 429
    assert RATE_LIMITED in body(response)
    assert not logged_in(client)
    # the same address written differently is the same address
    assert attempt(client, f"  {agent.email.upper()} ", PASSWORD, ip="10.0.1.2").status_code == 429
    # a colleague is not locked out
    assert attempt(client, manager.email, PASSWORD, ip="10.0.1.3").status_code == 303
    # the window passes
    for row in LoginAttempt.select():
        row.at -= dt.timedelta(minutes=16)
        row.save()
    post(client, "/logout")
    assert attempt(client, agent.email, PASSWORD, ip="10.0.1.4").status_code == 303


def test_rate_limit_after_ten_failures_per_ip(app, agent):
    client = app.test_client()
    for i in range(10):
        assert attempt(client, f"guess{i}@example.com", "guess", ip="10.9.9.9").status_code == 401
    response = attempt(client, agent.email, PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429 and RATE_LIMITED in body(response)
    assert attempt(client, agent.email, PASSWORD, ip="10.9.9.10").status_code == 303


def test_deactivated_user_cannot_log_in_and_loses_open_sessions(app, agent, admin):
    session = client_as(app, agent)
    users.deactivate(agent, admin)
    response = session.get("/inbox")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = attempt(app.test_client(), agent.email, PASSWORD)
    assert response.status_code == 401 and WRONG in body(response)
    users.reactivate(agent, admin)
    assert attempt(app.test_client(), agent.email, PASSWORD).status_code == 303


def test_deactivating_through_the_admin_page_ends_the_session(app, agent, admin):
    session = client_as(app, agent)
    response = post(client_as(app, admin), f"/admin/users/{agent.id}/deactivate")
    assert response.status_code == 303
    assert not logged_in(session)


def test_changing_the_password_ends_other_sessions(app, agent):
    mine, other = client_as(app, agent), client_as(app, agent)
    response = post(mine, "/me", {"new_password": NEW_PASSWORD, "current_password": PASSWORD})
    assert response.status_code == 303
    assert logged_in(mine), "the session that changed the password continues"
    response = other.get("/inbox")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert attempt(app.test_client(), agent.email, PASSWORD).status_code == 401
    assert attempt(app.test_client(), agent.email, NEW_PASSWORD).status_code == 303


def test_admin_password_reset_ends_the_users_sessions(app, agent, admin):
    session = client_as(app, agent)
    response = post(client_as(app, admin), f"/admin/users/{agent.id}", {"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert not logged_in(session)


def test_forged_session_cookie_is_not_a_login(app, agent):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{agent.id}:1"  # signed by the test client with the real key...
    assert logged_in(client)
    agent.session_version += 1  # ...but a password change since then ends it
    agent.save()
    assert not logged_in(client)
    client = app.test_client()
    client.set_cookie("session", "garbage")
    assert not logged_in(client)
    for token in ("abc", f"{agent.id}", f"{agent.id}:x", ":", f"{'9' * 30}:1"):
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = token
        assert not logged_in(client), token


OFF_SITE = [
    "//evil.com",
    "///evil.com",
    "https://evil.com",
    "http://evil.com/inbox",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    " //evil.com",
    "javascript:alert(1)",
    "%2F%2Fevil.com",
]


def _stays_here(location: str) -> bool:
    """What a browser would make of the Location: a path on this site."""
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    parts = urlsplit(cleaned)
    return not parts.scheme and not parts.netloc and cleaned.startswith("/") and not cleaned.startswith("//")


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_does_not_redirect_off_site(client, agent, target):
    response = attempt(client, agent.email, PASSWORD, next=target)
    assert response.status_code == 303
    assert _stays_here(response.headers["Location"]), response.headers["Location"]
    assert response.headers["Location"] == "/inbox"
    response = client.get("/login", query_string={"next": target})  # already logged in
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    response = post(client, "/language", {"locale": "en", "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/inbox"


@pytest.mark.parametrize("target", OFF_SITE)
def test_contact_panel_does_not_redirect_off_site(app, world, agent, target):
    client = client_as(app, agent)
    response = post(client, f"/contacts/{world['contact']}/panel", {"company": "ACME", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{world['contact']}"


def test_local_next_is_followed(client, agent):
    response = attempt(client, agent.email, PASSWORD, next="/contacts?q=kim")
    assert response.headers["Location"] == "/contacts?q=kim"
    login_redirect = client.application.test_client().get("/contacts?q=kim")
    assert login_redirect.headers["Location"].startswith("/login?next=")


# --- headers -------------------------------------------------------------------------


def csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name.lower()] = values
    return directives


def test_pages_have_a_strict_script_policy(app, world, admin):
    client = app.test_client()
    pages = [client.get("/login"), client.get("/healthz")]
    client = client_as(app, admin)
    for path in ("/inbox", f"/c/{world['conv']}", "/contacts", f"/contacts/{world['contact']}", "/templates",
                 f"/templates/{world['template']}", "/admin/users", "/me", "/no/such/page"):  # fmt: skip
        pages.append(client.get(path))
    pages.append(client_as(app, None).get("/inbox"))  # the redirect to the login page
    for response in pages:
        policy = csp(response)
        scripts = policy.get("script-src") or policy["default-src"]
        assert "'self'" in scripts
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(scripts), scripts
        assert policy.get("frame-ancestors") == ["'none'"]
        assert policy.get("base-uri") == ["'none'"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page), "inline <script>"
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), "inline event handler"
            assert "javascript:" not in page


def test_session_cookie_is_httponly_and_samesite_lax(client, agent):
    response = attempt(client, agent.email, PASSWORD)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    flags = {part.strip().lower() for part in cookies[-1].split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags


def test_cookies_are_secure_behind_https(monkeypatch):
    monkeypatch.setenv("INBOX_BASE_URL", "https://inbox.example.com")
    app = create_app({"TESTING": True})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- attachments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "inline"),
    [
        ("photo.png", "image/png", True),
        ("photo.jpg", "image/jpeg", True),
        ("anim.gif", "image/gif", True),
        ("photo.webp", "IMAGE/WEBP", True),
        ("logo.svg", "image/svg+xml", False),
        ("logo.svg", "image/svg+xml; charset=utf-8", False),
        ("logo.svg", "Image/SVG+XML", False),
        ("page.html", "text/html", False),
        ("page.xhtml", "application/xhtml+xml", False),
        ("data.xml", "text/xml", False),
        ("app.js", "application/javascript", False),
        ("invoice.pdf", "application/pdf", False),
        ("odd.bin", "image/x-whatever", False),
        ("plain.txt", "text/plain", False),
    ],
)
def test_attachments_download_unless_raster_image(app, email_channel, agent, filename, content_type, inline):
    factories.receive(
        email_channel, address="files@example.com",
        attachments=[InboundAttachment(filename, content_type, b"<svg onload=alert(1)></svg>")],
    )  # fmt: skip
    att = Attachment.get()
    response = client_as(app, agent).get(f"/attachments/{att.id}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    if inline:
        assert disposition.startswith("inline")
        assert response.mimetype == content_type.lower()
    else:
        assert disposition.startswith("attachment")
        assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("report\r\nSet-Cookie: x=1.txt", 'attachment; filename="report Set-Cookie: x=1.txt"'),
        ("", "attachment; filename=attachment"),
        ("   ", "attachment; filename=attachment"),
        ('quote".txt', 'attachment; filename="quote\\".txt"'),
        ("견적서.pdf", "attachment; filename=.pdf; filename*=UTF-8''%EA%B2%AC%EC%A0%81%EC%84%9C.pdf"),
    ],
)
def test_attachment_file_names_are_safe_in_the_header(app, email_channel, agent, filename, expected):
    factories.receive(
        email_channel, address="files@example.com",
        attachments=[InboundAttachment(filename, "application/octet-stream", b"data")],
    )  # fmt: skip
    response = client_as(app, agent).get(f"/attachments/{Attachment.get().id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == expected
    assert response.data == b"data"
