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
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import compress

from peewee import JOIN

from .. import sla
from ..db import write_transaction
from ..models import Contact, Conversation, Message, User
from .figures import Summary, rate
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
    cols = columns(replies_query(f), (INT, INT, INT, INT, INT, INT, TEXT, TEXT, TEXT))
    # In order of response time, so that every group's values come out sorted.
    order = sorted(range(len(cols[1])), key=cols[1].__getitem__)
    sent, seconds, business, met, first, author, channel, source, campaign = (
        list(map(column.__getitem__, order)) for column in cols
    )
    waited = _local(clock, [s - w for s, w in zip(sent, seconds, strict=True)])
    keys = {
        "agent": author,
        "channel": channel,
        "source": [k or "" for k in source],
        "campaign": [k or "" for k in campaign],
        "weekday": [local[0] for local in waited],
        "hour": [local[1] for local in waited],
        "week": [local[2] for local in _local(clock, sent)],
    }
    first_flags = list(map(bool, first))
    met_flags = list(map(bool, met))
    judged = [m is not None for m in met]
    with_business = [b is not None for b in business]
    first_business = list(map(operator.and_, first_flags, with_business))

    def stats(rows) -> ResponseStats:
        """The figures of the replies at positions ``rows`` (ascending, so in order of
        response time)."""
        values = list(map(seconds.__getitem__, rows))
        firsts = list(map(first_flags.__getitem__, rows))
        times = list(map(business.__getitem__, rows))
        return ResponseStats(
            Summary.of(compress(values, firsts)),
            Summary.of(compress(times, map(first_business.__getitem__, rows))),
            Summary.of(values),
            Summary.of(compress(times, map(with_business.__getitem__, rows))),
            sum(map(met_flags.__getitem__, rows)),
            sum(map(judged.__getitem__, rows)),
        )

    def grouped(group_keys: list) -> dict:
        """ResponseStats per key of one grouping."""
        return {k: stats(rows) for k, rows in _split(group_keys, range(len(group_keys))).items()}

    groups = {name: grouped(group_keys) for name, group_keys in keys.items()}
    names = _agent_names([k for k in groups["agent"] if k])

    def stats_of(name: str, key) -> ResponseStats:
        return groups[name].get(key) or ResponseStats()

    def listed(name: str, label, order=None) -> list[Group]:
        ordered = sorted(groups[name], key=order or (lambda k: (k is None, k)))
        return [Group(k, label(k), groups[name][k]) for k in ordered]

    weeks = _weeks(f, clock)
    overall = stats(range(len(seconds)))
    return ResponseReport(
        overall=overall,
        by_agent=sorted(listed("agent", lambda k: names.get(k, "")), key=lambda g: g.label.lower()),
        by_channel=listed("channel", lambda k: k or ""),
        by_source=listed("source", lambda k: k),
        by_campaign=listed("campaign", lambda k: k),
        by_weekday=[Group(d, str(d), stats_of("weekday", d)) for d in range(7)],
        by_hour=[Group(h, f"{h:02d}", stats_of("hour", h)) for h in range(24)],
        weekly=[Group(w, w.isoformat(), stats_of("week", w)) for w in weeks],
    )


def _local(clock: LocalClock, moments: list[int]) -> list[tuple[int, int, dt.date]]:
    """``clock.at`` of every epoch, computed once per quarter hour."""
    quarters = [m // 900 for m in moments]
    at = {q: clock.at(q * 900) for q in set(quarters)}
    return [at[q] for q in quarters]


def _split(keys, values) -> dict[object, list]:
    """The values per key, in their order."""
    out: dict[object, list] = defaultdict(list)
    for key, value in zip(keys, values, strict=True):
        out[key].append(value)
    return out


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
