"""The database handle every model binds to, opened from a URL.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web server and
the task consumer can write side by side; PostgreSQL is used as is.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from peewee import DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
    "temp_store": "memory",
}


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False
        # save() writes only the fields this request changed, so two writers touching
        # different columns of a conversation never undo each other.
        only_save_dirty = True


class DatabaseMissing(RuntimeError):
    """The SQLite file is gone although this place had one: starting would silently begin
    an empty database."""


def _on_disk(path: str) -> bool:
    return bool(path) and path != ":memory:" and not path.startswith("file:")


def created_marker(path: str) -> Path:
    """A file beside the database, written when it is first opened: its presence without
    the database means the database was lost, not that this is a first start."""
    return Path(path + ".created")


def open_database(url: str):
    if url.startswith("sqlite"):
        database = connect(url, pragmas=SQLITE_PRAGMAS)
        path = database.database
        if _on_disk(path):
            marker = created_marker(path)
            if marker.exists() and _empty(path):
                raise DatabaseMissing(
                    f"The database file {path} is missing, but one was here before ({marker} exists). "
                    f"Restore it from a backup (inbox backup makes them), or delete {marker} to start "
                    "with an empty database."
                )
        database.wal_keeper = _keep_wal(path)
        if _on_disk(path):
            if not marker.exists() and os.path.exists(path):
                marker.touch(mode=0o600)
            database.file_id = _file_id(path)
        return database
    return connect(url, autorollback=True)


def _empty(path: str) -> bool:
    """No database at ``path``: no file, or one without a single table (a connection made
    after the file was deleted creates an empty one)."""
    if not os.path.exists(path):
        return True
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    except sqlite3.Error:
        return False  # locked or damaged: not ours to decide here


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def file_problem() -> str | None:
    """For the health check: the SQLite file deleted, replaced or read-only since it was
    opened (requests would fail, or a restart would start empty)."""
    database = db.obj
    path = getattr(database, "database", "")
    if not isinstance(database, SqliteDatabase) or not _on_disk(path):
        return None
    if not os.path.exists(path):
        return "database file missing"
    if getattr(database, "file_id", None) not in (None, _file_id(path)):
        return "database file replaced"
    if not os.access(path, os.W_OK) or not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        return "database file read-only"
    return None


def _keep_wal(path: str) -> sqlite3.Connection | None:
    """One idle connection held for the life of the process. Connections are opened per
    request and per task; without this one, whichever closes last checkpoints the whole
    WAL and deletes it (fsyncs, and the next write recreates it): milliseconds on every
    task of a busy consumer. Checkpoints still run as the WAL grows (wal_autocheckpoint).
    It never holds a transaction, so it never blocks a checkpoint."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        keeper = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        keeper.execute("PRAGMA journal_mode = wal")
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the WAL index
    except sqlite3.Error:
        return None  # only an optimisation
    return keeper


def init_db(url: str):
    """Point the shared proxy at the database behind ``url`` and return it."""
    database = open_database(url)
    db.initialize(database)
    return database


def write_transaction():
    """A transaction that will write: on SQLite it takes the write lock up front
    (BEGIN IMMEDIATE), so a read-then-write never fails half way on a busy database."""
    if isinstance(db.obj, SqliteDatabase):
        return db.obj.atomic("IMMEDIATE")
    return db.atomic()


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


_clock = None


def set_clock(clock) -> None:
    """Make ``utcnow()`` read ``clock()`` (a naive UTC datetime) instead of the system
    clock, or the system clock again with None. For simulations that move time on:
    every timestamp the product writes and every due time it compares comes from here."""
    global _clock
    _clock = clock


def utcnow() -> dt.datetime:
    """Naive UTC: every timestamp in the database is UTC without tzinfo."""
    if _clock is not None:
        return _clock()
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
