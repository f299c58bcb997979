"""Reminders and follow-ups: stored in the database, fired by a periodic sweep, each
exactly once however many consumers run the sweep (a conditional update claims it).

What each kind does when it fires is ``automation.FOLLOWUPS``, handed to ``sweep()``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from . import audit, notifications
from .db import utcnow, write_transaction
from .i18n import N_, UserFacingError
from .models import Conversation, FollowUp, Template, User

Handler = Callable[[FollowUp, dt.datetime], None]
AUTOMATIC_KINDS = ("lead_ack", "lead_unanswered", "cadence", "reengage", "reactivation", "close_lost", "opted_out")
PRESETS = {"1h": dt.timedelta(hours=1), "3h": dt.timedelta(hours=3), "1d": dt.timedelta(days=1),
           "3d": dt.timedelta(days=3), "1w": dt.timedelta(weeks=1)}  # fmt: skip


class ReminderError(UserFacingError):
    pass


def schedule(
    conversation: Conversation | int, due_at: dt.datetime, *, kind: str = "manual", owner: User | int | None = None,
    note: str = "", step: int = 0, template: Template | None = None, meta: dict | None = None,
) -> FollowUp:  # fmt: skip
    return FollowUp.create(
        conversation=conversation, owner=owner, kind=kind, due_at=due_at, note=note[:255], step=step,
        template=template, meta=meta or {},
    )  # fmt: skip


def remind(conversation: Conversation, user: User, due_at: dt.datetime, note: str = "") -> FollowUp:
    """ "Remind me" on a conversation."""
    if due_at <= utcnow():
        raise ReminderError(N_("Pick a time in the future."))
    if due_at > utcnow() + dt.timedelta(days=366):
        raise ReminderError(N_("Pick a time within a year."))
    if len(note) > 255:
        raise ReminderError(N_("The note is too long (at most 255 characters)."))
    with write_transaction():
        followup = schedule(conversation, due_at, owner=user, note=note.strip())
        audit.record(user, "reminder_set", followup, conversation=conversation,
                     after={"due_at": due_at.isoformat(), "note": note.strip()})  # fmt: skip
    return followup


def cancel(followup: FollowUp, user: User | None = None) -> bool:
    done = (
        FollowUp.update(cancelled_at=utcnow())
        .where((FollowUp.id == followup.id) & FollowUp.cancelled_at.is_null() & FollowUp.done_at.is_null())
        .execute()
    )
    return bool(done)


def complete(followup: FollowUp) -> bool:
    return bool(
        FollowUp.update(done_at=utcnow()).where((FollowUp.id == followup.id) & FollowUp.done_at.is_null()).execute()
    )


def cancel_pending(conversation_id: int, kinds: tuple[str, ...]) -> int:
    """Cancel what is still waiting to fire (e.g. the cadence once the customer replies)."""
    return (
        FollowUp.update(cancelled_at=utcnow())
        .where(
            (FollowUp.conversation == conversation_id)
            & FollowUp.kind.in_(list(kinds))
            & FollowUp.fired_at.is_null()
            & FollowUp.cancelled_at.is_null()
        )
        .execute()
    )


def pending_for(user: User, limit: int = 200) -> list[FollowUp]:
    return list(
        FollowUp.select()
        .where((FollowUp.owner == user) & FollowUp.cancelled_at.is_null() & FollowUp.done_at.is_null())
        .order_by(FollowUp.due_at)
        .limit(limit)
    )


def fire_manual(followup: FollowUp, now: dt.datetime) -> None:
    """ "Remind me": a notification for whoever set it."""
    if followup.owner_id:
        notifications.notify(followup.owner_id, "reminder", followup.conversation_id, note=followup.note)


def sweep(handlers: dict[str, Handler], now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Fire every follow-up that is due with its kind's handler. Returns how many this
    call fired."""
    now = now or utcnow()
    # The (fired_at, cancelled_at, due_at) index holds exactly this range, so the cost
    # follows what is due, not what is pending for later or was cancelled.
    due = (
        FollowUp.select()
        .where(FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.due_at <= now))
        .order_by(FollowUp.due_at)
        .limit(limit)
    )
    fired = 0
    for followup in list(due):
        claimed = (
            FollowUp.update(fired_at=now)
            .where((FollowUp.id == followup.id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null())
            .execute()
        )
        if not claimed:
            continue  # another consumer fired it, or it was cancelled meanwhile
        followup.fired_at = now
        fired += 1
        handlers.get(followup.kind, fire_manual)(followup, now)
    return fired
