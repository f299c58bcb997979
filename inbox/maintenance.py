"""Operator jobs: a consistent backup of the live database and a full JSON Lines export."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from .db import db, is_sqlite
from .models import Attachment, Contact, Conversation, Identity, Message, User


def backup(target: str | Path) -> Path:
    """Copy the live SQLite database with SQLite's online backup API (safe while the web
    server and the consumer write). PostgreSQL deployments use pg_dump."""
    if not is_sqlite():
        raise RuntimeError("backup copies the embedded SQLite database; on PostgreSQL use pg_dump.")
    target = Path(target).resolve()
    if target.exists():
        raise FileExistsError(f"{target} already exists; pick a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = db.obj.connection()
    dest = sqlite3.connect(str(target))
    with dest:
        source.backup(dest, pages=1024)
    dest.close()
    return target


def _iso(value):
    return value.isoformat() + "Z" if value is not None else None


def export_lines(batch: int = 2000) -> Iterator[str]:
    """Every user, contact, conversation and message as JSON Lines, streamed in batches
    (flat memory however big the database is)."""
    for user in User.select().order_by(User.id):
        yield _line("user", id=user.id, email=user.email, name=user.name, role=user.role, active=user.active)
    last = 0
    while True:
        chunk = list(Contact.select().where(Contact.id > last).order_by(Contact.id).limit(batch))
        if not chunk:
            break
        ids = [c.id for c in chunk]
        idents: dict[int, list] = {i: [] for i in ids}
        for ident in Identity.select().where(Identity.contact.in_(ids)):
            idents[ident.contact_id].append({"kind": ident.kind, "value": ident.value})
        for c in chunk:
            yield _line(
                "contact", id=c.id, name=c.name, company=c.company, lead_status=c.lead_status,
                owner_id=c.owner_id, source=c.source, campaign=c.campaign, identities=idents[c.id],
                merged_into=c.merged_into_id, created_at=_iso(c.created_at),
            )  # fmt: skip
        last = ids[-1]
    last = 0
    while True:
        chunk = list(Conversation.select().where(Conversation.id > last).order_by(Conversation.id).limit(batch))
        if not chunk:
            break
        for conv in chunk:
            yield _line(
                "conversation", id=conv.id, contact_id=conv.contact_id, state=conv.state,
                assignee_id=conv.assignee_id, waiting_since=_iso(conv.waiting_since),
                first_response_at=_iso(conv.first_response_at), last_activity_at=_iso(conv.last_activity_at),
            )  # fmt: skip
        last = chunk[-1].id
    last = 0
    while True:
        chunk = list(
            Message.select(
                Message.id,
                Message.conversation,
                Message.channel,
                Message.channel_kind,
                Message.direction,
                Message.provider_id,
                Message.author,
                Message.address,
                Message.subject,
                Message.text,
                Message.status,
                Message.error,
                Message.sent_at,
                Message.response_seconds,
                Message.automatic,
            )  # fmt: skip
            .where(Message.id > last)
            .order_by(Message.id)
            .limit(batch)
        )
        if not chunk:
            break
        ids = [m.id for m in chunk]
        files: dict[int, list] = {i: [] for i in ids}
        for a in Attachment.select(Attachment.message, Attachment.filename, Attachment.size).where(
            Attachment.message.in_(ids)
        ):
            files[a.message_id].append({"filename": a.filename, "size": a.size})
        for m in chunk:
            yield _line(
                "message", id=m.id, conversation_id=m.conversation_id, channel_id=m.channel_id,
                channel=m.channel_kind, direction=m.direction, provider_id=m.provider_id, author_id=m.author_id,
                address=m.address, subject=m.subject, text=m.text, status=m.status, error=m.error,
                at=_iso(m.sent_at), response_seconds=m.response_seconds, automatic=m.automatic,
                attachments=files[m.id],
            )  # fmt: skip
        last = ids[-1]


def _line(kind: str, **fields) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False) + "\n"
