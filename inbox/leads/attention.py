"""Open leads with no next step: no reply due from us, nothing planned (a follow-up, a
reminder, the plan, a snooze), and no dated next action. The inbox lists them under
"Needs attention" and the daily summary counts them; in a team that works as designed
the list is empty, so whatever is on it was dropped somewhere."""

from __future__ import annotations

from peewee import JOIN, Expression, fn

from ..models import Contact, Conversation, FollowUp
from .lifecycle import WAITING_STATUSES


def condition() -> Expression:
    """The conversations (joined with their Contact) that need attention."""
    planned = FollowUp.select(FollowUp.id).where(
        (FollowUp.conversation == Conversation.id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
    )
    return (
        (Conversation.state == "open")
        & Conversation.waiting_since.is_null()
        & Contact.lead_status.in_(WAITING_STATUSES)
        & Contact.merged_into.is_null()
        & Contact.next_action_at.is_null()
        & ~fn.EXISTS(planned)
    )


def count() -> int:
    return (
        Conversation.select(fn.COUNT(Conversation.id))
        .join(Contact, JOIN.INNER, on=(Conversation.contact == Contact.id))
        .where(condition())
        .scalar()
    )
