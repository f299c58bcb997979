"""Test harness: a real database (SQLite by default, PostgreSQL when
INBOX_TEST_DATABASE_URL is set), the real task queue storage in immediate mode, and
helpers to log in and post forms with their CSRF token."""

from __future__ import annotations

import os
import re
import tempfile


def _per_worker(database_url: str | None, huey_url: str | None) -> tuple[str | None, str | None]:
    """With pytest-xdist each worker process gets its own PostgreSQL database and Redis
    database number, so parallel workers never see each other's rows or tasks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return database_url, huey_url
    number = int(worker.removeprefix("gw") or 0)
    if database_url and database_url.startswith("postgres"):
        import psycopg2

        base, _, name = database_url.rpartition("/")
        name = f"{name}_{worker}"
        admin = psycopg2.connect(f"{base}/postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        database_url = f"{base}/{name}"
    if huey_url and huey_url.startswith("redis"):
        huey_url = f"{huey_url.rpartition('/')[0]}/{number + 1}"
    return database_url, huey_url


# Settings are read at import time by inbox.queue and tasks: set them before importing.
_DATA = tempfile.mkdtemp(prefix="inbox-tests-")
_DB_URL, _HUEY_URL = _per_worker(os.environ.get("INBOX_TEST_DATABASE_URL"), os.environ.get("INBOX_TEST_HUEY_URL"))
os.environ["INBOX_DATA_DIR"] = _DATA
os.environ["INBOX_DATABASE_URL"] = _DB_URL or f"sqlite:///{_DATA}/test.db"
os.environ["INBOX_HUEY_URL"] = _HUEY_URL or f"sqlite:///{_DATA}/huey.db"
os.environ.setdefault("INBOX_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("INBOX_DEFAULT_REGION", "KR")

import pytest  # noqa: E402

import tasks  # noqa: E402
from inbox import create_app, outbound, schema, search  # noqa: E402
from inbox.db import db, is_sqlite  # noqa: E402
from inbox.models import ALL_MODELS  # noqa: E402

from . import factories  # noqa: E402

PASSWORD = factories.PASSWORD


@pytest.fixture(scope="session")
def app():
    application = create_app({"TESTING": True})
    with db.connection_context():
        schema.upgrade(db.obj)
    return application


def _truncate() -> None:
    if is_sqlite():
        with db.atomic():
            db.execute_sql("PRAGMA defer_foreign_keys = ON")
            for model in reversed(ALL_MODELS):
                model.delete().execute()
            db.execute_sql("INSERT INTO message_search(message_search) VALUES('delete-all')")
            db.execute_sql("DELETE FROM contact_search")
    else:
        names = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS)
        db.execute_sql(f"TRUNCATE {names}, message_search, contact_search RESTART IDENTITY CASCADE")


@pytest.fixture(autouse=True)
def clean_db(app):
    """Every test starts from an empty database and runs tasks inline."""
    db.connect(reuse_if_open=True)
    _truncate()
    tasks.huey.immediate = True
    yield
    tasks.huey.immediate = False
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, user, password: str = PASSWORD):
    token = csrf_token(client)
    response = client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def post(client, path: str, data: dict | None = None, htmx: bool = False, **kwargs):
    """POST a form the way the browser does: with the page's CSRF token."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, "/me"))
    headers = kwargs.pop("headers", {})
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(path, data=data, headers=headers, **kwargs)


@pytest.fixture
def agent():
    return factories.make_user("agent", "Agent Kim", "agent@example.com")


@pytest.fixture
def manager():
    return factories.make_user("manager", "Manager Lee", "manager@example.com")


@pytest.fixture
def admin():
    return factories.make_user("admin", "Admin Park", "admin@example.com")


# The modules about the lead lifecycle get channels whose new contacts are leads, as in
# the product; elsewhere a new contact's first message would also start the lead steps
# (an owner by round-robin, notifications, reminders) that those tests are not about.
LEAD_MODULES = {"tests.test_cadence", "tests.test_leads", "tests.test_lead_lifecycle", "tests.browser.test_attention"}


@pytest.fixture
def queued(monkeypatch):
    """Messages handed to the delivery queue (kept queued: no provider here)."""
    ids: list[int] = []
    monkeypatch.setattr(outbound, "_deliver_later", ids.append)
    return ids


@pytest.fixture
def email_channel(request):
    return factories.make_channel("email", leads=request.module.__name__ in LEAD_MODULES)


@pytest.fixture
def twilio_channel(request):
    return factories.make_channel("twilio", leads=request.module.__name__ in LEAD_MODULES)


__all__ = ["csrf_token", "login", "post", "search"]
