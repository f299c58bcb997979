"""Real-browser tests: the Flask app served over HTTP on 127.0.0.1, driven by Chromium.

The server runs in a thread of the test process, so it shares the database (truncated
before each test by tests/conftest.py) and the task queue in immediate mode: data created
in a test is visible to the next page load, and a reply is delivered inside its request.
One browser per session, a fresh context (cookies, storage) per test.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from .. import factories
from .helpers import DESKTOP, watch_errors

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The login page follows Accept-Language; after login the user's own locale wins.
    return {**browser_context_args, "locale": "en-US", "timezone_id": "Asia/Seoul", "viewport": DESKTOP}


@pytest.fixture
def page(page):
    page.set_default_timeout(8000)
    errors = watch_errors(page)
    yield page
    assert not errors, "errors in the browser:\n" + "\n".join(errors)


@pytest.fixture
def user():
    # English UI so assertions read the source strings; Korean is covered by the switch test.
    return factories.make_user("agent", "Agent Kim", "agent@example.com", locale="en")


@pytest.fixture
def colleague():
    return factories.make_user("agent", "Sarah Park", "sarah@example.com", locale="en")


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
