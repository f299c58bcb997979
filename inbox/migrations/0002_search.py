"""Full-text search tables (bigram FTS5 on SQLite, tsvector + GIN on PostgreSQL)."""

from inbox import search


def up(migrator, db):
    search.create_tables(db)


def down(migrator, db):
    search.drop_tables(db)
