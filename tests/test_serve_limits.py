"""`inbox serve` survives slow and idle clients: a crowd of idle connections does not
keep the health check or a webhook waiting, and a client that sends half a request is
cut off after the channel timeout."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time

import pytest

from .servers import free_port
from .test_database_file import ROOT, _env, _health, _wait_up, pytestmark  # noqa: F401


@pytest.fixture
def server():
    data, port = tempfile.mkdtemp(prefix="inbox-limits-"), free_port()
    env = {**_env(data, port), "INBOX_CHANNEL_TIMEOUT": "2"}
    command = [sys.executable, "-m", "inbox.cli", "serve", "--port", str(port), "--no-worker"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_up(port, proc)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_150_idle_connections_do_not_hold_up_the_health_check(server):
    idle = [socket.create_connection(("127.0.0.1", server), timeout=5) for _ in range(150)]
    try:
        started = time.monotonic()
        status, _ = _health(server)
        assert status == 200
        assert time.monotonic() - started < 5
    finally:
        for conn in idle:
            conn.close()


def test_a_client_that_sends_half_a_request_is_cut_off(server):
    conn = socket.create_connection(("127.0.0.1", server), timeout=15)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
    started = time.monotonic()
    assert conn.recv(1024) == b""  # closed by the server
    assert time.monotonic() - started < 12
    conn.close()
