"""Right now: who is waiting and for how long, breached targets, unassigned work,
follow-ups due, new leads nobody answered yet, and the same per agent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from peewee import fn

from .. import listing, sla, team
from ..db import utcnow
from ..models import Contact, Conversation, FollowUp, User


@dataclass
class AgentLoad:
    user_id: int
    name: str
    open: int = 0
    waiting: int = 0
    breached: int = 0
    oldest_wait: dt.datetime | None = None


@dataclass
class RightNow:
    at: dt.datetime
    waiting: int
    oldest_wait: dt.datetime | None
    breached: int
    unassigned: int
    unassigned_waiting: int
    followups_overdue: int
    followups_due_today: int
    new_leads_unanswered: int
    agents: list[AgentLoad] = field(default_factory=list)


def snapshot(now: dt.datetime | None = None) -> RightNow:
    now = now or utcnow()
    policy = sla.Policy.load()
    tz = ZoneInfo(team.get("timezone"))
    local = now.replace(tzinfo=dt.UTC).astimezone(tz)
    day_end = (
        dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        .astimezone(dt.UTC)
        .replace(tzinfo=None)
    )
    open_ = Conversation.state == "open"
    waiting = open_ & Conversation.waiting_since.is_null(False)
    count, oldest = (
        Conversation.select(fn.COUNT(Conversation.id), fn.MIN(Conversation.waiting_since)).where(waiting).tuples().get()
    )
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    breached = listing.breached_condition(policy, now)
    pending = FollowUp.done_at.is_null() & FollowUp.cancelled_at.is_null()
    snapshot = RightNow(
        at=now,
        waiting=count,
        oldest_wait=oldest,
        breached=Conversation.select().join(Contact).where(breached).count(),
        unassigned=Conversation.select().where(open_ & Conversation.assignee.is_null()).count(),
        unassigned_waiting=Conversation.select().where(waiting & Conversation.assignee.is_null()).count(),
        followups_overdue=FollowUp.select().where(pending & (FollowUp.due_at < now)).count(),
        followups_due_today=FollowUp.select()
        .where(pending & (FollowUp.due_at >= now) & (FollowUp.due_at < day_end))
        .count(),
        new_leads_unanswered=Conversation.select()
        .join(Contact)
        .where(waiting & (Contact.lead_status == "new") & Conversation.first_response_at.is_null())
        .count(),
    )
    agents = {
        uid: AgentLoad(uid, name)
        for uid, name in User.select(User.id, User.name).where(User.active).order_by(User.name).tuples()
    }
    for uid, n in (
        Conversation.select(Conversation.assignee, fn.COUNT(Conversation.id))
        .where(open_ & Conversation.assignee.is_null(False))
        .group_by(Conversation.assignee)
        .tuples()
    ):
        if uid in agents:
            agents[uid].open = n
    for uid, n, oldest_wait in (
        Conversation.select(Conversation.assignee, fn.COUNT(Conversation.id), fn.MIN(Conversation.waiting_since))
        .where(waiting & Conversation.assignee.is_null(False))
        .group_by(Conversation.assignee)
        .tuples()
    ):
        if uid in agents:
            agents[uid].waiting = n
            agents[uid].oldest_wait = (
                dt.datetime.fromisoformat(oldest_wait) if isinstance(oldest_wait, str) else oldest_wait
            )
    for uid, n in (
        Conversation.select(Conversation.assignee, fn.COUNT(Conversation.id))
        .join(Contact)
        .where(breached & Conversation.assignee.is_null(False))
        .group_by(Conversation.assignee)
        .tuples()
    ):
        if uid in agents:
            agents[uid].breached = n
    # Agents with nothing open still show, so a manager sees who has room.
    snapshot.agents = list(agents.values())
    return snapshot
