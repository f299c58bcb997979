"""Email, WhatsApp and SMS side by side for a period, and the weekday x hour heatmap of
inbound volume.

Per channel: customer messages in (auto-replies and lead-form submissions excluded), our
human replies and automatic messages out (not those that failed to send); our response time (human replies on that
channel); the customer reply rate and time: for each conversation we wrote to on the
channel in the period, whether (within 3 days / ever) and how soon after our first
message there the customer wrote back on the same channel; and conversion: the share of
those contacts that are ``won`` now. A split date gives the same figures before and after
it, to see what moving a team to WhatsApp did."""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import Case, fn

from .. import leads
from ..models import CHANNEL_KINDS, Channel, Contact, Conversation, Message
from .figures import Summary, rate
from .period import Filters, LocalClock, epoch

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
        if f.source:
            query = query.where(Contact.source == f.source)
        if f.campaign:
            query = query.where(Contact.campaign == f.campaign)
    if f.agent_id and author:
        query = query.where(Message.author == f.agent_id)
    return query


def _lead_form_channels():
    return Channel.select(Channel.id).where(Channel.kind == leads.CHANNEL_KIND)


def rows(f: Filters) -> list[ChannelRow]:
    out = {kind: ChannelRow(kind) for kind in CHANNEL_KINDS}
    inbound = (Message.direction == "in") & ~Message.auto_reply
    sent = (Message.direction == "out") & (Message.status != "failed")  # a reply that never left is no reply
    human = sent & ~Message.automatic & Message.author.is_null(False)
    automatic = sent & Message.automatic
    volume = (
        Message.select(
            Message.channel_kind,
            fn.SUM(Case(None, [(inbound, 1)], 0)),
            fn.SUM(Case(None, [(human, 1)], 0)),
            fn.SUM(Case(None, [(automatic, 1)], 0)),
        )
        .where(
            Message.direction.in_(["in", "out"])
            & _in_period(f)
            & (Message.channel.is_null() | Message.channel.not_in(_lead_form_channels()))
        )
        .group_by(Message.channel_kind)
    )
    for kind, n_in, n_human, n_auto in _filtered(volume, f, author=False).tuples():
        if kind in out:
            out[kind].inbound, out[kind].replies, out[kind].automatic = (
                int(n_in or 0),
                int(n_human or 0),
                int(n_auto or 0),
            )

    responses: dict[str, list[int]] = {kind: [] for kind in CHANNEL_KINDS}
    replies = Message.select(Message.channel_kind, Message.response_seconds).where(
        Message.response_seconds.is_null(False) & _in_period(f)
    )
    for kind, seconds in _filtered(replies, f).tuples():
        if kind in responses:
            responses[kind].append(seconds)
    for kind, values in responses.items():
        out[kind].response = Summary.of(values)

    reply_times: dict[str, list[int]] = {kind: [] for kind in CHANNEL_KINDS}
    for kind, first_out, first_reply, status in _customer_replies(f):
        if kind not in out:
            continue
        row = out[kind]
        row.wrote_to += 1
        row.won += status == "won"
        if first_reply is not None:
            row.replied += 1
            row.replied_3d += first_reply - first_out <= 3 * DAY
            reply_times[kind].append(first_reply - first_out)
    for kind, values in reply_times.items():
        out[kind].reply_time = Summary.of(values)
    return [out[kind] for kind in CHANNEL_KINDS]


def _customer_replies(f: Filters):
    """(channel, our first message there in the period, the customer's first message on
    that channel after it or None, the contact's lead status) per conversation."""
    ours = (
        Message.select(
            Message.conversation.alias("cid"),
            Message.channel_kind.alias("kind"),
            fn.MIN(Message.sent_at).alias("first_out"),
        )  # fmt: skip
        .where((Message.direction == "out") & (Message.status != "failed") & _in_period(f))
        .group_by(Message.conversation, Message.channel_kind)
    )
    ours = _filtered(ours, f).cte("ours")
    reply = Message.alias("reply")
    first_reply = reply.select(fn.MIN(reply.sent_at)).where(
        (reply.conversation == ours.c.cid)
        & (reply.channel_kind == ours.c.kind)
        & (reply.direction == "in")
        & ~reply.auto_reply
        & (reply.sent_at > ours.c.first_out)
    )
    query = (
        ours.select_from(ours.c.kind, epoch(ours.c.first_out), epoch(first_reply), Contact.lead_status)
        .join(Conversation, on=Conversation.id == ours.c.cid)
        .join(Contact, on=Conversation.contact == Contact.id)
        .with_cte(ours)
    )
    return query.tuples()


def report(f: Filters) -> ChannelReport:
    halves = f.halves()
    if halves is None:
        return ChannelReport(rows(f))
    before, after = halves
    return ChannelReport(rows(f), rows(before), rows(after))


def heatmap(f: Filters) -> list[list[int]]:
    """Customer messages in the period by local weekday (rows, Monday first) and hour."""
    grid = [[0] * 24 for _ in range(7)]
    bucket = epoch(Message.sent_at) / 900  # integers: quarter hours on both databases
    query = (
        Message.select(bucket, fn.COUNT(Message.id))
        .where((Message.direction == "in") & _in_period(f) & ~Message.auto_reply)
        .group_by(bucket)
    )
    clock = LocalClock(f.tz)
    for quarter, count in _filtered(query, f, author=False).tuples():
        weekday, hour, _ = clock.at(int(quarter) * 900)
        grid[weekday][hour] += count
    return grid
