"""Accepted webhooks are never lost: at-least-once intake, exactly-once storage.

A provider webhook is written to the ``Intake`` table (in the product's own database)
before the provider gets its 200; if that write fails the provider gets a 503 and sends it
again. The task consumer then processes the row: the handler for its kind stores what it
carries, and the row is marked done in the same transaction, so a process killed at any
point leaves either nothing stored and the row pending, or both. Storing is idempotent
(``ingest`` dedupes by provider id), so a row processed twice stores once.

``retry_due()`` (every minute) picks up what a killed process or a failed attempt left:
rows are retried with a growing delay; after ``MAX_ATTEMPTS`` a row is marked failed and
listed for admins with its payload and error (``failed()``), who can retry it by hand.

A ``Handler`` has up to three parts: ``prepare(channel, payload)`` runs outside the
transaction (a download, say) and returns what ``store(channel, payload, prepared)``
needs; ``store`` runs in the write transaction that also marks the row done; ``after``
runs once that is committed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .db import utcnow, write_transaction
from .models import Channel, Intake
from .text import clean

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_DELAY = dt.timedelta(seconds=30)
STALE = dt.timedelta(minutes=1)  # a pending row this old was not processed by its task
MAX_ERROR = 2000


def _nothing(*args) -> None:
    return None


@dataclass(frozen=True)
class Handler:
    """``prepare`` runs before the transaction, ``store`` in it, ``after`` (given what
    ``store`` returned) once it is committed, e.g. to queue a delivery it caused."""

    store: Callable[[Channel, dict, Any], Any]
    prepare: Callable[[Channel, dict], Any] = _nothing
    after: Callable[[Any], None] = _nothing


Handlers = dict[str, Handler]


def accept(channel_id: int, kind: str, payload: dict) -> int:
    """Keep a webhook before answering it. Returns the row's id for the task."""
    with write_transaction():
        row = Intake.create(channel=channel_id, kind=kind, payload=_clean_payload(payload), received_at=utcnow())
    return row.id


def _clean_payload(payload: dict) -> dict:
    # What no database column can hold (NUL, lone surrogates) must not make the row fail.
    return {clean(str(k)): clean(str(v)) for k, v in payload.items()}


def process(intake_id: int, handlers: Handlers) -> str:
    """Store what the row carries and mark it done, once. Returns what happened."""
    row = Intake.get_or_none(Intake.id == intake_id)
    if row is None or row.done_at is not None:
        return "done already"
    handler = handlers.get(row.kind)
    channel = Channel.get_or_none(Channel.id == row.channel_id) if row.channel_id else None
    if handler is None or channel is None:
        return _give_up(row, "no handler" if handler is None else "the channel was deleted")
    try:
        prepared = handler.prepare(channel, row.payload)
        with write_transaction():
            claimed = (
                Intake.update(done_at=utcnow(), attempts=Intake.attempts + 1)
                .where((Intake.id == row.id) & Intake.done_at.is_null())
                .execute()
            )
            if not claimed:
                return "done already"
            stored = handler.store(channel, row.payload, prepared)
    except Exception as exc:
        log.exception("webhook %s (%s) failed", row.id, row.kind)
        return _failed_attempt(row, f"{type(exc).__name__}: {exc}")
    handler.after(stored)
    return "stored"


def _failed_attempt(row: Intake, error: str) -> str:
    attempts = row.attempts + 1
    now = utcnow()
    update = {
        "attempts": attempts,
        "last_error": clean(error)[:MAX_ERROR],
        "next_attempt_at": now + FIRST_DELAY * 2 ** (attempts - 1),
    }
    if attempts >= MAX_ATTEMPTS:
        update["failed_at"] = now
    with write_transaction():
        Intake.update(**update).where((Intake.id == row.id) & Intake.done_at.is_null()).execute()
    return "failed" if attempts >= MAX_ATTEMPTS else "will retry"


def _give_up(row: Intake, why: str) -> str:
    with write_transaction():
        Intake.update(failed_at=utcnow(), last_error=why).where(Intake.id == row.id).execute()
    return "failed"


def due(now: dt.datetime | None = None, received_before: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Rows to try again: pending, not given up on, due, and old enough that the task
    queued when they came in has had its turn (or, at a consumer's start, every row
    received before it: their tasks may have died with the process before it)."""
    now = now or utcnow()
    query = (
        Intake.select(Intake.id)
        .where(
            Intake.done_at.is_null()
            & Intake.failed_at.is_null()
            & (Intake.next_attempt_at <= now)
            & (Intake.received_at <= (received_before or now - STALE))
        )
        .order_by(Intake.id)
        .limit(limit)
    )
    return [row_id for (row_id,) in query.tuples()]


def retry_due(handlers: Handlers, now: dt.datetime | None = None, received_before: dt.datetime | None = None) -> int:
    """Process every row that is due again; returns how many were stored."""
    return sum(process(row_id, handlers) == "stored" for row_id in due(now, received_before))


def failed(limit: int = 100) -> list[Intake]:
    """Rows given up on, newest first: for admins, with payload and error."""
    query = Intake.select().where(Intake.failed_at.is_null(False) & Intake.done_at.is_null())
    return list(query.order_by(Intake.id.desc()).limit(limit))


def pending_count() -> int:
    return Intake.select().where(Intake.done_at.is_null() & Intake.failed_at.is_null()).count()


def retry_failed(intake_id: int) -> bool:
    """An admin's "retry": the row goes back to the queue with its attempts reset."""
    with write_transaction():
        return bool(
            Intake.update(failed_at=None, attempts=0, next_attempt_at=utcnow(), last_error="")
            .where((Intake.id == intake_id) & Intake.done_at.is_null() & Intake.failed_at.is_null(False))
            .execute()
        )


def prune(older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
    """Done rows are kept a week (to see what came in), then deleted."""
    return Intake.delete().where(Intake.done_at < utcnow() - older_than).execute()
