"""What runs when a customer writes, when we reply and when a follow-up falls due: the
one table of the product's automation, and the entry points that run it.

Storing stays apart from reacting: ``ingest()`` and ``outbound.send()`` only store and keep
the timers. Every door a message comes in by (pollers, webhooks, the lead form, the demo)
calls ``receive()`` or ``receive_many()``; the composer calls ``reply()``; the periodic
sweep calls ``sweep_followups()``. Each runs the table's steps in the same transaction as
the store, and queues the deliveries it caused after the commit.

    a customer message (waits for us)  ON_CUSTOMER_MESSAGE, then ON_NEW_LEAD for a new lead
    a carrier keyword (STOP, START)    ON_OPT_OUT for an opt-out word; nobody waits
    an auto-reply or bounce            nothing: nobody waits
    a human reply of ours              ON_HUMAN_REPLY
    a follow-up falls due              FOLLOWUPS[kind]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import consent, ingest, outbound, reminders
from .db import utcnow, write_transaction
from .ingest import InboundMessage, IngestResult
from .leads import lifecycle, plan
from .models import Channel, Contact, Conversation, FollowUp, Message, User

ON_CUSTOMER_MESSAGE = (
    plan.on_customer_reply,  # the plan and any reactivation stop: they answered
    lifecycle.on_customer_message,  # a dormant lead wakes; a lead left waiting is reminded
)
ON_NEW_LEAD = lifecycle.start  # owner, notification, acknowledgement, waiting reminders
ON_OPT_OUT = (lifecycle.on_opt_out,)  # planned automatic touches stop; a task, or lost
ON_HUMAN_REPLY = (
    lifecycle.on_answered,  # the waiting reminders and a pending acknowledgement stop
    plan.on_our_reply,  # the follow-up plan starts from this reply
)
FOLLOWUPS = {
    "manual": reminders.fire_manual,
    "lead_ack": lifecycle.safely(lifecycle.fire_ack),
    "lead_unanswered": lifecycle.safely(lifecycle.fire_unanswered),
    "cadence": plan.fire,
    "reengage": plan.fire,
    "reactivation": plan.fire,
    "close_lost": plan.fire,
    "opted_out": lifecycle.safely(lifecycle.fire_opted_out),
}


@dataclass
class Received:
    message: Message
    created: bool
    lead: lifecycle.Started | None = None  # set when the message made a new lead

    @property
    def ack_message_id(self) -> int | None:
        return self.lead.ack.get("message_id") if self.lead and self.lead.ack.get("status") == "sent" else None


# --- a customer wrote --------------------------------------------------------------------


def receive(inbound: InboundMessage, channel: Channel | None = None) -> Received:
    """Store a customer's message and run what follows it."""
    received = store_and_react(inbound, channel)
    after_commit(received)
    return received


def store_and_react(inbound: InboundMessage, channel: Channel | None = None) -> Received:
    """``receive()`` up to the commit (inside the caller's transaction, if it has one)."""
    with write_transaction():
        return react(ingest.ingest(inbound, channel), channel)


def after_commit(received: Received) -> None:
    """Queue the deliveries a received message caused, once they are committed (so a
    worker finds them)."""
    if received.ack_message_id:
        outbound.queue_delivery(received.ack_message_id)


def react(stored: IngestResult, channel: Channel | None = None, *, lead_source: str | None = None) -> Received:
    """The table's steps for a message just stored (the caller holds the transaction).
    ``lead_source`` marks a lead form submission: a new lead even from a known contact."""
    received = Received(stored.message, stored.created)
    if not stored.created:
        return received
    message = stored.message
    if not lifecycle.waits(message):
        if consent.keyword(message.text) == "opt_out":
            for step in ON_OPT_OUT:
                step(message)
        return received
    for step in ON_CUSTOMER_MESSAGE:
        step(message)
    if channel is None or channel.id != message.channel_id:
        channel = Channel.get_by_id(message.channel_id)
    now = utcnow()
    if lead_source is not None or (stored.new_contact and lifecycle.is_new_lead(message, channel, now)):
        conv = Conversation.get_by_id(message.conversation_id)
        contact = Contact.get_by_id(conv.contact_id)
        source = lead_source if lead_source is not None else channel.name
        received.lead = ON_NEW_LEAD(conv, contact, message, kind=message.channel_kind, source=source, now=now)
        if lead_source is None:  # the lead form records its own, with the attribution
            lifecycle.record_arrival(conv, contact, received.lead, source=source, kind=message.channel_kind)
    return received


