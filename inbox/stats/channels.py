"""Email, WhatsApp and SMS side by side for a period, and the weekday x hour heatmap of
the same customer messages the table counts.

Per channel: customer messages in (auto-replies and lead-form submissions excluded), our
human replies and automatic messages out (not those that failed to send); our response time (human replies on that
channel); the customer reply rate and time: for each conversation we wrote to on the
channel in the period, whether (within 3 days / ever) and how soon after our first
message there the customer wrote back on the same channel; and conversion: the share of
those contacts that are ``won`` now. A split date gives the same figures before and after
it, to see what moving a team to WhatsApp did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from peewee import SQL, Value, fn

from .. import leads
from ..models import CHANNEL_KINDS, Channel, Contact, Conversation, Message
from .figures import Summary, rate
from .period import INT, TEXT, Filters, LocalClock, columns, epoch, raw_rows, unindexed

DAY = 24 * 3600


@dataclass
class ChannelRow:
    channel: str
    inbound: int = 0
    replies: int = 0
    automatic: int = 0
    response: Summary = field(default_factory=Summary)
    wrote_to: int = 0
    replied: int = 0
    replied_3d: int = 0
    reply_time: Summary = field(default_factory=Summary)
    won: int = 0

    @property
    def reply_rate(self) -> float | None:
        return rate(self.replied, self.wrote_to)

    @property
    def reply_rate_3d(self) -> float | None:
        return rate(self.replied_3d, self.wrote_to)

    @property
    def conversion_rate(self) -> float | None:
        return rate(self.won, self.wrote_to)


@dataclass
class ChannelReport:
    rows: list[ChannelRow]
    heatmap: list[list[int]]
    before: list[ChannelRow] | None = None
    after: list[ChannelRow] | None = None


def _in_period(f: Filters, column=Message.sent_at):
    return (column >= f.start_utc) & (column < f.end_utc)


def _filtered(query, f: Filters, author=True):
    if f.channel:
        query = query.where(Message.channel_kind == f.channel)
    if f.source or f.campaign:
        query = query.join(Conversation, on=Message.conversation == Conversation.id).join(
            Contact, on=Conversation.contact == Contact.id
        )
        query = f.on_contact(query)
    if f.agent_id and author:
        query = query.where(unindexed(Message.author) == f.agent_id)
    return query


def _kinds(f: Filters) -> list[str]:
    """The channels of the view."""
    return [f.channel] if f.channel else list(CHANNEL_KINDS)


def _not_lead_form():
    """Not a lead-form submission (those are leads coming in, not customers writing)."""
    ids = [i for (i,) in Channel.select(Channel.id).where(Channel.kind == leads.CHANNEL_KIND).tuples()]
    return Message.channel.is_null() | Message.channel.not_in(ids) if ids else Value(True)


@dataclass
class _Facts:
    """What the figures of a period are made of: counts per channel (customer messages,
    human replies, automatic messages), response times per channel, and per conversation
    and channel we wrote on, (our first message there, the customer's first message on
    it after that or None, whether the contact is won)."""

    volume: dict[str, list[int]]
    responses: dict[str, list[int]]
    wrote: dict[tuple[int, str], tuple[int, int | None, bool]]
    grid: list[list[int]]  # customer messages by local weekday and hour

    def merged(self, later: _Facts) -> _Facts:
        """The facts of this period followed by ``later``'s: counts and response times add
        up; a conversation's first message of ours is in the earlier period if it has one
        there (the customer's reply after it is looked for without an end)."""
        return _Facts(
            {k: [a + b for a, b in zip(v, later.volume[k], strict=True)] for k, v in self.volume.items()},
            {k: v + later.responses[k] for k, v in self.responses.items()},
            {**later.wrote, **self.wrote},
            [
                [a + b for a, b in zip(mine, theirs, strict=True)]
                for mine, theirs in zip(self.grid, later.grid, strict=True)
            ],
        )


def _facts(f: Filters) -> _Facts:
    sent = (Message.direction == "out") & (Message.status != "failed")  # a reply that never left is no reply
    measures = (
        (Message.direction == "in") & ~Message.auto_reply,  # customer messages
        sent & ~Message.automatic & Message.author.is_null(False),  # human replies
        sent & Message.automatic,  # automatic messages
    )
    volume = {kind: [0, 0, 0] for kind in CHANNEL_KINDS}
    not_lead_form = _not_lead_form()
    inbound, grid = _customer_messages(f, not_lead_form)
    for kind, count in inbound.items():
        if kind in volume:
            volume[kind][0] = count
    # Every count of ours in one reading of the period (a filtered count per measure and
    # channel, which sorts nothing, where grouping by channel would sort every message).
    counted = [(i, kind) for i in (1, 2) for kind in _kinds(f)]
    query = Message.select(
        *(fn.COUNT(SQL("*")).filter((Message.channel_kind == kind) & measures[i]) for i, kind in counted)
    ).where((Message.direction == "out") & _in_period(f) & not_lead_form)
    for (i, kind), count in zip(counted, raw_rows(_filtered(query, f, author=False))[0], strict=True):
        volume[kind][i] = count or 0

    responses: dict[str, list[int]] = {kind: [] for kind in CHANNEL_KINDS}
    replies = Message.select(Message.channel_kind, Message.response_seconds).where(
        Message.response_seconds.is_null(False) & _in_period(f)
    )
    appends = {kind: values.append for kind, values in responses.items()}
    for kind, seconds in zip(*columns(_filtered(replies, f), (TEXT, INT)), strict=True):
        if kind in appends:
            appends[kind](seconds)

    wrote: dict[tuple[int, str], tuple[int, int | None, bool]] = {}
    for cid, kind, first_out, first_reply, won in zip(
        *columns(_customer_replies(f), (INT, TEXT, INT, INT, INT)), strict=True
    ):
        # Two of our messages sent in the same second can both be the first.
        if kind in volume and ((cid, kind) not in wrote or first_out < wrote[cid, kind][0]):
            wrote[cid, kind] = (first_out, first_reply, bool(won))
    return _Facts(volume, responses, wrote, grid)


def _rows(facts: _Facts) -> list[ChannelRow]:
    out = {kind: ChannelRow(kind) for kind in CHANNEL_KINDS}
    for kind, (n_in, n_human, n_auto) in facts.volume.items():
        out[kind].inbound, out[kind].replies, out[kind].automatic = n_in, n_human, n_auto
    for kind, values in facts.responses.items():
        out[kind].response = Summary.of(values)
    reply_times: dict[str, list[int]] = {kind: [] for kind in CHANNEL_KINDS}
    for (_cid, kind), (first_out, first_reply, won) in facts.wrote.items():
        row = out[kind]
        row.wrote_to += 1
        row.won += won
        if first_reply is not None:
            row.replied += 1
            row.replied_3d += first_reply - first_out <= 3 * DAY
            reply_times[kind].append(first_reply - first_out)
    for kind, values in reply_times.items():
        out[kind].reply_time = Summary.of(values)
    return [out[kind] for kind in CHANNEL_KINDS]


def _won_conversations():
    """The conversations of contacts won now, as a subquery: SQLite builds its list once
    instead of reading a conversation and a contact per row."""
    return Conversation.select(Conversation.id).join(Contact).where(Contact.lead_status == "won")


def _customer_replies(f: Filters):
    """(conversation, channel, our first message there in the period, the customer's
    first message on that channel after it or None, whether the contact is won now) per
    conversation and channel.

    The customer's reply to each of our messages and our previous message on its
    channel are stored with it (facts.py): our first messages of the period are those
    whose previous one is older, a filter on the period index instead of a grouping.
    With an agent filter they are the agent's first messages, found by grouping the
    agent's messages of the period (a reply to an earlier message is never earlier, so
    the group's first reply is its smallest)."""
    ours = (
        (Message.direction == "out")
        & Message.channel_kind.in_(_kinds(f))
        & _in_period(f)
        & (Message.status != "failed")
    )
    if not f.agent_id:
        first = Message.previous_outbound_at.is_null() | (Message.previous_outbound_at < f.start_utc)
        query = Message.select(
            Message.conversation, Message.channel_kind, epoch(Message.sent_at), epoch(Message.customer_reply_at),
            Message.conversation.in_(_won_conversations()),
        ).where(ours & first)  # fmt: skip
        return _filtered(query, f)
    grouped = (
        Message.select(
            Message.conversation.alias("cid"),
            Message.channel_kind.alias("kind"),
            fn.MIN(Message.sent_at).alias("first_out"),
            fn.MIN(Message.customer_reply_at).alias("first_reply"),
        )  # fmt: skip
        .where(ours)
        .group_by(Message.conversation, Message.channel_kind)
    )
    agents = _filtered(grouped, f).cte("agents")
    return agents.select_from(
        agents.c.cid, agents.c.kind, epoch(agents.c.first_out), epoch(agents.c.first_reply),
        agents.c.cid.in_(_won_conversations()),
    ).with_cte(agents)  # fmt: skip


def report(f: Filters) -> ChannelReport:
    halves = f.halves()
    if halves is None:
        facts = _facts(f)
        return ChannelReport(_rows(facts), facts.grid)
    # The period is the two halves one after the other: its figures come from theirs.
    before, after = (_facts(half) for half in halves)
    whole = before.merged(after)
    return ChannelReport(_rows(whole), whole.grid, _rows(before), _rows(after))


def _customer_messages(f: Filters, not_lead_form) -> tuple[Counter, list[list[int]]]:
    """The customer messages of the period (no auto-replies, no lead-form submissions)
    per channel, and by local weekday (rows, Monday first) and hour: one reading of the
    period's inbound messages, as two columns (channel, quarter hour)."""
    query = Message.select(Message.channel_kind, epoch(Message.sent_at) / 900).where(
        (Message.direction == "in") & _in_period(f) & ~Message.auto_reply & not_lead_form
    )  # quarter hours are integers on both databases
    kinds, quarters = columns(_filtered(query, f, author=False), (TEXT, INT))
    return Counter(kinds), LocalClock(f.tz).weekday_hour_counts(quarters)


def heatmap(f: Filters) -> list[list[int]]:
    """Customer messages in the period by local weekday (rows, Monday first) and hour."""
    return _customer_messages(f, _not_lead_form())[1]
