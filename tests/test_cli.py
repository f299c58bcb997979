"""The `inbox` command, run as operators run it: in a fresh data directory."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("INBOX_TEST_DATABASE_URL")), reason="operator commands are exercised on the embedded default"
)


@pytest.fixture
def data_dir():
    return Path(tempfile.mkdtemp(prefix="inbox-cli-"))


def inbox(data_dir, *args, password=None, check=True, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    env["INBOX_DATA_DIR"] = str(data_dir)
    if password:
        env["INBOX_PASSWORD"] = password
    result = subprocess.run(
        [sys.executable, "-m", "inbox.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_db_upgrade_creates_the_schema_and_is_repeatable(data_dir):
    first = inbox(data_dir, "db", "upgrade")
    assert "0001_initial" in first.stdout
    assert "up to date" in inbox(data_dir, "db", "upgrade").stdout
    assert (data_dir / "inbox.db").exists()
    mode = sqlite3.connect(data_dir / "inbox.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_create_user_takes_the_password_from_the_environment(data_dir):
    result = inbox(data_dir, "create-user", "--email", "Lee@Example.com", "--name", "이수진", "--role", "manager",
                   password="a long enough password")  # fmt: skip
    assert "created manager lee@example.com" in result.stdout
    short = inbox(data_dir, "create-user", "--email", "x@example.com", "--name", "X", password="short", check=False)
    assert short.returncode != 0 and "at least 10 characters" in short.stderr


def test_demo_prints_the_admin_login_and_export_writes_every_message(data_dir):
    result = inbox(data_dir, "demo", password="demo password 1")
    assert "admin@example.com" in result.stdout and "demo password 1" in result.stdout
    out = data_dir / "export.jsonl"
    inbox(data_dir, "export", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    kinds = {r["type"] for r in rows}
    assert kinds == {"user", "contact", "conversation", "message"}
    db = sqlite3.connect(data_dir / "inbox.db")
    assert sum(r["type"] == "message" for r in rows) == db.execute("SELECT COUNT(*) FROM message").fetchone()[0]
    message = next(r for r in rows if r["type"] == "message" and r["direction"] == "in")
    assert {"channel", "direction", "provider_id", "at", "status"} <= message.keys()
    assert {r["channel"] for r in rows if r["type"] == "message" and r["direction"] != "note"} == {
        "email", "sms", "whatsapp",
    }  # fmt: skip


def test_backup_is_a_consistent_copy_and_refuses_to_overwrite(data_dir):
    inbox(data_dir, "demo", password="demo password 1")
    target = data_dir / "backup.db"
    assert "backup written" in inbox(data_dir, "backup", str(target)).stdout
    src, copy = sqlite3.connect(data_dir / "inbox.db"), sqlite3.connect(target)
    for table in ("contact", "message", "user"):
        q = f"SELECT COUNT(*) FROM {table}"
        assert copy.execute(q).fetchone() == src.execute(q).fetchone()
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = inbox(data_dir, "backup", str(target), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_web_and_worker_and_stops_cleanly(data_dir):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    env.update(INBOX_DATA_DIR=str(data_dir), INBOX_PASSWORD="demo password 1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "inbox.cli", "serve", "--port", str(port), "--with-demo"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        body = None
        deadline = time.monotonic() + 60  # migrations and the demo data come first
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.1)
        assert body == {"database": "ok", "queue": "ok", "status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/inbox", timeout=2) as r:
            assert "/login" in r.geturl()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "Log in as admin@example.com with password: demo password 1" in output
    assert "Huey consumer started" in output
