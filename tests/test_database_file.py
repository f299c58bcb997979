"""The SQLite file deleted under a running server: the health check says so at once, and a
restart refuses to begin a new empty database in its place, saying why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .servers import free_port

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("INBOX_TEST_DATABASE_URL")), reason="about the embedded SQLite file"
)
ROOT = Path(__file__).resolve().parent.parent


def _env(data: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    env.update(INBOX_DATA_DIR=data, INBOX_IMAP_IDLE="off", INBOX_BASE_URL=f"http://127.0.0.1:{port}")
    return env


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _wait_up(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):
        assert proc.poll() is None, proc.stdout.read()
        try:
            _health(port)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_a_deleted_database_fails_the_health_check_and_a_restart_refuses_to_start_empty():
    data, port = tempfile.mkdtemp(prefix="inbox-dbfile-"), free_port()
    env = _env(data, port)
    serve = [sys.executable, "-m", "inbox.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_up(port, proc)
        assert _health(port) == (200, {"database": "ok", "queue": "ok", "status": "ok"})
        for name in ("inbox.db", "inbox.db-wal", "inbox.db-shm"):
            Path(data, name).unlink(missing_ok=True)
        status, body = _health(port)
        # (the request's own connection may already have made an empty file in its place)
        assert (status, body["status"]) == (503, "unavailable")
        assert body["database"] in ("error: database file missing", "error: database file replaced")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    again = subprocess.run(serve, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert "inbox.db is missing" in again.stderr and "Restore it from a backup" in again.stderr
    assert "Traceback" not in again.stderr
    # Starting empty on purpose: delete the marker, as the message says.
    Path(data, "inbox.db.created").unlink()
    upgrade = subprocess.run([sys.executable, "-m", "inbox.cli", "db", "upgrade"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    assert Path(data, "inbox.db").exists() and Path(data, "inbox.db.created").exists()
