"""The two moments follow-up automation reacts to, wired into the message path:
a customer message stored by ``ingest()``, and a human reply stored by ``send()``."""

from __future__ import annotations

from .db import utcnow
from .models import Contact, Conversation, Message


def on_customer_message(message: Message) -> None:
    """A customer wrote (not an auto-reply): stop chasing them, wake dormant leads."""
    from . import cadence, leads

    cadence.on_customer_reply(message)
    leads.on_customer_reply(message)


def on_customer_messages(first_message: dict[int, int]) -> None:
    """``on_customer_message`` for a batch (``ingest_many``), given each conversation's first
    customer message (the later ones change nothing more): the cadence and re-engagement
    follow-ups stop (cadence.on_customer_reply, leads.on_customer_reply), and a dormant
    lead wakes (leads.reactivate), with the message that woke it."""
    from . import cadence, leads
    from .models import FollowUp

    if not first_message:
        return
    conversation_ids = sorted(first_message)
    # reminders.cancel_pending() for each conversation. The follow-ups are looked up by
    # conversation first: asked for "not fired, not cancelled" of 50 conversations at once,
    # SQLite would read every pending follow-up through the sweep's index instead.
    kinds = {*cadence.KINDS, "reengage"}
    pending = [
        followup_id
        for followup_id, kind, fired_at, cancelled_at in FollowUp.select(
            FollowUp.id, FollowUp.kind, FollowUp.fired_at, FollowUp.cancelled_at
        )
        .where(FollowUp.conversation.in_(conversation_ids))
        .tuples()
        if kind in kinds and fired_at is None and cancelled_at is None
    ]
    now = utcnow()
    for followup_id in pending:  # one by one, each by its id (few, and usually none)
        FollowUp.update(cancelled_at=now).where(
            (FollowUp.id == followup_id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
        ).execute()
    dormant = (
        Contact.select(Contact.id, Contact.name, Contact.company, Contact.owner, Contact.lead_status,
                       Contact.dormant_since, Conversation.id.alias("conversation_id"))
        .join(Conversation, on=(Conversation.contact == Contact.id))
        .where(Conversation.id.in_(conversation_ids)
               & ((Contact.lead_status == "dormant") | Contact.dormant_since.is_null(False)))
        .order_by(Conversation.id)
        .objects()  # every column on the Contact, conversation_id too
    )  # fmt: skip
    for contact in dormant:
        conversation_id = contact.conversation_id
        leads.reactivate(
            contact, Conversation.get_by_id(conversation_id), Message.get_by_id(first_message[conversation_id])
        )


def on_human_reply(message: Message) -> None:
    """An agent answered: the conversation now awaits the customer."""
    from . import cadence, leads

    leads.on_answered(message)
    cadence.on_our_reply(message)
