"""Every setting the product reads, with its default and help text, in one place.

Settings come from environment variables named ``INBOX_<NAME>``. The README's settings
table is checked against this registry by ``tests/test_docs.py``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "INBOX_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "./data", "Directory for the SQLite databases, the secret key and backups."),
    Setting(
        "database_url",
        "",
        "Database URL. Default: SQLite file inbox.db in the data dir (WAL mode). "
        "Example for scale-out: postgresql://user:pass@host:5432/inbox",
    ),
    Setting(
        "huey_url",
        "",
        "Task queue storage. Default: SQLite file huey.db in the data dir. Use redis://host:6379/0 for Redis.",
    ),
    Setting(
        "secret_key",
        "",
        "Key that signs sessions and encrypts channel secrets. Generated once and kept in the data dir when unset.",
    ),
    Setting("base_url", "http://127.0.0.1:8000", "Public URL of the app, for links and webhook signatures."),
    Setting("default_region", "KR", "Region used to read phone numbers written without a country code."),
    Setting("timezone", "Asia/Seoul", "Team time zone, the default for new users."),
    Setting("default_locale", "ko", "Language for new users and the login page: ko or en."),
    Setting("secure_cookies", "auto", "Send cookies only over HTTPS: on, off, or auto (on when base_url is https)."),
    Setting("login_rate_limit", "10", "Failed logins allowed per address and per IP in 15 minutes."),
    Setting("worker_poll_seconds", "0.5", "Longest pause of the task consumer between checks of an idle SQLite queue."),
    Setting("workers", "2", "Task consumer threads."),
    Setting("imap_idle", "on", "Hold IMAP IDLE connections so new mail arrives within seconds: on or off."),
    Setting("max_body_bytes", "26214400", "Largest accepted request body (bytes)."),
    Setting(
        "connection_limit",
        "500",
        "inbox serve: open client connections at most (idle ones included); more wait in the backlog.",
    ),
    Setting(
        "channel_timeout",
        "20",
        "inbox serve: seconds a client connection may stay idle or send nothing before it is closed.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    setting = _BY_NAME[name]
    return os.environ.get(setting.env, setting.default)


def default_base_url(host: str, port: int) -> None:
    """Serve on ``host:port`` without INBOX_BASE_URL set: that address is the public one."""
    if not os.environ.get(_BY_NAME["base_url"].env):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (compared, not bound)
        os.environ[_BY_NAME["base_url"].env] = f"http://{shown}:{port}"


def data_dir() -> Path:
    path = Path(get("data_dir")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    return get("database_url") or f"sqlite:///{data_dir() / 'inbox.db'}"


def huey_url() -> str:
    return get("huey_url") or f"sqlite:///{data_dir() / 'huey.db'}"


def secret_key() -> str:
    key = get("secret_key")
    if key:
        return key
    path = data_dir() / "secret_key"
    if not path.exists():
        # Written once with owner-only permissions; it also encrypts channel secrets.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def secure_cookies() -> bool:
    value = get("secure_cookies").lower()
    if value == "auto":
        return get("base_url").startswith("https://")
    return value in ("1", "on", "true", "yes")
