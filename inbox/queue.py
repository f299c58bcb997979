"""The Huey instance, built from ``INBOX_HUEY_URL`` (SQLite file by default, or Redis)."""

from __future__ import annotations

from urllib.parse import urlparse

from huey import RedisHuey, SqliteHuey

from . import settings


def make_huey(url: str | None = None):
    url = url or settings.huey_url()
    parsed = urlparse(url)
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey("inbox", url=url)
    if parsed.scheme == "sqlite":
        path = url.split("sqlite:///", 1)[1]
        return SqliteHuey("inbox", filename=path, store_intermediate_errors=False)
    raise ValueError(f"Unsupported INBOX_HUEY_URL: {url!r} (use sqlite:///path or redis://host:port/db)")


huey = make_huey()
