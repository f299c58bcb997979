"""Schema migrations: ``upgrade()`` brings any database to the current schema."""

from __future__ import annotations

from pathlib import Path

from playhouse.migrations import Runner

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def runner(database) -> Runner:
    return Runner(database, MIGRATIONS_DIR)


def upgrade(database, target: str | None = None) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    return runner(database).up(target)


def pending(database) -> list[str]:
    return [m.name for m in runner(database).status() if not m.applied]
