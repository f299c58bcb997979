"""The inbox list: folders, filters, two sort orders, keyset pagination and search.

A page costs a fixed number of queries whatever its size: one for the rows (conversation,
contact and assignee joined), one for identities, one for tags. The SLA policy that
colours the waiting badges is read once per request by the view (``web.sla_policy``).

The "breached" filter is exact and stays in SQL, so keyset paging works unchanged: each
policy rule becomes a ``CASE`` branch giving the latest ``waiting_since`` that has
breached its target by now (business hours walked back in Python, once per rule), and
the row's ``waiting_since`` must be at or before it. The extra ``waiting_since <= now -
smallest target`` bound lets the (state, waiting_since) index do the range scan.
``breach_notified_at`` is not used: the sweep sets it only every few minutes, and it
stays set when a manager later raises the target."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import JOIN, Case

from . import contacts, search, sla
from .db import utcnow
from .leads import attention
from .models import CHANNEL_KINDS, LEAD_STATUSES, Contact, ContactTag, Conversation, User

FOLDERS = ("mine", "unassigned", "open", "attention", "snoozed", "closed")
SORTS = ("newest", "waiting")
PAGE_SIZE = 50
TRUE = ("1", "on", "true", "yes")


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
    breached: bool = False  # open conversations past their SLA target

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
            breached=(args.get("breached") or "").lower() in TRUE,
        )

    def args(self, **override) -> dict:
        values = {
            "folder": self.folder, "channel": self.channel, "assignee": self.assignee,
            "lead_status": self.lead_status, "tag": self.tag, "sort": self.sort, "q": self.q,
            "breached": "1" if self.breached else None,
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


@dataclass(frozen=True)
class Timer:
    """The waiting badge of a conversation: when it becomes due soon (the last quarter of
    its target) and when it breaches, as wall-clock moments (business hours applied)."""

    since: dt.datetime
    target_seconds: int
    soon: dt.datetime
    deadline: dt.datetime
    state: str  # on_track / due_soon / breached


def timer(policy: sla.Policy, conv: Conversation, contact: Contact, now: dt.datetime | None = None) -> Timer | None:
    if conv.waiting_since is None:
        return None
    now = now or utcnow()
    target = policy.target_seconds(contact.lead_status, conv.last_inbound_channel)
    deadline = policy.deadline(conv.waiting_since, target)
    soon = policy.deadline(conv.waiting_since, 0.75 * target)
    state = "breached" if now >= deadline else "due_soon" if now >= soon else "on_track"
    return Timer(conv.waiting_since, target, soon, deadline, state)


def breach_cutoff(policy: sla.Policy, seconds: float, now: dt.datetime) -> dt.datetime:
    """The latest ``waiting_since`` that has used up ``seconds`` of counted time by ``now``
    (the inverse of ``policy.deadline``: the calendar walked back from ``now``)."""
    if not policy.business_time:
        return now - dt.timedelta(seconds=seconds)
    calendar = policy.calendar
    left = seconds
    day = calendar._local_day(now) + dt.timedelta(days=1)
    for _ in range(3 * 366):
        for start, end in reversed(calendar._spans(day)):
            end = min(end, now)
            if end <= start:
                continue
            span = (end - start).total_seconds()
            if span >= left:
                return end - dt.timedelta(seconds=left)
            left -= span
        day -= dt.timedelta(days=1)
    return now - dt.timedelta(days=3 * 366)  # no business hours at all: nothing breaches


def breached_condition(policy: sla.Policy, now: dt.datetime):
    """Open conversations whose waiting time is past their target (see the module doc)."""
    branches = []
    default = breach_cutoff(policy, policy.default_minutes * 60, now)
    for rule in policy.rules:
        cutoff = breach_cutoff(policy, int(rule["minutes"]) * 60, now)
        conditions = []
        if rule.get("lead_status"):
            conditions.append(Contact.lead_status == rule["lead_status"])
        if rule.get("channel"):
            conditions.append(Conversation.last_inbound_channel == rule["channel"])
        if not conditions:  # matches everything: later rules and the default never apply
            default = cutoff
            break
        condition = conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
        branches.append((condition, cutoff))
    latest = max([cutoff for _, cutoff in branches] + [default])
    query = (Conversation.state == "open") & (Conversation.waiting_since <= latest)
    if branches:
        return query & (Conversation.waiting_since <= Case(None, branches, default))
    return query & (Conversation.waiting_since <= default)


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


def conversations(
    user: User, f: InboxFilter, limit: int = PAGE_SIZE, updated_since: dt.datetime | None = None,
    policy: sla.Policy | None = None,
) -> Page:  # fmt: skip
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
    elif f.folder == "attention":
        query = query.where(attention.condition())
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
    if f.breached:
        query = query.where(breached_condition(policy or sla.Policy.load(), utcnow()))
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
        "attention": attention.count(),
    }


def now_token() -> str:
    return utcnow().isoformat()
