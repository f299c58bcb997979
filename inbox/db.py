"""The database handle every model binds to, opened from a URL.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web server and
the task consumer can write side by side; PostgreSQL is used as is.
"""

from __future__ import annotations

import datetime as dt

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
        return connect(url, pragmas=SQLITE_PRAGMAS)
    return connect(url, autorollback=True)


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


def utcnow() -> dt.datetime:
    """Naive UTC: every timestamp in the database is UTC without tzinfo."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
