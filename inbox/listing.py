"""The inbox list: folders, filters, two sort orders, keyset pagination and search.

A page costs a fixed number of queries whatever its size: one for the rows (conversation,
contact and assignee joined), one for identities, one for tags."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import JOIN

from . import contacts, search
from .db import utcnow
from .models import CHANNEL_KINDS, LEAD_STATUSES, Contact, ContactTag, Conversation, User

FOLDERS = ("mine", "unassigned", "open", "snoozed", "closed")
SORTS = ("newest", "waiting")
PAGE_SIZE = 50
# SLA targets until SLA policies are configurable: new leads 1 hour, everyone else 24 hours.
SLA_SECONDS = {"new": 3600}
SLA_DEFAULT_SECONDS = 24 * 3600


@dataclass
class InboxFilter:
    folder: str = "open"
    channel: str | None = None
    assignee: int | None = None
    lead_status: str | None = None
    tag: str | None = None
    sort: str = "newest"
    q: str = ""
    cursor: str | None = None

    @classmethod
    def from_args(cls, args, default_folder: str = "open") -> InboxFilter:
        def pick(name, allowed):
            value = args.get(name) or None
            return value if value in allowed else None

        assignee = args.get("assignee")
        return cls(
            folder=pick("folder", FOLDERS) or default_folder,
            channel=pick("channel", CHANNEL_KINDS),
            assignee=int(assignee) if assignee and assignee.isdigit() and len(assignee) < 12 else None,
            lead_status=pick("lead_status", LEAD_STATUSES),
            tag=(args.get("tag") or "").strip().lower()[:40] or None,
            sort=pick("sort", SORTS) or "newest",
            q=(args.get("q") or "").strip()[:200],
            cursor=(args.get("cursor") or "")[:80] or None,
        )

    def args(self, **override) -> dict:
        values = {
            "folder": self.folder, "channel": self.channel, "assignee": self.assignee,
            "lead_status": self.lead_status, "tag": self.tag, "sort": self.sort, "q": self.q,
        }  # fmt: skip
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class Row:
    conversation: Conversation
    contact: Contact
    assignee: User | None
    identities: list = field(default_factory=list)
    tags: list = field(default_factory=list)

    @property
    def sla_seconds(self) -> int:
        return SLA_SECONDS.get(self.contact.lead_status, SLA_DEFAULT_SECONDS)


@dataclass
class Page:
    rows: list[Row]
    next_cursor: str | None


def _parse_cursor(cursor: str | None):
    if not cursor or "|" not in cursor:
        return None
    stamp, _, ident = cursor.partition("|")
    try:
        return dt.datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


def base_query():
    Assignee = User.alias()
    query = (
        Conversation.select(Conversation, Contact, Assignee)
        .join(Contact, on=(Conversation.contact == Contact.id))
        .switch(Conversation)
        .join(Assignee, JOIN.LEFT_OUTER, on=(Conversation.assignee == Assignee.id), attr="assignee")
    )
    return query


def conversations(user: User, f: InboxFilter, limit: int = PAGE_SIZE, updated_since: dt.datetime | None = None) -> Page:
    query = base_query()
    if f.q:
        message_ids = search.matching_message_ids(f.q, limit=300)
        contact_ids = search.matching_contact_ids(f.q, limit=300)
        from .models import Message

        conv_ids = {
            m.conversation_id for m in Message.select(Message.conversation).where(Message.id.in_(message_ids or [0]))
        }
        cond = Conversation.id.in_(list(conv_ids) or [0]) | Conversation.contact.in_(contact_ids or [0])
        query = query.where(cond)
    elif f.folder == "mine":
        query = query.where((Conversation.state == "open") & (Conversation.assignee == user.id))
    elif f.folder == "unassigned":
        query = query.where((Conversation.state == "open") & Conversation.assignee.is_null())
    else:
        query = query.where(Conversation.state == f.folder)
    if f.channel:
        query = query.where(Conversation.channels.contains(f.channel))
    if f.assignee is not None:
        query = query.where(Conversation.assignee == f.assignee)
    if f.lead_status:
        query = query.where(Contact.lead_status == f.lead_status)
    if f.tag:
        tagged = ContactTag.select(ContactTag.contact).where(ContactTag.tag == f.tag)
        query = query.where(Conversation.contact.in_(tagged))
    if updated_since is not None:
        query = query.where(Conversation.updated_at > updated_since)

    cursor = _parse_cursor(f.cursor)
    if f.sort == "waiting" and not f.q:
        query = query.where(Conversation.waiting_since.is_null(False))
        if cursor:
            at, ident = cursor
            query = query.where(
                (Conversation.waiting_since > at) | ((Conversation.waiting_since == at) & (Conversation.id > ident))
            )
        query = query.order_by(Conversation.waiting_since.asc(), Conversation.id.asc())
    else:
        if cursor:
            at, ident = cursor
            query = query.where(
                (Conversation.last_activity_at < at)
                | ((Conversation.last_activity_at == at) & (Conversation.id < ident))
            )
        query = query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())

    convs = list(query.limit(limit + 1))
    more = len(convs) > limit
    convs = convs[:limit]
    contact_ids = [c.contact_id for c in convs]
    identities = contacts.identities_of(contact_ids)
    tags = contacts.tags_of(contact_ids)
    rows = [
        Row(c, c.contact, c.assignee if c.assignee_id else None, identities[c.contact_id], tags[c.contact_id])
        for c in convs
    ]
    next_cursor = None
    if more and convs:
        last = convs[-1]
        key = last.waiting_since if (f.sort == "waiting" and not f.q) else last.last_activity_at
        next_cursor = f"{key.isoformat()}|{last.id}"
    return Page(rows, next_cursor)


def folder_counts(user: User) -> dict[str, int]:
    open_ = Conversation.select().where(Conversation.state == "open")
    return {
        "mine": open_.where(Conversation.assignee == user.id).count(),
        "unassigned": open_.where(Conversation.assignee.is_null()).count(),
        "waiting": open_.where(Conversation.waiting_since.is_null(False)).count(),
    }


def now_token() -> str:
    return utcnow().isoformat()
