"""Full-text search over message text and contact names, emails, phones and companies.

Text is indexed as lower-cased character bigrams ("견적서를" -> "견적 적서 서를"), and a query
word becomes the phrase of its bigrams, so a word is found inside longer words and
two-syllable Korean words (견적, 환불) work. SQLite uses FTS5; PostgreSQL a tsvector with a
GIN index. Both answer "newest N matches" from the index, ordered by id.
"""

from __future__ import annotations

import operator
import re

from .db import db, is_sqlite

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _word_bigrams(word: str) -> list[str]:
    if len(word) == 1:
        return [word]
    return [word[i : i + 2] for i in range(len(word) - 1)]


def bigram_document(*parts: str) -> str:
    words = _WORD.findall(" ".join(p for p in parts if p).lower())
    bigrams: list[str] = []
    for w in words:  # what _word_bigrams gives, without a list per word (hot at import)
        if len(w) == 1:
            bigrams.append(w)
        else:
            bigrams += map(operator.add, w, w[1:])
    return " ".join(bigrams)


def bigram_documents(texts: list[tuple[str, ...]]) -> list[str]:
    """``bigram_document(*parts)`` for each parts tuple, in one pass: the bigrams of a word
    are made once for the whole list, and mail of a batch repeats most of its words."""
    words_bigrams: dict[str, str] = {}
    docs = []
    for parts in texts:
        words = _WORD.findall(" ".join(p for p in parts if p).lower())
        for w in words:
            if w not in words_bigrams:
                words_bigrams[w] = w if len(w) == 1 else " ".join(map(operator.add, w, w[1:]))
        docs.append(" ".join([words_bigrams[w] for w in words]))
    return docs


def _query_words(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:8]


def _fts5_query(words: list[str]) -> str:
    clauses = []
    for w in words:
        if len(w) == 1:
            clauses.append(f'"{w}"*')
        else:
            clauses.append('"' + " ".join(_word_bigrams(w)) + '"')
    return " AND ".join(clauses)


def _tsquery(words: list[str]) -> str:
    clauses = []
    for w in words:
        if len(w) == 1:
            clauses.append(f"'{w}':*")
        else:
            clauses.append("(" + " <-> ".join(f"'{b}'" for b in _word_bigrams(w)) + ")")
    return " & ".join(clauses)


# FTS5 options of both tables. The one-character prefix index serves one-letter words
# ("a", the "A" and "S" of "A/S"), which are prefix queries: without it FTS5 merges the
# postings of every token that starts with the letter, hundreds of ms at a million
# messages (migration 0005 adds it to older databases).
FTS5_OPTIONS = "prefix='1', tokenize='unicode61 remove_diacritics 0'"


def create_tables(database) -> None:
    if database.__class__.__name__.startswith("Sqlite"):
        # Messages never change text, so their index is contentless (no second copy).
        database.execute_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS message_search USING fts5(doc, content='', {FTS5_OPTIONS})"
        )
        database.execute_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS contact_search USING fts5(doc, {FTS5_OPTIONS})")
    else:
        for table in ("message_search", "contact_search"):
            database.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, doc TSVECTOR NOT NULL)")
            database.execute_sql(f"CREATE INDEX IF NOT EXISTS {table}_doc ON {table} USING GIN (doc)")


def drop_tables(database) -> None:
    for table in ("message_search", "contact_search"):
        database.execute_sql(f"DROP TABLE IF EXISTS {table}")


def _upsert(table: str, row_id: int, doc: str) -> None:
    if is_sqlite():
        if table == "contact_search":
            db.execute_sql(f"DELETE FROM {table} WHERE rowid = ?", (row_id,))
        db.execute_sql(f"INSERT INTO {table}(rowid, doc) VALUES (?, ?)", (row_id, doc))
    else:
        db.execute_sql(
            f"INSERT INTO {table} (id, doc) VALUES (%s, to_tsvector('simple', %s)) "
            "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
            (row_id, doc),
        )


def index_message(message) -> None:
    doc = bigram_document(message.subject, message.text)
    if doc:
        _upsert("message_search", message.id, doc)


def index_messages(rows: list[tuple[int, str, str]]) -> None:
    """``index_message`` for many messages at once: (id, subject, text) rows of new messages."""
    docs = bigram_documents([(subject, text) for _, subject, text in rows])
    params = [(row[0], doc) for row, doc in zip(rows, docs, strict=True) if doc]
    if not params:
        return
    if is_sqlite():
        db.cursor().executemany("INSERT INTO message_search(rowid, doc) VALUES (?, ?)", params)
    else:
        db.cursor().executemany(
            "INSERT INTO message_search (id, doc) VALUES (%s, to_tsvector('simple', %s)) "
            "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
            params,
        )


def _contact_document(name: str, company: str, identity_values: list[str]) -> str:
    extra = []
    for value in identity_values:
        if value.startswith("+"):
            # Let "010 1234" find +821012345678: index the national form too.
            extra.append(value.lstrip("+"))
            if value.startswith("+82"):
                extra.append("0" + value[3:])
    return bigram_document(name, company, *identity_values, *extra)


def index_contact(contact, identity_values: list[str] | None = None) -> None:
    if identity_values is None:
        identity_values = [i.value for i in contact.identities]
    _upsert("contact_search", contact.id, _contact_document(contact.name, contact.company, identity_values))


def index_contacts(rows: list[tuple[int, str, str, list[str]]]) -> None:
    """``index_contact`` for many contacts at once: (id, name, company, identity values) rows."""
    params = [(row_id, _contact_document(name, company, values)) for row_id, name, company, values in rows]
    if not params:
        return
    if is_sqlite():
        cursor = db.cursor()
        cursor.executemany("DELETE FROM contact_search WHERE rowid = ?", [(row_id,) for row_id, _ in params])
        cursor.executemany("INSERT INTO contact_search(rowid, doc) VALUES (?, ?)", params)
    else:
        db.cursor().executemany(
            "INSERT INTO contact_search (id, doc) VALUES (%s, to_tsvector('simple', %s)) "
            "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
            params,
        )


def remove_contact(contact_id: int) -> None:
    if is_sqlite():
        db.execute_sql("DELETE FROM contact_search WHERE rowid = ?", (contact_id,))
    else:
        db.execute_sql("DELETE FROM contact_search WHERE id = %s", (contact_id,))


def _match_ids(table: str, query: str, limit: int) -> list[int]:
    words = _query_words(query)
    if not words:
        return []
    if is_sqlite():
        cursor = db.execute_sql(
            f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT ?",
            (_fts5_query(words), limit),
        )
    else:
        cursor = db.execute_sql(
            f"SELECT id FROM {table} WHERE doc @@ to_tsquery('simple', %s) ORDER BY id DESC LIMIT %s",
            (_tsquery(words), limit),
        )
    return [row[0] for row in cursor.fetchall()]


def matching_message_ids(query: str, limit: int = 200) -> list[int]:
    return _match_ids("message_search", query, limit)


def matching_contact_ids(query: str, limit: int = 200) -> list[int]:
    return _match_ids("contact_search", query, limit)
