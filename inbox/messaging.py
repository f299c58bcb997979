"""SMS and WhatsApp through Twilio: storing what webhooks and polls deliver (once, by
MessageSid), media, consent keywords, and delivery status callbacks."""

from __future__ import annotations

import datetime as dt
import logging

from . import automation, consent, intake, outbound
from .channels import ChannelError
from .channels import twilio as twilio_adapter
from .db import utcnow
from .ingest import InboundMessage
from .models import Channel, Contact, Conversation, Message
from .polling import PollResult, record_failure, record_success

log = logging.getLogger(__name__)

# Twilio's message statuses in our vocabulary (outbound.update_status never goes back).
STATUS_MAP = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "sending", "sent": "sent",
    "delivered": "delivered", "read": "read", "failed": "failed", "undelivered": "failed", "canceled": "failed",
    "partially_delivered": "delivered",
}  # fmt: skip


def store(channel: Channel, inbound: InboundMessage) -> bool:
    """Store one inbound SMS/WhatsApp message (webhook or poll). Media are downloaded
    only for messages not stored yet. Returns whether it was new."""
    fetch_media(channel, inbound)
    return automation.receive(inbound, channel).created


def fetch_media(channel: Channel, inbound: InboundMessage) -> None:
    """Download the message's media into ``inbound.attachments`` (outside any transaction).
    A file that cannot be fetched becomes an attachment marked unavailable: the text is
    never held back by its media."""
    media = inbound.meta.get("media") or []
    if not media:
        return
    # Checked here only to spare the download; ingest() checks again in its transaction.
    stored = Message.select().where((Message.channel == channel.id) & (Message.provider_id == inbound.provider_id))
    if stored.exists():
        return
    settings = twilio_adapter.TwilioSettings.from_channel(channel.settings)
    inbound.attachments = twilio_adapter.download_media(settings, media)


# --- webhooks, from the intake table (inbox.intake) ------------------------------------------


def _prepare_inbound(channel: Channel, form: dict) -> InboundMessage:
    inbound = twilio_adapter.inbound_from_form(channel.id, form)
    fetch_media(channel, inbound)
    return inbound


def _store_inbound(channel: Channel, form: dict, inbound: InboundMessage) -> automation.Received:
    return automation.store_and_react(inbound, channel)


INTAKE = {
    "inbound": intake.Handler(prepare=_prepare_inbound, store=_store_inbound, after=automation.after_commit),
    "status": intake.Handler(store=lambda channel, form, _: status_callback(channel, form)),
}


def status_callback(channel: Channel, form: dict) -> bool:
    """Apply a delivery status callback to our outbound message. Returns whether the
    status moved (late or repeated callbacks never move it backwards)."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    message = Message.get_or_none((Message.channel == channel.id) & (Message.provider_id == sid))
    if message is None:
        return False
    status = STATUS_MAP.get((form.get("MessageStatus") or "").lower())
    if status is None:
        return False
    code = form.get("ErrorCode")
    error = twilio_adapter.explain(code) if status == "failed" else None
    moved = outbound.update_status(message, status, error)
    if status == "failed" and str(code) == "21610":
        contact = Contact.get_by_id(Conversation.get_by_id(message.conversation_id).contact_id)
        consent.set_opted_out(contact, message.channel_kind, True, reason="Twilio error 21610")
    return moved


def poll(channel_id: int) -> PollResult:
    """Read the account's recent messages: inbound ones not yet stored (a missed webhook,
    or no public URL at all) and the status of our outbound ones."""
    channel = Channel.get_by_id(channel_id)
    result = PollResult()
    cursor = dict(channel.cursor or {})
    try:
        settings = twilio_adapter.TwilioSettings.from_channel(channel.settings)
        ours = settings.our_numbers()
        last = channel.last_poll_at or (utcnow() - dt.timedelta(days=2))
        # The API filters by GMT day only: look one day back and let MessageSid dedupe.
        since_day = (last - dt.timedelta(days=1)).date()
        for item in twilio_adapter.fetch_recent(settings, since_day):
            result.fetched += 1
            if result.fetched > 20_000:
                break
            if (item["_direction"] or "").startswith("inbound"):
                to = (item["To"] or "").removeprefix("whatsapp:")
                if ours and to not in ours:
                    continue
                inbound = twilio_adapter.inbound_from_form(channel.id, item, received_at=item["_date_sent"])
                if int(item.get("NumMedia") or 0) and item.get("_media_uri"):
                    if (
                        Message.select()
                        .where((Message.channel == channel.id) & (Message.provider_id == inbound.provider_id))
                        .exists()
                    ):
                        continue
                    inbound.meta["media"] = twilio_adapter.media_of(settings, item["_media_uri"])
                if store(channel, inbound):
                    result.stored += 1
            else:
                form = {
                    "MessageSid": item["MessageSid"],
                    "MessageStatus": item["_status"],
                    "ErrorCode": item["_error_code"],
                }
                status_callback(channel, form)
    except ChannelError as exc:
        record_failure(channel, cursor, str(exc))
        result.error = str(exc)
        return result
    record_success(channel, cursor)
    return result
