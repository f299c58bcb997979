"""``ingest()``: the only code that writes inbound messages.

Pollers, webhooks, imports, the demo and tests all hand it an ``InboundMessage``. It is
idempotent on (channel, provider id): the same message delivered by a webhook, a retry
and a poll is stored once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import IntegrityError

from . import audit, automation, consent, search
from .db import utcnow, write_transaction
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
    contact, address = _find_or_create_contact(inbound)
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
    consent.after_inbound(message)
    if not message.auto_reply:
        automation.on_customer_message(message)
    search.index_message(message)
    return IngestResult(message, True)


def _find_or_create_contact(inbound: InboundMessage) -> tuple[Contact, str]:
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
        return contact, value
    contact = Contact.create(name=(inbound.name or "")[:255])
    Identity.create(contact=contact, kind=kind, value=value)
    search.index_contact(contact, [value])
    return contact, value


def _update_timers(conversation: Conversation, message: Message) -> None:
    now = utcnow()
    at = message.sent_at
    conv = conversation
    if at >= conv.last_activity_at:
        conv.last_activity_at = at
        conv.preview = (message.subject + " — " if message.subject else "") + message.text[:200]
        conv.preview = conv.preview[:255]
        conv.preview_direction = "in"
    kinds = set(conv.channels.split())
    kinds.add(message.channel_kind)
    conv.channels = " ".join(sorted(kinds))
    if not message.auto_reply:
        if conv.last_inbound_at is None or at >= conv.last_inbound_at:
            conv.last_inbound_at = at
            conv.last_inbound_channel = message.channel_kind
        answered = conv.last_outbound_at is not None and at <= conv.last_outbound_at
        if not answered and (conv.waiting_since is None or at < conv.waiting_since):
            conv.waiting_since = at
        if conv.state == "closed":
            conv.state = "open"
            conv.opened_at = now
            conv.first_response_at = None
            audit.record(None, "reopened_by_customer", conv, conversation=conv)
        elif conv.state == "snoozed":
            conv.state = "open"
            conv.snoozed_until = None
            conv.woke_at = now
            audit.record(None, "woken_by_customer", conv, conversation=conv)
    conv.updated_at = now
    conv.save()
