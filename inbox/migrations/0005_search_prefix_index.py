"""One-character prefix index on the SQLite full-text tables, so that one-letter words
("a", "A/S") are found without merging the postings of every token starting with that
letter. FTS5 options cannot be altered: each table is rebuilt. The contentless message
index is refilled from the messages (the same bigram documents index_message writes);
about a minute per million messages. PostgreSQL needs nothing."""

from inbox.search import bigram_document

OPTIONS = "prefix='1', tokenize='unicode61 remove_diacritics 0'"
BATCH = 5000


def _needs_rebuild(db, table: str) -> bool:
    row = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None and "prefix=" not in row[0]


def _replace(db, table: str) -> None:
    db.execute_sql(f"DROP TABLE {table}")
    db.execute_sql(f"ALTER TABLE {table}_new RENAME TO {table}")


def up(migrator, db):
    if not db.__class__.__name__.startswith("Sqlite"):
        return
    if _needs_rebuild(db, "contact_search"):
        db.execute_sql(f"CREATE VIRTUAL TABLE contact_search_new USING fts5(doc, {OPTIONS})")
        db.execute_sql("INSERT INTO contact_search_new (rowid, doc) SELECT rowid, doc FROM contact_search")
        _replace(db, "contact_search")
    if _needs_rebuild(db, "message_search"):
        db.execute_sql(f"CREATE VIRTUAL TABLE message_search_new USING fts5(doc, content='', {OPTIONS})")
        last = 0
        while True:
            rows = db.execute_sql(
                "SELECT id, subject, text FROM message WHERE id > ? ORDER BY id LIMIT ?", (last, BATCH)
            ).fetchall()
            if not rows:
                break
            docs = [(mid, doc) for mid, subject, text in rows if (doc := bigram_document(subject, text))]
            db.cursor().executemany("INSERT INTO message_search_new (rowid, doc) VALUES (?, ?)", docs)
            last = rows[-1][0]
        _replace(db, "message_search")


def down(migrator, db):
    pass  # the prefix index changes no result; keeping it is harmless
