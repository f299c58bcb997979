"""The machine has every file the tests and the product run (scripts/system-files), so a
missing Debian package fails here by name instead of as errors in the tests that need it."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from inbox import settings

ROOT = Path(__file__).resolve().parent.parent


def required_files() -> list[tuple[str, str]]:
    rows = []
    for line in (ROOT / "scripts" / "system-files").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, package = line.split()
            rows.append((path, package))
    return rows


def test_every_file_the_tests_run_is_installed():
    missing = [f"{path} (apt-get install {package})" for path, package in required_files() if not glob.glob(path)]
    assert not missing, "missing; scripts/setup --system --test installs them: " + ", ".join(missing)


def test_the_list_names_the_servers_the_tests_start():
    named = {package for _, package in required_files()}
    assert {"dovecot-imapd", "dovecot-lmtpd", "chromium", "fonts-nanum", "redis-server", "postgresql"} <= named


def test_serving_on_a_port_makes_it_the_public_address_unless_one_is_set(monkeypatch):
    monkeypatch.setenv("INBOX_BASE_URL", "")  # so that the test's own setting is undone after it
    monkeypatch.delenv("INBOX_BASE_URL")
    settings.default_base_url("0.0.0.0", 8731)
    assert settings.get("base_url") == "http://127.0.0.1:8731"
    monkeypatch.setenv("INBOX_BASE_URL", "https://inbox.example.com")
    settings.default_base_url("127.0.0.1", 9000)
    assert settings.get("base_url") == "https://inbox.example.com"
    assert os.environ["INBOX_BASE_URL"] == "https://inbox.example.com"
