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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from peewee import JOIN

from .. import sla
from ..db import write_transaction
from ..models import Contact, Conversation, Message, User
from .figures import Summary, grouped_summaries, rate
from .period import EPOCH_DAY, INT, TEXT, Filters, LocalClock, columns, epoch, unindexed

if TYPE_CHECKING:
    import numpy as np


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
    import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

    clock = LocalClock(f.tz)
    sent, seconds, business, met, first, author, channel, source, campaign = columns(
        replies_query(f), (INT, INT, INT, INT, INT, INT, TEXT, TEXT, TEXT)
    )
    n = len(sent)
    sent, seconds = np.array(sent, dtype=np.int64), np.array(seconds, dtype=np.int64)
    business, met = np.array(business, dtype=float), np.array(met, dtype=float)  # None: NaN
    first = np.array(first, dtype=bool)
    judged = ~np.isnan(met)
    met_and_judged = np.flatnonzero(judged & (met != 0)), np.flatnonzero(judged)
    # The replies in order of response time and those with a business time in order of
    # it, first responses then all: every group takes its values in these orders, so they
    # come out sorted. (Stable sorts: numpy's timsort, much quicker than its default sort
    # on the many equal business times of 0.)
    timed = np.flatnonzero(~np.isnan(business))
    by_seconds = np.argsort(seconds, kind="stable")
    by_business = timed[np.argsort(business[timed].astype(np.int64), kind="stable")]
    orders = [
        (order, values[order].astype(np.int64))
        for order, values in (
            (by_seconds[first[by_seconds]], seconds), (by_business[first[by_business]], business),
            (by_seconds, seconds), (by_business, business),
        )
    ]  # fmt: skip

    def grouped(codes: np.ndarray, count: int) -> list[ResponseStats]:
        """ResponseStats of the groups ``0 .. count - 1``, ``codes`` giving each reply's."""
        summaries = [grouped_summaries(codes[order], values, count) for order, values in orders]
        counts = [np.bincount(codes[selected], minlength=count).tolist() for selected in met_and_judged]
        return list(map(ResponseStats, *summaries, *counts))

    def by_key(keys: list, group_of=_same) -> dict:
        groups: dict = {}
        index = {k: groups.setdefault(group_of(k), len(groups)) for k in dict.fromkeys(keys)}
        codes = np.fromiter(map(index.__getitem__, keys), np.intp, n)
        return dict(zip(groups, grouped(codes, len(groups)), strict=True))

    # The local day, weekday and hour of every distinct quarter hour (epoch // 900) of the
    # waits and the replies at once: they are the same throughout one.
    quarters, of_row = _distinct(np.concatenate((sent - seconds, sent)) // 900)
    days, weekday, hour = clock.calendar(quarters)
    waited, sent_in = of_row[:n], of_row[n:]
    weekdays = grouped(weekday[waited], 7)
    hours = grouped(hour[waited], 24)
    monday_days, week_of = np.unique(days - weekday, return_inverse=True)
    mondays = [EPOCH_DAY + dt.timedelta(days=d) for d in monday_days.tolist()]
    weeks = dict(zip(mondays, grouped(week_of[sent_in], len(mondays)), strict=True))
    agents = by_key(author)
    names = _agent_names([k for k in agents if k])

    def listed(groups: dict, label) -> list[Group]:
        return [Group(k, label(k), groups[k]) for k in sorted(groups, key=lambda k: (k is None, k))]

    return ResponseReport(
        overall=grouped(np.zeros(n, dtype=np.intp), 1)[0],
        by_agent=sorted(listed(agents, lambda k: names.get(k, "")), key=lambda g: g.label.lower()),
        by_channel=listed(by_key(channel), lambda k: k or ""),
        by_source=listed(by_key(source, _text), lambda k: k),
        by_campaign=listed(by_key(campaign, _text), lambda k: k),
        by_weekday=[Group(d, str(d), weekdays[d]) for d in range(7)],
        by_hour=[Group(h, f"{h:02d}", hours[h]) for h in range(24)],
        weekly=[Group(w, w.isoformat(), weeks.get(w) or ResponseStats()) for w in _weeks(f)],
    )


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for integers within a narrow range (the
    quarter hours of a period and of the waits before it), by a table of that range
    rather than by sorting."""
    import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

    if not len(values):
        return values, values
    low = values.min()
    seen = np.zeros(values.max() - low + 1, dtype=bool)
    seen[values - low] = True
    return np.flatnonzero(seen) + low, (np.cumsum(seen) - 1)[values - low]


def _same(key):
    return key


def _text(key):
    return key or ""


def _weeks(f: Filters) -> list[dt.date]:
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
