"""The Huey instance, built from ``INBOX_HUEY_URL`` (SQLite file by default, or Redis)."""

from __future__ import annotations

from urllib.parse import urlparse

from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

from . import settings


class WalSqliteStorage(SqliteStorage):
    """Huey's SQLite storage with ``synchronous=NORMAL``, as the main database runs: in
    WAL mode a commit is then not an fsync (a crash of the process loses nothing, a power
    cut at most the last commits, which the pollers backfill). With Huey's default
    (FULL), every enqueue from a webhook waited for the disk."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def make_huey(url: str | None = None):
    url = url or settings.huey_url()
    parsed = urlparse(url)
    # No task's return value is ever read, so none is stored (Huey would keep each one
    # until read, i.e. forever: a row per webhook).
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey("inbox", url=url, results=False)
    if parsed.scheme == "sqlite":
        path = url.split("sqlite:///", 1)[1]
        return SqliteHuey(
            "inbox", filename=path, store_intermediate_errors=False, results=False, storage_class=WalSqliteStorage
        )
    raise ValueError(f"Unsupported INBOX_HUEY_URL: {url!r} (use sqlite:///path or redis://host:port/db)")


huey = make_huey()
