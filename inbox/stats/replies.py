"""Response times of human replies: first response time and every response time, as
median, p90 and average, in wall-clock and business time, and SLA attainment; overall
and by agent, channel, lead source, campaign, weekday and hour, and per week.

A reply counts in the period it was sent in. Only human replies that answered someone
waiting have a response time (``Message.response_seconds``): notes, automatic messages
and replies that failed to send never do. Its business time, target and outcome were
fixed when it was sent (``sla.Policy.reply_figures``); ``recompute()`` redoes them with
the current settings. By agent means by the author of the reply, so a reassigned
conversation counts for whoever answered; weekday and hour are those of the moment the
customer started waiting, in the team time zone; weeks start on Monday."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN

from .. import sla
from ..db import write_transaction
from ..models import Contact, Conversation, Message, User
from .figures import Summary, rate
from .period import Filters, LocalClock, epoch


@dataclass
class ResponseStats:
    first: Summary = field(default_factory=Summary)
    first_business: Summary = field(default_factory=Summary)
    all: Summary = field(default_factory=Summary)
    all_business: Summary = field(default_factory=Summary)
    sla_met: int = 0
    sla_total: int = 0

    @property
    def attainment(self) -> float | None:
        """Share of replies within their SLA target, in percent."""
        return rate(self.sla_met, self.sla_total)


@dataclass
class Group:
    key: object
    label: str
    stats: ResponseStats


@dataclass
class ResponseReport:
    overall: ResponseStats
    by_agent: list[Group]
    by_channel: list[Group]
    by_source: list[Group]
    by_campaign: list[Group]
    by_weekday: list[Group]
    by_hour: list[Group]
    weekly: list[Group]  # key: the Monday of the week


class _Bucket:
    __slots__ = ("first", "first_business", "all", "all_business", "met", "judged")

    def __init__(self):
        self.first: list[int] = []
        self.first_business: list[int] = []
        self.all: list[int] = []
        self.all_business: list[int] = []
        self.met = 0
        self.judged = 0

    def add(self, seconds: int, business: int | None, met: bool | None, first: bool) -> None:
        self.all.append(seconds)
        if business is not None:
            self.all_business.append(business)
        if first:
            self.first.append(seconds)
            if business is not None:
                self.first_business.append(business)
        if met is not None:
            self.judged += 1
            self.met += bool(met)

    def stats(self) -> ResponseStats:
        return ResponseStats(
            Summary.of(self.first), Summary.of(self.first_business), Summary.of(self.all),
            Summary.of(self.all_business), self.met, self.judged,
        )  # fmt: skip


def replies_query(f: Filters):
    """Human replies sent in the period that match the filters, as tuples (sent epoch,
    response s, business s, SLA met, first response, author id, channel, source, campaign)."""
    query = (
        Message.select(
            epoch(Message.sent_at),
            Message.response_seconds,
            Message.business_seconds,
            Message.sla_met,
            Message.first_response,
            Message.author,
            Message.channel_kind,
            Contact.source,
            Contact.campaign,
        )  # fmt: skip
        .join(Conversation, on=Message.conversation == Conversation.id)
        .join(Contact, on=Conversation.contact == Contact.id)
        .where(
            Message.response_seconds.is_null(False) & (Message.sent_at >= f.start_utc) & (Message.sent_at < f.end_utc)
        )
    )
    if f.agent_id:
        query = query.where(Message.author == f.agent_id)
    if f.channel:
        query = query.where(Message.channel_kind == f.channel)
    if f.source:
        query = query.where(Contact.source == f.source)
    if f.campaign:
        query = query.where(Contact.campaign == f.campaign)
    return query.tuples()


def report(f: Filters) -> ResponseReport:
    clock = LocalClock(f.tz)
    overall = _Bucket()
    groups: dict[str, dict] = {name: defaultdict(_Bucket) for name in ("agent", "channel", "source", "campaign",
                                                                       "weekday", "hour", "week")}  # fmt: skip
    for sent, seconds, business, met, first, author, channel, source, campaign in replies_query(f):
        first = bool(first)
        met = None if met is None else bool(met)
        overall.add(seconds, business, met, first)
        weekday, hour, _ = clock.at(sent - seconds)
        week = clock.at(sent)[2]
        for name, key in (("agent", author), ("channel", channel), ("source", source or ""),
                          ("campaign", campaign or ""), ("weekday", weekday), ("hour", hour), ("week", week)):  # fmt: skip
            groups[name][key].add(seconds, business, met, first)

    names = _agent_names([k for k in groups["agent"] if k])

    def listed(name: str, label, order=None) -> list[Group]:
        keys = sorted(groups[name], key=order or (lambda k: (k is None, k)))
        return [Group(k, label(k), groups[name][k].stats()) for k in keys]

    weeks = _weeks(f, clock)
    return ResponseReport(
        overall=overall.stats(),
        by_agent=sorted(listed("agent", lambda k: names.get(k, "")), key=lambda g: g.label.lower()),
        by_channel=listed("channel", lambda k: k or ""),
        by_source=listed("source", lambda k: k),
        by_campaign=listed("campaign", lambda k: k),
        by_weekday=[Group(d, str(d), groups["weekday"][d].stats()) for d in range(7)],
        by_hour=[Group(h, f"{h:02d}", groups["hour"][h].stats()) for h in range(24)],
        weekly=[Group(w, w.isoformat(), groups["week"][w].stats()) for w in weeks],
    )


def _weeks(f: Filters, clock: LocalClock) -> list[dt.date]:
    first = f.start - dt.timedelta(days=f.start.weekday())
    return [first + dt.timedelta(weeks=i) for i in range((f.end - first).days // 7 + 1)]


def _agent_names(ids: list) -> dict[int, str]:
    if not ids:
        return {}
    return dict(User.select(User.id, User.name).where(User.id.in_(ids)).tuples())


def recompute(batch: int = 2000) -> int:
    """Recompute the business time, target and SLA outcome of every reply with the
    current settings (after business hours or targets changed). Returns the count."""
    policy = sla.Policy.load()
    done = 0
    last_id = 0
    while True:
        rows = list(
            Message.select(
                Message.id,
                Message.sent_at,
                Message.response_seconds,
                Contact.lead_status,
                Conversation.last_inbound_channel,
                Message.channel_kind,
            )  # fmt: skip
            .join(Conversation, on=Message.conversation == Conversation.id)
            .join(Contact, JOIN.LEFT_OUTER, on=Conversation.contact == Contact.id)
            .where(Message.response_seconds.is_null(False) & (Message.id > last_id))
            .order_by(Message.id)
            .limit(batch)
            .tuples()
        )
        if not rows:
            return done
        with write_transaction():
            for message_id, sent_at, seconds, lead_status, inbound_channel, channel in rows:
                since = sent_at - dt.timedelta(seconds=seconds)
                business, target, met = policy.reply_figures(since, sent_at, lead_status, inbound_channel or channel)
                Message.update(business_seconds=business, sla_target_seconds=target, sla_met=met).where(
                    Message.id == message_id
                ).execute()
        done += len(rows)
        last_id = rows[-1][0]
