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
import operator
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress, repeat

from peewee import JOIN

from .. import sla
from ..db import write_transaction
from ..models import Contact, Conversation, Message, User
from .figures import Summary, grouped_summaries, rate
from .period import INT, TEXT, Filters, LocalClock, columns, epoch, unindexed


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
        query = query.where(unindexed(Message.author) == f.agent_id)
    if f.channel:
        query = query.where(Message.channel_kind == f.channel)
    query = f.on_contact(query)
    return query.tuples()


def report(f: Filters) -> ResponseReport:
    clock = LocalClock(f.tz)
    sent, seconds, business, met, first, author, channel, source, campaign = columns(
        replies_query(f), (INT, INT, INT, INT, INT, INT, TEXT, TEXT, TEXT)
    )
    # The replies in order of response time, and those with a business time in order of
    # it: every group takes its values in these orders, so they come out sorted.
    by_seconds = sorted(range(len(seconds)), key=seconds.__getitem__)
    by_business = sorted(compress(range(len(business)), map(operator.is_not, business, repeat(None))),
                         key=business.__getitem__)  # fmt: skip
    orders = []
    for order, values in ((by_seconds, seconds), (by_business, business)):
        ordered = list(map(values.__getitem__, order))
        firsts = list(map(first.__getitem__, order))
        orders.append((order, ordered, firsts, list(compress(ordered, firsts))))

    def grouped(keys: list, group_of) -> dict:
        """ResponseStats per group, ``keys`` giving each reply's key and ``group_of`` the
        group of a key."""
        groups: dict = {}
        index = {k: groups.setdefault(group_of(k), len(groups)) for k in dict.fromkeys(keys)}
        count = len(groups)
        of_row = list(map(index.__getitem__, keys))
        summaries = []
        for order, values, firsts, first_values in orders:
            in_order = list(map(of_row.__getitem__, order))
            summaries.append(grouped_summaries(list(compress(in_order, firsts)), first_values, count))
            summaries.append(grouped_summaries(in_order, values, count))
        counts = []
        for selected in (met, judged):
            found = Counter(compress(of_row, selected))
            counts.append([found[i] for i in range(count)])
        first_all, all_, first_business, all_business = summaries
        stats = map(ResponseStats, first_all, first_business, all_, all_business, *counts)
        return dict(zip(groups, stats, strict=True))

    judged = list(map(operator.is_not, met, repeat(None)))
    waited = clock.quarters(list(map(operator.sub, sent, seconds)))
    agents = grouped(author, _same)
    names = _agent_names([k for k in agents if k])
    weekdays = grouped(waited, lambda q: clock.at(q * 900)[0])
    hours = grouped(waited, lambda q: clock.at(q * 900)[1])
    weeks = grouped(clock.quarters(sent), lambda q: clock.at(q * 900)[2])
    (_, all_values, _, first_values), (_, business_values, _, first_business) = orders
    overall = ResponseStats(
        Summary.presorted(first_values),
        Summary.presorted(first_business),
        Summary.presorted(all_values),
        Summary.presorted(business_values),
        sum(map(bool, met)),
        len(met) - met.count(None),
    )

    def listed(groups: dict, label) -> list[Group]:
        return [Group(k, label(k), groups[k]) for k in sorted(groups, key=lambda k: (k is None, k))]

    return ResponseReport(
        overall=overall,
        by_agent=sorted(listed(agents, lambda k: names.get(k, "")), key=lambda g: g.label.lower()),
        by_channel=listed(grouped(channel, _same), lambda k: k or ""),
        by_source=listed(grouped(source, _text), lambda k: k),
        by_campaign=listed(grouped(campaign, _text), lambda k: k),
        by_weekday=[Group(d, str(d), weekdays.get(d) or ResponseStats()) for d in range(7)],
        by_hour=[Group(h, f"{h:02d}", hours.get(h) or ResponseStats()) for h in range(24)],
        weekly=[Group(w, w.isoformat(), weeks.get(w) or ResponseStats()) for w in _weeks(f, clock)],
    )


def _same(key):
    return key


def _text(key):
    return key or ""


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
