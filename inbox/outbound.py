"""``send()`` stores what an agent (or an automation) wrote; ``deliver()`` hands it to the
channel adapter and records the provider's answer.

The message is committed with status ``queued`` before any provider is called, so a crash
never loses what an agent wrote. A periodic task re-queues messages stuck in ``queued``.
What follows a human reply (the follow-up plan) is ``automation.reply()``'s, not this
module's: only delivered touches count, so a failed send puts every timer back.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import fn

from . import canned, channels, consent, reminders, search, settings, sla
from .channels import ChannelError, TransientChannelError
from .db import utcnow, write_transaction
from .i18n import N_, UserFacingError
from .models import Attachment, Contact, Conversation, FollowUp, Identity, Message, Template, User
from .stats import facts

log = logging.getLogger(__name__)

MAX_OUTBOUND_TEXT = 50_000
MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024
# Delivery states only move forward; a late "sent" never overwrites "delivered".
STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}


_deliver_later = None


def set_delivery(enqueue) -> None:
    """The task queue registers how to deliver a message later (``tasks.deliver``), so
    domain code (automations) can ask for delivery without importing the tasks module."""
    global _deliver_later
    _deliver_later = enqueue


def queue_delivery(message_id: int) -> None:
    """Hand a stored message to the queue; without a queue the periodic requeue job
    picks it up."""
    if _deliver_later is not None:
        _deliver_later(message_id)


class SendError(UserFacingError):
    """The message cannot be written at all (no address, empty text); nothing is stored."""


def reachable_kinds(conversation: Conversation) -> list[str]:
    """Channel kinds the contact can be written to, the default one first."""
    kinds = set()
    for identity in conversation.contact.identities:
        kinds.update(("email",) if identity.kind == "email" else ("sms", "whatsapp"))
    order = ["email", "whatsapp", "sms"]
    default = conversation.last_inbound_channel
    ranked = sorted(kinds, key=lambda k: (k != default, order.index(k)))
    return ranked


def _address_for(conversation: Conversation, kind: str) -> str:
    wanted = "email" if kind == "email" else "phone"
    latest = (
        Message.select(Message.address)
        .where((Message.conversation == conversation) & (Message.direction == "in") & (Message.channel_kind == kind))
        .order_by(Message.id.desc())
        .first()
    )
    if latest is not None and latest.address:
        return latest.address
    identity = (
        Identity.select()
        .where((Identity.contact == conversation.contact_id) & (Identity.kind == wanted))
        .order_by(Identity.id)
        .first()
    )
    if identity is None and wanted == "email":
        raise SendError(N_("This contact has no email address."))
    if identity is None:
        raise SendError(N_("This contact has no phone number."))
    return identity.value


def send(
    conversation: Conversation,
    *,
    kind: str,
    text: str,
    author: User | None,
    subject: str = "",
    automatic: bool = False,
    meta: dict | None = None,
    at: dt.datetime | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    template: Template | None = None,
) -> Message:
    """Store an outbound message as ``queued`` and update the conversation's timers.

    The caller enqueues ``tasks.deliver(message.id)``. ``at`` backdates the message
    (imports and demo history); it defaults to now. ``attachments`` are
    (filename, content type, bytes) and are stored with the message. ``template`` with a
    Content SID sends an approved WhatsApp template (the only thing allowed outside the
    24-hour window); its variables are filled and checked here."""
    attachments = attachments or []
    meta = dict(meta or {})
    contact = Contact.get_by_id(conversation.contact_id)  # fresh: consent may have just changed
    if kind in ("sms", "whatsapp", "email"):
        reason = consent.blocked_reason(contact, kind)
        if reason:
            raise SendError(reason)
    if kind == "whatsapp":
        if template is not None and template.content_sid:
            try:
                variables = canned.content_variables(template, contact, author, conversation)
                text = text or canned.render(template.body, contact, author, conversation)
            except canned.TemplateProblem as exc:
                raise SendError(exc.msgid, **exc.params) from None
            meta.update(content_sid=template.content_sid, content_variables=variables)
        elif consent.window_left(conversation.id, now=at) is None:
            raise SendError(
                N_(
                    "The WhatsApp 24-hour window is closed: the customer last wrote more than 24 hours ago. Send an approved template instead."
                )
            )
    if sum(len(data) for _, _, data in attachments) > MAX_ATTACHMENTS_BYTES:
        raise SendError(N_("Attachments may add up to %(mb)s MB."), mb=MAX_ATTACHMENTS_BYTES // (1024 * 1024))
    text = (text or "").strip()
    if not text:
        raise SendError(N_("The message is empty."))
    if len(text) > MAX_OUTBOUND_TEXT:
        raise SendError(N_("The message is longer than %(n)s characters."), n=MAX_OUTBOUND_TEXT)
    if kind not in ("email", "sms", "whatsapp"):
        raise SendError(N_("Unknown channel: %(kind)s"), kind=kind)
    address = _address_for(conversation, kind)
    preferred = (
        Message.select(Message.channel)
        .where((Message.conversation == conversation) & (Message.channel_kind == kind))
        .order_by(Message.id.desc())
        .first()
    )
    channel = channels.channel_for(kind, preferred.channel if preferred and preferred.channel_id else None)
    now = at or utcnow()
    with write_transaction():
        conv = Conversation.get_by_id(conversation.id)
        message = Message(
            conversation=conv,
            channel=channel,
            channel_kind=kind,
            direction="out",
            author=author,
            automatic=automatic,
            address=address,
            subject=subject[:255],
            text=text,
            status="queued",
            sent_at=now,
            created_at=now,
            updated_at=now,
            meta=meta or {},
        )
        human = author is not None and not automatic
        if human and conv.waiting_since is not None:
            message.response_seconds = int((now - conv.waiting_since).total_seconds())
            lead_status = Contact.select(Contact.lead_status).where(Contact.id == conv.contact_id).scalar()
            message.business_seconds, message.sla_target_seconds, message.sla_met = sla.Policy.load().reply_figures(
                conv.waiting_since, now, lead_status, conv.last_inbound_channel
            )
            # Kept exactly, so a failed delivery can put the clock back where it was.
            message.meta = {**message.meta, "cleared_waiting_since": conv.waiting_since.isoformat()}
            if conv.first_response_at is None:
                message.first_response = True
                conv.first_response_at = now
            conv.waiting_since = None
            conv.breach_notified_at = conv.escalated_at = None  # the next waiting period starts fresh
        elif human and conv.first_response_at is None and conv.last_inbound_at is not None:
            conv.first_response_at = now
        message.save()
        for filename, content_type, data in attachments:
            Attachment.create(
                message=message, filename=filename[:255] or "attachment", content_type=content_type[:255],
                size=len(data), data=data,
            )  # fmt: skip
        if human:
            conv.last_outbound_at = now
        conv.last_activity_at = now
        if human or conv.preview_direction != "in" or not conv.preview:
            # An automatic touch (acknowledgement, follow-up) leaves the customer's words
            # as the row's preview: they are what an agent needs to read first.
            conv.preview = text[:255]
            conv.preview_direction = "out"
        conv.updated_at = now
        conv.save()
        facts.refresh([conv.id])
        search.index_message(message)
    return message


def _set_status(message: Message, status: str, **fields) -> None:
    fields["updated_at"] = utcnow()
    Message.update(status=status, **fields).where(Message.id == message.id).execute()
    Conversation.update(updated_at=fields["updated_at"]).where(Conversation.id == message.conversation_id).execute()


def deliver(message_id: int) -> str:
    """Hand a queued message to its channel's adapter. Returns the final status.

    Raises ``TransientChannelError`` (after putting the message back in the queue) so the
    task queue retries it."""
    claimed = (
        Message.update(status="sending", updated_at=utcnow())
        .where((Message.id == message_id) & (Message.status == "queued") & (Message.direction == "out"))
        .execute()
    )
    if not claimed:
        return "skipped"  # another worker has it, or it was already sent
    message = Message.get_by_id(message_id)
    adapter = channels.adapter_for(message.channel)
    if adapter is None:
        mark_failed(message, f"No {message.channel_kind} channel is configured, so nothing was sent.")
        return "failed"
    try:
        provider_id = adapter.send(message.channel, outbound_data(message))
    except TransientChannelError as exc:
        _set_status(message, "queued", error=str(exc))
        raise
    except ChannelError as exc:
        mark_failed(message, str(exc))
        if exc.code == 21610:
            contact = Conversation.get_by_id(message.conversation_id).contact
            consent.set_opted_out(contact, message.channel_kind, True, reason="Twilio error 21610")
        return "failed"
    except Exception as exc:  # an adapter bug must not leave the message "sending" forever
        log.exception("adapter %s failed on message %s", message.channel.kind, message_id)
        mark_failed(message, f"Unexpected error: {type(exc).__name__}")
        return "failed"
    _set_status(message, "sent", provider_id=provider_id, error=None)
    return "sent"


def outbound_data(message: Message) -> channels.OutboundMessage:
    """The plain data an adapter needs for ``message``, including email threading."""
    data = channels.OutboundMessage(
        id=message.id,
        kind=message.channel_kind,
        to=message.address,
        text=message.text,
        subject=message.subject,
        author_name=message.author.name if message.author_id else "",
        attachments=[
            channels.OutboundAttachment(a.filename, a.content_type, bytes(a.data))
            for a in Attachment.select().where((Attachment.message == message) & Attachment.data.is_null(False))
        ],
        meta=dict(message.meta or {}),
    )
    if message.channel_kind in ("sms", "whatsapp") and message.channel_id:
        data.meta["status_callback"] = (
            f"{settings.get('base_url').rstrip('/')}/webhooks/twilio/{message.channel_id}/status"
        )
    if message.channel_kind == "email":
        last = (
            Message.select(Message.subject, Message.meta)
            .where(
                (Message.conversation == message.conversation_id)
                & (Message.channel_kind == "email")
                & (Message.direction == "in")
                & (Message.id < message.id)
            )
            .order_by(Message.id.desc())
            .first()
        )
        if last is not None:
            meta = last.meta or {}
            data.in_reply_to = meta.get("message_id")
            data.references = (meta.get("references") or [])[-20:] + (
                [meta["message_id"]] if meta.get("message_id") else []
            )
            data.thread_subject = last.subject
    return data


def mark_failed(message: Message, reason: str) -> None:
    """A reply that never left does not count as having answered the customer: the waiting
    clock is put back, our last reply is the last one that did not fail, and the follow-up
    step the reply planned is cancelled."""
    with write_transaction():
        _set_status(message, "failed", error=reason)
        facts.refresh([message.conversation_id])
        if message.author_id is not None and not message.automatic:
            _forget_reply(message)
        if message.response_seconds is not None:
            conv = Conversation.get_by_id(message.conversation_id)
            cleared = (message.meta or {}).get("cleared_waiting_since")
            restored = (
                dt.datetime.fromisoformat(cleared)
                if cleared
                else message.sent_at - dt.timedelta(seconds=message.response_seconds)
            )
            if conv.waiting_since is None or restored < conv.waiting_since:
                conv.waiting_since = restored
            if message.first_response and conv.first_response_at == message.sent_at:
                conv.first_response_at = None
            conv.save()
            Message.update(
                response_seconds=None, first_response=False, business_seconds=None, sla_target_seconds=None,
                sla_met=None,
            ).where(Message.id == message.id).execute()  # fmt: skip


def _forget_reply(message: Message) -> None:
    last = (
        Message.select(fn.MAX(Message.sent_at))
        .where(
            (Message.conversation == message.conversation_id) & (Message.direction == "out")
            & Message.author.is_null(False) & ~Message.automatic & (Message.status != "failed")
        )
        .scalar()
    )  # fmt: skip
    Conversation.update(last_outbound_at=last).where(Conversation.id == message.conversation_id).execute()
    planned = (
        FollowUp.select(FollowUp.id, FollowUp.meta)
        .where(
            (FollowUp.conversation == message.conversation_id) & FollowUp.kind.in_(list(reminders.AUTOMATIC_KINDS))
            & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
        )
    )  # fmt: skip
    started = [f.id for f in planned if (f.meta or {}).get("origin") == message.id]
    if started:
        FollowUp.update(cancelled_at=utcnow()).where(FollowUp.id.in_(started)).execute()
    # What the reply stopped (the waiting-lead reminders, a pending acknowledgement) is back.
    stopped = FollowUp.select(FollowUp.id, FollowUp.meta).where(
        (FollowUp.conversation == message.conversation_id) & FollowUp.cancelled_at.is_null(False)
        & FollowUp.fired_at.is_null()
    )  # fmt: skip
    back = [f.id for f in stopped if (f.meta or {}).get("cancelled_by") == message.id]
    if back:
        FollowUp.update(cancelled_at=None).where(FollowUp.id.in_(back)).execute()


def count_as_answer(message: Message) -> None:
    """A human reply put back in the queue (retried) answers the customer again from the
    moment of the retry (``message.updated_at``): the waiting clock it had cleared stops,
    and it is our last reply."""
    now = message.updated_at
    conv = Conversation.get_by_id(message.conversation_id)
    if conv.waiting_since is not None and conv.waiting_since <= message.sent_at:
        conv.waiting_since = None
        conv.breach_notified_at = conv.escalated_at = None
    conv.last_outbound_at = max(conv.last_outbound_at or now, now)
    conv.updated_at = now
    conv.save()


def update_status(message: Message, status: str, error: str | None = None) -> bool:
    """Record a provider status callback; never moves a status backwards."""
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(message.status, -1):
        return False
    if status == "failed":
        mark_failed(message, error or "The provider reported a failure.")
    else:
        _set_status(message, status, error=error)
    return True


def retry(message: Message) -> bool:
    """Put a failed outbound message back in the queue (the retry button)."""
    with write_transaction():
        retried = (
            Message.update(status="queued", error=None, updated_at=utcnow())
            .where((Message.id == message.id) & (Message.status == "failed") & (Message.direction == "out"))
            .execute()
        )
        if retried:
            facts.refresh([message.conversation_id])
    return bool(retried)


def stuck_queued(older_than: dt.timedelta = dt.timedelta(minutes=2)) -> list[int]:
    cutoff = utcnow() - older_than
    rows = (
        Message.select(Message.id)
        .where((Message.status == "queued") & (Message.direction == "out") & (Message.updated_at < cutoff))
        .limit(500)
    )
    return [m.id for m in rows]
