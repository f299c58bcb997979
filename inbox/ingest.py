"""``ingest()``: the only code that writes inbound messages.

Pollers, webhooks, imports, the demo and tests all hand it an ``InboundMessage``. It is
idempotent on (channel, provider id): the same message delivered by a webhook, a retry
and a poll is stored once. ``ingest_many()`` is its set-based form for a batch of mail (a
mailbox sync): the same rows, with a few statements per batch instead of ~15 per message.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from peewee import IntegrityError, __exception_wrapper__

from . import audit, consent, search
from .db import db, is_sqlite, utcnow, write_transaction
from .identities import InvalidIdentity, normalise_email, provider_phone
from .models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    Identity,
    Message,
    MessageSource,
)
from .sanitize import clean_html, html_to_text
from .stats import facts

MAX_TEXT = 1_000_000  # characters kept in the text column; the raw source keeps the rest


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes | None
    size: int = 0
    content_id: str | None = None
    note: str | None = None


@dataclass
class InboundMessage:
    """A message as a channel adapter normalised it. Plain data, no database objects."""

    channel_id: int
    kind: str  # email | sms | whatsapp
    provider_id: str
    address: str  # sender email address or phone number, as the provider gave it
    name: str = ""
    subject: str = ""
    text: str = ""
    html: str | None = None
    received_at: dt.datetime | None = None  # naive UTC
    raw: bytes | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    auto_reply: bool = False  # out-of-office, bounce: shown, but nobody is waiting
    meta: dict = field(default_factory=dict)
    parse_error: str | None = None


@dataclass
class IngestResult:
    message: Message
    created: bool
    new_contact: bool = False  # the message made its sender a new contact


@dataclass
class BatchResult:
    stored: int  # new messages
    first_customer_message: dict[int, int]  # conversation id -> its first new customer message
    new_contact_conversations: set[int]  # conversations of contacts the batch created

    def new_leads(self) -> dict[int, int]:
        """The first customer message of each contact the batch created."""
        return {c: m for c, m in self.first_customer_message.items() if c in self.new_contact_conversations}


def ingest(inbound: InboundMessage, channel: Channel | None = None) -> IngestResult:
    """Store ``inbound`` once and keep its conversation's timers current. ``channel``, when
    the caller has it already (a poller storing a batch), saves looking it up again."""
    for attempt in range(3):
        try:
            with write_transaction():
                return _ingest(inbound, channel)
        except IntegrityError:
            # A concurrent ingest created the same message or identity first; the next
            # attempt finds it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _ingest(inbound: InboundMessage, channel: Channel | None = None) -> IngestResult:
    # The id alone first: selecting every column costs peewee ~0.7 ms per message, and
    # the message is almost always new.
    existing_id = (
        Message.select(Message.id)
        .where((Message.channel == inbound.channel_id) & (Message.provider_id == inbound.provider_id))
        .scalar()
    )
    if existing_id is not None:
        return IngestResult(Message.get_by_id(existing_id), False)

    if channel is None or channel.id != inbound.channel_id:
        channel = Channel.get_by_id(inbound.channel_id)
    contact, address, new_contact = _find_or_create_contact(inbound)
    conversation = Conversation.get_or_none(Conversation.contact == contact)
    if conversation is None:
        conversation = Conversation.create(contact=contact, last_activity_at=inbound.received_at or utcnow())

    received_at = inbound.received_at or utcnow()
    html = clean_html(inbound.html) if inbound.html else None
    text = inbound.text or (html_to_text(html) if html else "")
    message = Message.create(
        conversation=conversation,
        channel=channel,
        channel_kind=inbound.kind,
        direction="in",
        provider_id=inbound.provider_id,
        address=address,
        subject=inbound.subject[:255],
        text=text[:MAX_TEXT],
        html=html,
        status="received",
        sent_at=received_at,
        auto_reply=inbound.auto_reply,
        meta=inbound.meta,
        parse_error=inbound.parse_error,
    )
    if inbound.raw is not None:
        MessageSource.create(message=message, raw=inbound.raw)
    for att in inbound.attachments:
        Attachment.create(
            message=message,
            filename=att.filename[:255],
            content_type=att.content_type[:255],
            size=att.size or (len(att.data) if att.data else 0),
            content_id=att.content_id,
            data=att.data,
            note=att.note,
        )
    _update_timers(conversation, message)
    facts.refresh([conversation.id])
    consent.after_inbound(message)
    search.index_message(message)
    return IngestResult(message, True, new_contact)


def first_seen(inbound: InboundMessage) -> dt.datetime:
    """When a contact made from ``inbound`` was first heard from: its time, unless that
    lies ahead (a sender's clock), so that importing old mail dates its contacts (and the
    dashboard's leads) by the mail, not by the import."""
    now = utcnow()
    return min(inbound.received_at, now) if inbound.received_at else now


def _find_or_create_contact(inbound: InboundMessage) -> tuple[Contact, str, bool]:
    if inbound.kind == "email":
        kind = "email"
        try:
            value = normalise_email(inbound.address)
        except InvalidIdentity:
            value = (inbound.address or "unknown").strip().lower()[:255]
    else:
        kind = "phone"
        value = provider_phone(inbound.address)
    identity = Identity.get_or_none((Identity.kind == kind) & (Identity.value == value))
    if identity is not None:
        contact = identity.contact
        if inbound.name and not contact.name:
            contact.name = inbound.name[:255]
            contact.save()
            search.index_contact(contact)
        return contact, value, False
    contact = Contact.create(name=(inbound.name or "")[:255], created_at=first_seen(inbound))
    Identity.create(contact=contact, kind=kind, value=value)
    search.index_contact(contact, [value])
    return contact, value, True


def _update_timers(conversation: Conversation, message: Message) -> None:
    now = utcnow()
    waits = not message.auto_reply and not consent.is_keyword(message.channel_kind, message.text)
    action = _apply_inbound(conversation, message.sent_at, message.channel_kind, not waits, message.subject,
                            message.text, now)  # fmt: skip
    if action:
        audit.record(None, action, conversation, conversation=conversation)
    conversation.updated_at = now
    conversation.save()


def _apply_inbound(conv, at: dt.datetime, kind: str, no_wait: bool, subject: str, text: str, now: dt.datetime):
    """Move ``conv``'s timer attributes for one inbound message (a Conversation, or the
    batch writer's in-memory copy). ``no_wait``: an auto-reply, a bounce or a carrier
    keyword (STOP), which nobody answers. Returns the audit action it calls for, if any."""
    if at >= conv.last_activity_at or not conv.preview:
        # (A conversation made with its contact, before the first message, has no preview
        # yet but a later activity time: the lead form makes the contact first.)
        conv.last_activity_at = max(at, conv.last_activity_at)
        conv.preview = ((subject + " — " if subject else "") + text[:200])[:255]
        conv.preview_direction = "in"
    kinds = set(conv.channels.split())
    kinds.add(kind)
    conv.channels = " ".join(sorted(kinds))
    if no_wait:
        return None
    if conv.last_inbound_at is None or at >= conv.last_inbound_at:
        conv.last_inbound_at = at
        conv.last_inbound_channel = kind
    answered = conv.last_outbound_at is not None and at <= conv.last_outbound_at
    if not answered and (conv.waiting_since is None or at < conv.waiting_since):
        conv.waiting_since = at
    if conv.state == "closed":
        conv.state = "open"
        conv.opened_at = now
        conv.first_response_at = None
        return "reopened_by_customer"
    if conv.state == "snoozed":
        conv.state = "open"
        conv.snoozed_until = None
        conv.woke_at = now
        return "woken_by_customer"
    return None


# --- a batch of mail -------------------------------------------------------------------
#
# A mailbox import stores thousands of mails; ingest() costs ~15 statements a mail, most
# of its time spent by peewee building them. ingest_many() stores a batch with a few
# set-based statements and gives the same rows as ingest() called on each mail in turn.

_TIMER_COLUMNS = (
    "state", "snoozed_until", "last_activity_at", "opened_at", "waiting_since", "last_inbound_at",
    "last_outbound_at", "first_response_at", "last_inbound_channel", "channels", "preview",
    "preview_direction", "woke_at",
)  # fmt: skip


def batchable(inbound: InboundMessage, channel: Channel) -> bool:
    """Whether ``ingest_many`` takes this message: email of ``channel`` that parsed and is
    no bounce. Anything else goes through ``ingest()`` on its own."""
    return (
        inbound.kind == "email"
        and inbound.channel_id == channel.id
        and inbound.parse_error is None
        and "bounce" not in inbound.meta
    )


def ingest_many(inbounds: list[InboundMessage], channel: Channel) -> BatchResult:
    """Store a batch of mails exactly as ``ingest()`` on each, in order, would: the same
    messages (ids growing in arrival order; a mail already stored, or twice in the batch,
    stored once), contacts, identities, conversations and their timers, audit events and
    search rows. Every message must be ``batchable``. Runs in one write transaction (the
    caller's, if it has one): on any error nothing of the batch is kept, and the caller
    stores the mails one by one. Returns how many are new, and what ``automation`` needs
    to react to them.

    Per batch it costs one query each for the stored provider ids, the identities, the
    conversations, one prepared update per set of changed timer columns, and one insert per new contact, conversation
    and message (identities, sources, attachments and search rows: one prepared statement
    each, run by the driver for every row)."""
    for inbound in inbounds:
        if not batchable(inbound, channel):
            raise ValueError(f"ingest_many() takes plain email of channel {channel.id}: {inbound.provider_id}")
    with write_transaction(), __exception_wrapper__:
        return _ingest_many(inbounds, channel)


class _Timers:
    """A conversation's timer columns while a batch is applied; remembers which were set,
    so that the update writes those only (as ``save()`` of a Conversation would)."""

    def __init__(self, conversation_id: int | None, values: dict):
        self.__dict__.update(values, id=conversation_id, dirty=set())

    def __setattr__(self, name, value):
        self.__dict__[name] = value
        self.dirty.add(name)


class _Insert:
    """One INSERT statement for many rows of ``model``, written once from its fields and run
    by the driver per row. Fields with a default the caller leaves out get it, per row, as
    peewee's own inserts do."""

    def __init__(self, model, fields: list):
        defaults = model._meta.defaults
        given = {f.name for f in fields}  # by name: a peewee Field's == builds an expression
        extra = [f for f in model._meta.sorted_fields if f in defaults and f.name not in given]
        self.converters = [f.db_value for f in fields]
        self.defaults = [(f.db_value, defaults[f]) for f in extra]
        columns = ", ".join(f'"{f.column_name}"' for f in (*fields, *extra))
        marks = ", ".join([db.obj.param] * (len(fields) + len(extra)))
        self.sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
        self.returning = "" if is_sqlite() else f' RETURNING "{model._meta.primary_key.column_name}"'

    def params(self, values) -> list:
        params = [convert(v) for convert, v in zip(self.converters, values, strict=True)]
        for convert, default in self.defaults:
            params.append(convert(default() if callable(default) else default))
        return params

    def one(self, values) -> int:
        """Insert one row; returns its id."""
        cursor = db.cursor()
        cursor.execute(self.sql + self.returning, self.params(values))
        return cursor.lastrowid if not self.returning else cursor.fetchone()[0]

    def many(self, rows) -> None:
        rows = [self.params(values) for values in rows]
        if rows:
            db.cursor().executemany(self.sql, rows)


def _update_many(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """UPDATE model SET columns WHERE id, for rows (values in ``columns`` order + id)."""
    fields = [model._meta.fields[name] for name in columns]
    mark = db.obj.param
    sets = ", ".join(f'"{f.column_name}" = {mark}' for f in fields)
    sql = f'UPDATE "{model._meta.table_name}" SET {sets} WHERE "id" = {mark}'
    converters = [f.db_value for f in fields]
    db.cursor().executemany(
        sql, [[convert(v) for convert, v in zip(converters, row[:-1], strict=True)] + [row[-1]] for row in rows]
    )


@functools.lru_cache(maxsize=4096)  # a mailbox's senders write again and again
def _email_identity(address: str) -> str:
    """The identity value ``_find_or_create_contact`` gives an email address."""
    try:
        return normalise_email(address)
    except InvalidIdentity:
        return (address or "unknown").strip().lower()[:255]


def _ingest_many(inbounds: list[InboundMessage], channel: Channel) -> BatchResult:
    now = utcnow()
    # 1. New mail only, the first of duplicates (step 1 of ingest()).
    fresh: dict[str, InboundMessage] = {}
    for inbound in inbounds:
        fresh.setdefault(inbound.provider_id, inbound)
    for (provider_id,) in (
        Message.select(Message.provider_id)
        .where((Message.channel == channel.id) & Message.provider_id.in_(list(fresh)))
        .tuples()
    ):
        fresh.pop(provider_id, None)
    if not fresh:
        return BatchResult(0, {}, set())
    batch = list(fresh.values())

    # 2. Identities and contacts: a new contact takes the first name its mails give; a
    # known contact without a name takes the first name given (both as ingest() does).
    values = [_email_identity(i.address) for i in batch]
    known = {
        value: [contact_id, name]
        for value, contact_id, name in Identity.select(Identity.value, Identity.contact, Contact.name)
        .join(Contact)
        .where((Identity.kind == "email") & Identity.value.in_(sorted(set(values))))
        .tuples()
    }
    new_contacts: dict[str, str] = {}  # identity value -> name, in order of first mail
    seen: dict[str, dt.datetime] = {}  # identity value -> its earliest mail (new contacts)
    renamed: dict[int, str] = {}
    for inbound, value in zip(batch, values, strict=True):
        name = inbound.name[:255]
        if value in known:
            contact_id, current = known[value]
            if name and not current and contact_id not in renamed:
                renamed[contact_id] = name
        else:
            seen[value] = min(seen.get(value, now), first_seen(inbound))
            if not new_contacts.get(value):
                new_contacts[value] = name
    for contact_id, name in renamed.items():
        contact = Contact.get_by_id(contact_id)
        contact.name = name
        contact.save()
        search.index_contact(contact)
    if new_contacts:
        insert_contact = _Insert(Contact, [Contact.name, Contact.created_at])
        insert_identity = _Insert(Identity, [Identity.contact, Identity.kind, Identity.value])
        created = []
        for value, name in new_contacts.items():
            contact_id = insert_contact.one((name, seen[value]))
            known[value] = [contact_id, name]
            created.append((contact_id, name, "", [value]))
        insert_identity.many((known[value][0], "email", value) for value in new_contacts)
        search.index_contacts(created)

    # 3. Each contact's conversation, its timers moved by the batch's mails in order.
    contact_ids = [known[value][0] for value in values]
    columns = [getattr(Conversation, name) for name in _TIMER_COLUMNS]
    timers: dict[int, _Timers] = {}  # by contact id
    for row in (
        Conversation.select(Conversation.contact, Conversation.id, *columns)
        .where(Conversation.contact.in_(sorted(set(contact_ids))))
        .tuples()
    ):
        timers[row[0]] = _Timers(row[1], dict(zip(_TIMER_COLUMNS, row[2:], strict=True)))
    rows = []
    actions: list[tuple[_Timers, str]] = []
    for inbound, contact_id in zip(batch, contact_ids, strict=True):
        received_at = inbound.received_at or now
        conv = timers.get(contact_id)
        if conv is None:  # a new conversation, as Conversation.create() in ingest() makes it
            conv = timers[contact_id] = _Timers(None, {
                "state": "open", "snoozed_until": None, "last_activity_at": received_at, "opened_at": now,
                "waiting_since": None, "last_inbound_at": None, "last_outbound_at": None,
                "first_response_at": None, "last_inbound_channel": None, "channels": "", "preview": "",
                "preview_direction": "", "woke_at": None,
            })  # fmt: skip
        html = clean_html(inbound.html) if inbound.html else None
        text = (inbound.text or (html_to_text(html) if html else ""))[:MAX_TEXT]
        subject = inbound.subject[:255]
        action = _apply_inbound(conv, received_at, inbound.kind, inbound.auto_reply, subject, text, now)
        if action:
            actions.append((conv, action))
        rows.append((inbound, conv, subject, text, html, received_at))

    # 4. New conversations are inserted with their final timers, the others updated once,
    # writing only the columns the batch set (grouped by that set of columns).
    insert_conversation = _Insert(Conversation, [Conversation.contact, *columns, Conversation.updated_at])
    changed: dict[tuple[str, ...], list[tuple]] = {}
    for contact_id, conv in timers.items():
        if conv.id is None:
            conv.__dict__["id"] = insert_conversation.one(
                (contact_id, *(getattr(conv, name) for name in _TIMER_COLUMNS), now)
            )
        elif conv.dirty:
            names = tuple(name for name in _TIMER_COLUMNS if name in conv.dirty) + ("updated_at",)
            changed.setdefault(names, []).append((*(getattr(conv, name) for name in names[:-1]), now, conv.id))
    for names, updates in changed.items():
        _update_many(Conversation, names, updates)
    for conv, action in actions:
        audit.record(None, action, Conversation(id=conv.id), conversation=conv.id)

    # 5. The messages, in arrival order, with their sources, attachments and search rows.
    insert_message = _Insert(Message, [
        Message.conversation, Message.channel, Message.channel_kind, Message.direction, Message.provider_id,
        Message.address, Message.subject, Message.text, Message.html, Message.status, Message.sent_at,
        Message.auto_reply, Message.meta, Message.parse_error,
    ])  # fmt: skip
    sources, attachments, documents = [], [], []
    first_customer_message: dict[int, int] = {}  # conversation id -> message id
    for (inbound, conv, subject, text, html, received_at), value in zip(rows, values, strict=True):
        message_id = insert_message.one((
            conv.id, channel.id, inbound.kind, "in", inbound.provider_id, value, subject, text, html, "received",
            received_at, inbound.auto_reply, inbound.meta, inbound.parse_error,
        ))  # fmt: skip
        if inbound.raw is not None:
            sources.append((message_id, inbound.raw))
        for att in inbound.attachments:
            attachments.append((
                message_id, att.filename[:255], att.content_type[:255], att.size or (len(att.data) if att.data else 0),
                att.content_id, att.data, att.note,
            ))  # fmt: skip
        documents.append((message_id, subject, text))
        if not inbound.auto_reply:
            first_customer_message.setdefault(conv.id, message_id)
    _Insert(MessageSource, [MessageSource.message, MessageSource.raw]).many(sources)
    _Insert(Attachment, [
        Attachment.message, Attachment.filename, Attachment.content_type, Attachment.size, Attachment.content_id,
        Attachment.data, Attachment.note,
    ]).many(attachments)  # fmt: skip
    search.index_messages(documents)
    facts.refresh(conv.id for conv in timers.values())
    # consent.after_inbound() concerns SMS and WhatsApp only: nothing to do for email.
    created_conversations = {timers[known[value][0]].id for value in new_contacts}
    return BatchResult(len(batch), first_customer_message, created_conversations)
