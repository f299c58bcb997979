"""The conversation page's timeline: messages of every channel, notes and audit events of
one contact, in time order, newest page first, with a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import JOIN

from .models import Attachment, AuditEvent, Conversation, Message, User

PAGE_SIZE = 50


@dataclass
class Entry:
    at: dt.datetime
    message: Message | None = None
    event: AuditEvent | None = None
    attachments: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"message-{self.message.id}" if self.message else f"event-{self.event.id}"


@dataclass
class Timeline:
    entries: list[Entry]
    older_cursor: str | None  # pass as ?before= to load the previous page


def _messages(conversation_id: int, where=None, limit: int | None = PAGE_SIZE, newest_first=True):
    Author = User.alias()
    query = (
        Message.select(
            Message.id,
            Message.conversation,
            Message.channel_kind,
            Message.direction,
            Message.automatic,
            Message.auto_reply,
            Message.author,
            Message.address,
            Message.subject,
            Message.text,
            Message.html,
            Message.status,
            Message.error,
            Message.sent_at,
            Message.updated_at,
            Message.response_seconds,
            Message.first_response,
            Message.parse_error,
            Author,
        )  # fmt: skip
        .join(Author, JOIN.LEFT_OUTER, on=(Message.author == Author.id), attr="author")
        .where(Message.conversation == conversation_id)
    )
    if where is not None:
        query = query.where(where)
    if newest_first:
        query = query.order_by(Message.sent_at.desc(), Message.id.desc())
    else:
        query = query.order_by(Message.sent_at.asc(), Message.id.asc())
    if limit:
        query = query.limit(limit)
    return list(query)


def _attachments(messages: list[Message]) -> dict[int, list[Attachment]]:
    ids = [m.id for m in messages]
    found: dict[int, list[Attachment]] = {i: [] for i in ids}
    if ids:
        rows = Attachment.select(
            Attachment.id, Attachment.message, Attachment.filename, Attachment.content_type,
            Attachment.size, Attachment.content_id, Attachment.note,
        ).where(Attachment.message.in_(ids))  # fmt: skip
        for att in rows:
            found[att.message_id].append(att)
    return found


def _events(conversation_id: int, where) -> list[AuditEvent]:
    Actor = User.alias()
    return list(
        AuditEvent.select(AuditEvent, Actor)
        .join(Actor, JOIN.LEFT_OUTER, on=(AuditEvent.actor == Actor.id), attr="actor")
        .where((AuditEvent.conversation == conversation_id) & where)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )


def _merge(messages: list[Message], events: list[AuditEvent]) -> list[Entry]:
    attachments = _attachments(messages)
    entries = [Entry(m.sent_at, message=m, attachments=attachments[m.id]) for m in messages]
    entries += [Entry(e.created_at, event=e) for e in events]
    entries.sort(key=lambda e: (e.at, 0 if e.message else 1, e.message.id if e.message else e.event.id))
    return entries


def page(conversation: Conversation, before: str | None = None) -> Timeline:
    """The newest ``PAGE_SIZE`` messages (or those before the ``before`` cursor) with the
    audit events of the same stretch of time."""
    where = None
    upper = None
    if before:
        try:
            stamp, _, ident = before.partition("|")
            upper = (dt.datetime.fromisoformat(stamp), int(ident))
        except ValueError:
            upper = None
    if upper:
        where = (Message.sent_at < upper[0]) | ((Message.sent_at == upper[0]) & (Message.id < upper[1]))
    messages = _messages(conversation.id, where, PAGE_SIZE + 1)
    more = len(messages) > PAGE_SIZE
    messages = list(reversed(messages[:PAGE_SIZE]))
    ev_where = AuditEvent.id > 0
    if more and messages:
        ev_where &= AuditEvent.created_at >= messages[0].sent_at
    if upper:
        ev_where &= AuditEvent.created_at < upper[0]
    events = _events(conversation.id, ev_where)
    cursor = f"{messages[0].sent_at.isoformat()}|{messages[0].id}" if more and messages else None
    return Timeline(_merge(messages, events), cursor)


@dataclass
class Changes:
    new: list[Entry]
    changed: list[Entry]
    last_message_id: int
    last_event_id: int


def changes(conversation: Conversation, after_message: int, after_event: int, since: dt.datetime) -> Changes:
    """What happened since the page was drawn: new messages and events to append, and
    messages whose status changed, to replace in place."""
    new_msgs = _messages(conversation.id, Message.id > after_message, limit=200, newest_first=False)
    changed = _messages(
        conversation.id, (Message.id <= after_message) & (Message.updated_at > since), limit=200, newest_first=False
    )
    events = _events(conversation.id, AuditEvent.id > after_event)
    return Changes(
        new=_merge(new_msgs, events),
        changed=_merge(changed, []),
        last_message_id=max([after_message] + [m.id for m in new_msgs]),
        last_event_id=max([after_event] + [e.id for e in events]),
    )


def last_ids(conversation: Conversation) -> tuple[int, int]:
    m = Message.select(Message.id).where(Message.conversation == conversation).order_by(Message.id.desc()).first()
    e = (
        AuditEvent.select(AuditEvent.id)
        .where(AuditEvent.conversation == conversation)
        .order_by(AuditEvent.id.desc())
        .first()
    )
    return (m.id if m else 0), (e.id if e else 0)
