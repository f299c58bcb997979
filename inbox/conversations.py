"""What agents do to a conversation: assign, close, reopen, snooze, add a private note.

Every change is recorded in the audit trail, which the timeline shows."""

from __future__ import annotations

import datetime as dt
import re

from . import audit, notifications, reminders, search
from .db import utcnow, write_transaction
from .i18n import N_, UserFacingError
from .models import Conversation, Message, User


class ConversationError(UserFacingError):
    pass


def _touch(conv: Conversation) -> None:
    conv.updated_at = utcnow()
    conv.save()


def assign(conv: Conversation, actor: User, assignee: User | None) -> None:
    if assignee is not None and not assignee.active:
        raise ConversationError(N_("That user is deactivated."))
    before = conv.assignee_id
    if before == (assignee.id if assignee else None):
        return
    with write_transaction():
        conv.assignee = assignee
        _touch(conv)
        audit.record(
            actor,
            "assigned" if assignee else "unassigned",
            conv,
            conversation=conv,
            before={"assignee": before},
            after={"assignee": assignee.id if assignee else None, "assignee_name": assignee.name if assignee else None},
        )
        if assignee is not None and (actor is None or actor.id != assignee.id):
            notifications.notify(
                assignee, "assigned", conv, by=actor.name if actor else "", name=conv.contact.display_name
            )


def close(conv: Conversation, actor: User) -> None:
    if conv.state == "closed":
        return
    with write_transaction():
        before = conv.state
        conv.state = "closed"
        conv.snoozed_until = None
        _touch(conv)
        audit.record(actor, "closed", conv, conversation=conv, before={"state": before})
        # Closed is done: nothing automatic is planned for it any more (a customer who
        # writes again reopens it and starts over).
        reminders.cancel_pending(conv.id, reminders.AUTOMATIC_KINDS)


def reopen(conv: Conversation, actor: User) -> None:
    if conv.state == "open":
        return
    with write_transaction():
        before = conv.state
        conv.state = "open"
        conv.snoozed_until = None
        conv.opened_at = utcnow()
        conv.first_response_at = None if before == "closed" else conv.first_response_at
        _touch(conv)
        audit.record(actor, "reopened", conv, conversation=conv, before={"state": before})


def snooze(conv: Conversation, actor: User, until: dt.datetime) -> None:
    """Hide the conversation until ``until`` (naive UTC); a customer message wakes it early."""
    if until <= utcnow():
        raise ConversationError(N_("Pick a time in the future."))
    if until > utcnow() + dt.timedelta(days=366):
        raise ConversationError(N_("Snooze for at most a year."))
    with write_transaction():
        conv.state = "snoozed"
        conv.snoozed_until = until
        conv.woke_at = None
        _touch(conv)
        audit.record(actor, "snoozed", conv, conversation=conv, after={"until": until.isoformat()})


def wake_due(now: dt.datetime | None = None) -> int:
    """Reopen snoozed conversations whose time has come. Returns how many woke."""
    now = now or utcnow()
    woken = 0
    due = Conversation.select().where((Conversation.state == "snoozed") & (Conversation.snoozed_until <= now))
    for conv in due.limit(1000):
        with write_transaction():
            # Conditional update: with several consumers each conversation wakes once.
            n = (
                Conversation.update(state="open", snoozed_until=None, woke_at=now, updated_at=now)
                .where((Conversation.id == conv.id) & (Conversation.state == "snoozed"))
                .execute()
            )
            if n:
                audit.record(None, "snooze_ended", conv, conversation=conv)
                if conv.assignee_id:
                    notifications.notify(conv.assignee_id, "snooze_ended", conv, name=conv.contact.display_name)
                woken += 1
    return woken


def add_note(conv: Conversation, author: User, text: str) -> Message:
    text = (text or "").strip()
    if not text:
        raise ConversationError(N_("The note is empty."))
    if len(text) > 50_000:
        raise ConversationError(N_("The note is too long."))
    with write_transaction():
        note = Message.create(conversation=conv, direction="note", author=author, text=text, status="received")
        _touch(conv)
        search.index_message(note)
        mentioned = mentions(text, exclude=author)
        if mentioned:
            excerpt = text if len(text) <= 140 else text[:139] + "…"
            name = conv.contact.display_name
            for user in mentioned:
                notifications.notify(user, "mention", conv, by=author.name, name=name, excerpt=excerpt)
    return note


def mentions(text: str, exclude: User | None = None) -> list[User]:
    """Active users named in ``text`` as @Full Name or @email-local-part (any case); an
    address such as kim@example.com is not a mention."""
    if "@" not in text:
        return []
    found = []
    for user in User.select().where(User.active):
        if exclude is not None and user.id == exclude.id:
            continue
        handles = {h for h in (user.name.strip(), user.email.partition("@")[0]) if h}
        pattern = r"(?<![\w.+-])@(?:" + "|".join(re.escape(h) for h in handles) + r")(?![\w-])"
        if handles and re.search(pattern, text, re.IGNORECASE):
            found.append(user)
    return found
