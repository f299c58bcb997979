"""Schema migrations upgrade an existing database without losing data."""

import sqlite3
import tempfile
from pathlib import Path

from peewee import SqliteDatabase

from inbox import schema


def test_upgrade_from_the_previous_schema_keeps_the_data():
    path = Path(tempfile.mkdtemp()) / "old.db"
    database = SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
    migrations = [m.name for m in schema.runner(database).migrations()]
    assert len(migrations) >= 2
    previous = migrations[-2]
    schema.upgrade(database, target=previous)
    database.execute_sql(
        "INSERT INTO contact (name, company, lead_status, source, campaign, ad_set, creative, utm, next_action, notes, created_at, updated_at)"
        " VALUES ('기존 고객', 'ACME', 'new', '', '', '', '', '{}', '', '', '2025-01-01', '2025-01-01')"
    )
    database.execute_sql(
        "INSERT INTO conversation (contact_id, state, last_activity_at, opened_at, channels, preview, preview_direction,"
        " updated_at, touches_before_reply) VALUES (1, 'open', '2025-01-01', '2025-01-01', 'email', '견적 문의', 'in',"
        " '2025-01-01', 0)"
    )
    assert schema.pending(database) == migrations[-1:]

    applied = schema.upgrade(database)

    assert applied == migrations[-1:]
    assert schema.pending(database) == []
    rows = sqlite3.connect(path).execute("SELECT name, company FROM contact").fetchall()
    assert rows == [("기존 고객", "ACME")]
    assert schema.upgrade(database) == []  # running it again is harmless


def test_a_fresh_database_gets_every_table():
    path = Path(tempfile.mkdtemp()) / "new.db"
    database = SqliteDatabase(str(path))
    schema.upgrade(database)
    tables = set(database.get_tables())
    assert {"user", "contact", "identity", "conversation", "message", "attachment", "audit_event"} <= tables
    assert {"message_search", "contact_search"} <= tables