def receive_many(inbounds: list[InboundMessage], channel: Channel) -> int:
    """``receive()`` for a batch of plain mail (``ingest.ingest_many``): the same rows and the
    same reactions. Returns how many messages were new."""
    with write_transaction():
        batch = ingest.ingest_many(inbounds, channel)
        if not batch.stored:
            return 0
        _on_customer_messages(batch.first_customer_message, lifecycle.takes_leads(channel))
        acks = []
        now = utcnow()
        for conversation_id, message_id in (batch.new_leads() if lifecycle.takes_leads(channel) else {}).items():
            message = Message.get_by_id(message_id)
            if lifecycle.is_new_lead(message, channel, now):
                conv = Conversation.get_by_id(conversation_id)
                contact = Contact.get_by_id(conv.contact_id)
                started = ON_NEW_LEAD(conv, contact, message, kind="email", source=channel.name, now=now)
                lifecycle.record_arrival(conv, contact, started, source=channel.name, kind="email")
                if started.ack.get("status") == "sent":
                    acks.append(started.ack["message_id"])
    for message_id in acks:
        outbound.queue_delivery(message_id)
    return batch.stored


def _on_customer_messages(first_message: dict[int, int], leads: bool) -> None:
    """ON_CUSTOMER_MESSAGE for a batch, given each conversation's first customer message
    (the later ones change nothing more): the plan stops, a dormant or lost lead wakes, and on a
    channel that takes ``leads`` a lead left waiting is reminded."""
    if not first_message:
        return
    conversation_ids = sorted(first_message)
    # reminders.cancel_pending() for each conversation. The follow-ups are looked up by
    # conversation first: asked for "not fired, not cancelled" of 50 conversations at once,
    # SQLite would read every pending follow-up through the sweep's index instead.
    pending = [
        followup_id
        for followup_id, kind, fired_at, cancelled_at in FollowUp.select(
            FollowUp.id, FollowUp.kind, FollowUp.fired_at, FollowUp.cancelled_at
        )
        .where(FollowUp.conversation.in_(conversation_ids))
        .tuples()
        if kind in plan.KINDS and fired_at is None and cancelled_at is None
    ]
    now = utcnow()
    for followup_id in pending:  # one by one, each by its id (few, and usually none)
        FollowUp.update(cancelled_at=now).where(
            (FollowUp.id == followup_id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
        ).execute()
    # Leads to wake, or to remind while they wait (mail of the last days only: an import of
    # old mail reminds nobody).
    wake = Contact.lead_status.in_(lifecycle.REVIVED_STATUSES) | Contact.dormant_since.is_null(False)
    if leads:
        wake |= (
            Conversation.waiting_since.is_null(False) & (Conversation.last_inbound_at >= utcnow() - lifecycle.HISTORY)
            & Contact.lead_status.in_(lifecycle.CHASED_STATUSES)
        )  # fmt: skip
    woken = (
        Conversation.select(Conversation.id)
        .join(Contact)
        .where(Conversation.id.in_(conversation_ids) & wake)
        .order_by(Conversation.id)
        .tuples()
    )
    for (conversation_id,) in woken:
        lifecycle.on_customer_message(Message.get_by_id(first_message[conversation_id]))


# --- we replied ------------------------------------------------------------------------------


def reply(conversation: Conversation, *, author: User, **fields) -> Message:
    """Store a human reply (``outbound.send``) and run what follows it; the caller queues
    the delivery."""
    with write_transaction():
        message = outbound.send(conversation, author=author, **fields)
        if not message.automatic:
            for step in ON_HUMAN_REPLY:
                step(message)
    return message


def retry(message: Message) -> bool:
    """Send a failed message again (the retry button). A human reply counts from now on: it
    answers the customer and starts the follow-up plan again."""
    with write_transaction():
        retried = outbound.retry(message)
        if retried and message.author_id is not None and not message.automatic:
            message = Message.get_by_id(message.id)  # updated_at: the moment of the retry
            outbound.count_as_answer(message)
            for step in ON_HUMAN_REPLY:
                step(message)
    return retried


# --- follow-ups fall due ---------------------------------------------------------------------------


def sweep_followups(now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Fire every follow-up that is due, each by its kind's step in ``FOLLOWUPS``."""
    return reminders.sweep(FOLLOWUPS, now, limit)
