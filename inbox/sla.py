"""Service levels: the target response time of a conversation, business hours, and the
sweep that notifies a breach once and escalates to managers at twice the target.

Definitions (ARCHITECTURE.md): a conversation is breached when the time since
``waiting_since`` — wall-clock, or business time when the team counts business hours —
exceeds the target of the first matching rule (lead status and/or channel)."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from peewee import Select, fn

from . import notifications, team
from .db import utcnow
from .models import Contact, Conversation


@dataclass(frozen=True)
class Calendar:
    """Business hours per weekday (0 = Monday) and holidays, in a time zone."""

    hours: dict[int, list[tuple[dt.time, dt.time]]]
    holidays: frozenset[dt.date]
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, hours: dict, holidays: list, tz: str) -> Calendar:
        def t(text: str) -> dt.time:
            return dt.time.fromisoformat(text)

        parsed = {int(day): [(t(a), t(b)) for a, b in spans] for day, spans in hours.items()}
        return cls(parsed, frozenset(dt.date.fromisoformat(d) for d in holidays), ZoneInfo(tz))

    def _spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """Open intervals of a local day, as naive UTC."""
        if day in self.holidays:
            return []
        out = []
        for start, end in self.hours.get(day.weekday(), []):
            a = dt.datetime.combine(day, start, tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)
            b = dt.datetime.combine(day, end, tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)
            out.append((a, b))
        return out

    def _local_day(self, moment: dt.datetime) -> dt.date:
        return moment.replace(tzinfo=dt.UTC).astimezone(self.tz).date()

    def business_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business time between two naive-UTC moments."""
        if end <= start:
            return 0.0
        total = 0.0
        day = self._local_day(start) - dt.timedelta(days=1)
        last = self._local_day(end)
        while day <= last:
            for a, b in self._spans(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total

    def add_business_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The moment when ``seconds`` of business time have passed since ``start``."""
        left = seconds
        day = self._local_day(start) - dt.timedelta(days=1)
        for _ in range(3 * 366):
            for a, b in self._spans(day):
                lo = max(a, start)
                if b <= lo:
                    continue
                span = (b - lo).total_seconds()
                if span >= left:
                    return lo + dt.timedelta(seconds=left)
                left -= span
            day += dt.timedelta(days=1)
        return start + dt.timedelta(days=3 * 366)  # no business hours at all: never, in practice


@dataclass(frozen=True)
class Policy:
    rules: list[dict]
    default_minutes: int
    business_time: bool
    calendar: Calendar

    @classmethod
    def load(cls) -> Policy:
        values = team.snapshot()
        return cls(
            rules=values["sla_rules"],
            default_minutes=int(values["sla_default_minutes"]),
            business_time=bool(values["sla_business_time"]),
            calendar=Calendar.from_settings(values["business_hours"], values["holidays"], values["timezone"]),
        )

    def target_seconds(self, lead_status: str | None, channel: str | None) -> int:
        for rule in self.rules:
            if rule.get("lead_status") not in (None, "", lead_status):
                continue
            if rule.get("channel") not in (None, "", channel):
                continue
            return int(rule["minutes"]) * 60
        return self.default_minutes * 60

    def min_target_seconds(self) -> int:
        return min([int(r["minutes"]) * 60 for r in self.rules] + [self.default_minutes * 60])

    def elapsed(self, since: dt.datetime, now: dt.datetime) -> float:
        if self.business_time:
            return self.calendar.business_seconds(since, now)
        return (now - since).total_seconds()

    def deadline(self, since: dt.datetime, seconds: float) -> dt.datetime:
        """Wall-clock moment when ``seconds`` of counted time will have passed."""
        if self.business_time:
            return self.calendar.add_business_seconds(since, seconds)
        return since + dt.timedelta(seconds=seconds)

    def reply_figures(
        self, since: dt.datetime, replied: dt.datetime, lead_status: str | None, channel: str | None
    ) -> tuple[int, int, bool]:
        """For a human reply at ``replied`` to someone waiting since ``since``: the wait in
        business hours, the target that applied, and whether the reply met it."""
        business = int(self.calendar.business_seconds(since, replied))
        target = self.target_seconds(lead_status, channel)
        counted = business if self.business_time else int((replied - since).total_seconds())
        return business, target, counted <= target

    def state(self, since: dt.datetime | None, lead_status: str, channel: str | None, now: dt.datetime) -> str:
        """on_track / due_soon (last quarter of the target) / breached; "" when nobody waits."""
        if since is None:
            return ""
        target = self.target_seconds(lead_status, channel)
        spent = self.elapsed(since, now)
        if spent > target:
            return "breached"
        return "due_soon" if spent > 0.75 * target else "on_track"


def _rule_conditions(policy: Policy) -> list[tuple[int, list]]:
    """(target seconds, SQL conditions) per rule, the default last. Each selects exactly
    the conversations whose first matching rule it is, as ``target_seconds`` decides, so
    a sweep can ask each rule for its own due conversations."""
    out: list[tuple[int, list]] = []
    earlier = []  # conditions of the rules before: their conversations are not this rule's
    rules = [*policy.rules, {"lead_status": None, "channel": None, "minutes": policy.default_minutes}]
    for rule in rules:
        match = []
        if rule.get("lead_status"):
            match.append(Contact.lead_status == rule["lead_status"])
        if rule.get("channel"):
            match.append(fn.COALESCE(Conversation.last_inbound_channel, "") == rule["channel"])
        out.append((int(rule["minutes"]) * 60, [*match, *[~c for c in earlier]]))
        if not match:
            break  # matches everything: later rules are never reached
        earlier.append(functools.reduce(operator.and_, match))
    return out


def candidates(policy: Policy, now: dt.datetime, *, escalation: bool, limit: int = 2000) -> list[tuple[int, Select]]:
    """Per rule, its conversations that may be due for a breach notification (or an
    escalation, at twice the target), oldest wait first. The wall-clock bound is exact
    without business time and a lower bound with it."""
    out = []
    for target, conditions in _rule_conditions(policy):
        factor = 2 if escalation else 1
        where = [
            Conversation.state == "open",
            Conversation.waiting_since <= now - dt.timedelta(seconds=factor * target),
        ]
        if escalation:
            where += [Conversation.escalated_at.is_null(), Conversation.breach_notified_at.is_null(False)]
        else:
            where.append(Conversation.breach_notified_at.is_null())
        query = (
            Conversation.select(Conversation, Contact)
            .join(Contact)
            .where(functools.reduce(operator.and_, where + conditions))
            .order_by(Conversation.waiting_since)
            .limit(limit)
        )
        out.append((target, query))
    return out


def sweep(now: dt.datetime | None = None, limit: int = 2000) -> dict[str, int]:
    """Notify each breach once (the assignee, or the managers when nobody is assigned)
    and escalate to managers at twice the target. Safe with several consumers: each
    notification is claimed by a conditional update.

    Each rule is asked for its own conversations, oldest wait first, and the walk stops
    at the first one not yet due: counted time only grows with the wait, so the younger
    ones are not due either. The cost follows what is due, and conversations that wait
    under a long target never hide a breach under a short one."""
    now = now or utcnow()
    policy = Policy.load()
    breached = escalated = 0
    for target, query in candidates(policy, now, escalation=False, limit=limit):
        for conv in query:
            if now < policy.deadline(conv.waiting_since, target):
                break
            claimed = (
                Conversation.update(breach_notified_at=now)
                .where((Conversation.id == conv.id) & Conversation.breach_notified_at.is_null())
                .execute()
            )
            if not claimed:
                continue
            breached += 1
            params = {"name": conv.contact.display_name, "minutes": target // 60}
            if conv.assignee_id:
                notifications.notify(conv.assignee_id, "sla_breached", conv, **params)
            else:
                notifications.notify_managers("sla_breached", conv, **params)
    for target, query in candidates(policy, now, escalation=True, limit=limit):
        for conv in query:
            if now < policy.deadline(conv.waiting_since, 2 * target):
                break
            claimed = (
                Conversation.update(escalated_at=now)
                .where((Conversation.id == conv.id) & Conversation.escalated_at.is_null())
                .execute()
            )
            if claimed:
                escalated += 1
                notifications.notify_managers(
                    "sla_escalated", conv, name=conv.contact.display_name, minutes=2 * target // 60
                )
    return {"breached": breached, "escalated": escalated}
