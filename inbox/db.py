"""The database handle every model binds to, opened from a URL.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web server and
the task consumer can write side by side; PostgreSQL is used as is.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

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


def open_database(url: str):
    if url.startswith("sqlite"):
        database = connect(url, pragmas=SQLITE_PRAGMAS)
        database.wal_keeper = _keep_wal(database.database)
        return database
    return connect(url, autorollback=True)


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
