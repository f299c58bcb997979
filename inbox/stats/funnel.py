"""The lead funnel of a period: the leads that came in, how fast we contacted them, who
answered, who became interested, won, lost or went dormant; with the rates defined in
ARCHITECTURE.md, by source, campaign, ad set and agent; and for the same period the
reactivation rate and the follow-up rate.

- A **lead** is a contact created in the period that was not merged into another. Its
  lead time is the earlier of its creation and its first message.
- **Contacted**: it got a human reply (not a note, not automatic, not failed); within
  1 h / 24 h counts from the lead time. Contact rate = contacted / leads.
- **Wrote to**: we sent it anything (human or automatic, not failed). **Responded**: the
  customer wrote (not an auto-reply) after our first message; within 3 days counts from
  that message. Response rate = responded / wrote to.
- **Interested**: reached ``interested`` at some point (now ``interested`` or ``won``, or
  the audit trail shows it); **won**, **lost**, **dormant**: the status now.
  Conversion rate = won / contacted.
- **Touches before a reply**: our messages from the first one up to the customer's
  reply, averaged over the leads that responded.
- By agent means by the lead's owner (else the conversation's assignee), as now.
- **Reactivation rate**: of the dormant contacts that got a reactivation touch in the
  period, the share that wrote after it.
- **Follow-up rate**: of the follow-ups and reminders due in the period (not cancelled
  before they were due), the share done."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields

from peewee import JOIN, OP, Case, Expression, Value, fn

from ..db import utcnow
from ..models import AuditEvent, Contact, Conversation, FollowUp, Message, User
from .figures import rate
from .period import Filters, epoch, raw_rows, unindexed

HOUR = 3600
DAY = 24 * HOUR


@dataclass
class FunnelRow:
    leads: int = 0
    contacted: int = 0
    contacted_1h: int = 0
    contacted_24h: int = 0
    wrote_to: int = 0
    responded: int = 0
    responded_3d: int = 0
    interested: int = 0
    won: int = 0
    lost: int = 0
    dormant: int = 0
    touches: int = 0  # summed over the leads that responded

    @property
    def contact_rate(self) -> float | None:
        return rate(self.contacted, self.leads)

    @property
    def contact_rate_1h(self) -> float | None:
        return rate(self.contacted_1h, self.leads)

    @property
    def contact_rate_24h(self) -> float | None:
        return rate(self.contacted_24h, self.leads)

    @property
    def response_rate(self) -> float | None:
        return rate(self.responded, self.wrote_to)

    @property
    def response_rate_3d(self) -> float | None:
        return rate(self.responded_3d, self.wrote_to)

    @property
    def conversion_rate(self) -> float | None:
        return rate(self.won, self.contacted)

    @property
    def touches_before_reply(self) -> float | None:
        return self.touches / self.responded if self.responded else None


@dataclass
class Ratio:
    part: int = 0
    whole: int = 0

    @property
    def rate(self) -> float | None:
        return rate(self.part, self.whole)


@dataclass
class FunnelGroup:
    key: object
    label: str
    row: FunnelRow


@dataclass
class FunnelReport:
    overall: FunnelRow
    by_source: list[FunnelGroup]
    by_campaign: list[FunnelGroup]
    by_ad_set: list[FunnelGroup]
    by_agent: list[FunnelGroup]
    reactivation: Ratio = field(default_factory=Ratio)
    followups: Ratio = field(default_factory=Ratio)


def _within(later, earlier, seconds: int):
    """1 when ``later`` is no more than ``seconds`` after ``earlier`` (both set), else 0."""
    return Case(None, [((epoch(later) - epoch(earlier)) <= seconds, 1)], 0)


def _count(condition):
    return fn.SUM(Case(None, [(condition, 1)], 0))


def _combos(f: Filters) -> list[tuple]:
    """The leads of the period counted per combination of source, campaign, ad set and
    agent: rows of those four, then the counters in the order of FunnelRow's fields."""
    conv = Conversation
    agent = fn.COALESCE(Contact.owner, conv.assignee)
    # The lead time: its creation, or its first message if that came earlier (imports).
    lead_at = Case(None, [(conv.first_message_at < Contact.created_at, conv.first_message_at)], Contact.created_at)
    contacted = conv.first_human_reply_at.is_null(False)
    responded = conv.first_customer_reply_at.is_null(False)
    interested = Contact.lead_status.in_(("interested", "won")) | _reached_interested(Contact.id)
    query = (
        Contact.select(
            Contact.source,
            Contact.campaign,
            Contact.ad_set,
            agent,
            fn.COUNT(Contact.id),
            _count(contacted),
            fn.SUM(Case(None, [(contacted, _within(conv.first_human_reply_at, lead_at, HOUR))], 0)),
            fn.SUM(Case(None, [(contacted, _within(conv.first_human_reply_at, lead_at, DAY))], 0)),
            _count(conv.first_outbound_at.is_null(False)),
            _count(responded),
            fn.SUM(
                Case(None, [(responded, _within(conv.first_customer_reply_at, conv.first_outbound_at, 3 * DAY))], 0)
            ),
            _count(interested),
            _count(Contact.lead_status == "won"),
            _count(Contact.lead_status == "lost"),
            _count(Contact.lead_status == "dormant"),
            fn.SUM(Case(None, [(responded, conv.touches_before_reply)], 0)),
        )  # fmt: skip
        .join(conv, JOIN.LEFT_OUTER, on=conv.contact == Contact.id)
        .where((Contact.created_at >= f.start_utc) & (Contact.created_at < f.end_utc) & Contact.merged_into.is_null())
        .group_by(Contact.source, Contact.campaign, Contact.ad_set, agent)
    )
    if f.agent_id:
        query = query.where(agent == f.agent_id)
    query = f.on_contact(query)
    if f.channel:
        query = query.where(conv.channels.contains(f.channel))
    return raw_rows(query)


def _reached_interested(contact_id):
    """Whether the contact ever reached interested: any change that set it, an edit
    (contact_changed) or a dormant lead writing again and going back to interested
    (lead_reactivated)."""
    return fn.EXISTS(
        AuditEvent.select(AuditEvent.id).where(
            (AuditEvent.object_type == "contact")
            & (AuditEvent.object_id == contact_id)
            & json_contains(AuditEvent.after, '"lead_status": "interested"')
        )
    )


def report(f: Filters) -> FunnelReport:
    # Each lead counts once, into the row of its combination of source, campaign, ad set
    # and agent (what is counted is defined in the module doc); the groups are sums of
    # those rows.
    overall = FunnelRow()
    groups: dict[str, dict] = {name: defaultdict(FunnelRow) for name in ("source", "campaign", "ad_set", "agent")}
    for source, campaign, ad_set, agent, *counts in _combos(f):
        row = FunnelRow(*(int(c or 0) for c in counts))
        for target in (overall, groups["source"][source or ""], groups["campaign"][campaign or ""],
                       groups["ad_set"][ad_set or ""], groups["agent"][agent]):  # fmt: skip
            _add(target, row)
    names = dict(User.select(User.id, User.name).tuples()) if groups["agent"] else {}

    def listed(name: str, label) -> list[FunnelGroup]:
        rows = [FunnelGroup(k, label(k), v) for k, v in groups[name].items()]
        return sorted(rows, key=lambda g: (-g.row.leads, g.label))

    return FunnelReport(
        overall=overall,
        by_source=listed("source", str),
        by_campaign=listed("campaign", str),
        by_ad_set=listed("ad_set", str),
        by_agent=listed("agent", lambda k: names.get(k, "")),
        reactivation=reactivation(f),
        followups=followup_rate(f),
    )


_COUNTERS = tuple(f.name for f in fields(FunnelRow))


def _add(target: FunnelRow, row: FunnelRow) -> None:
    for name in _COUNTERS:
        setattr(target, name, getattr(target, name) + getattr(row, name))


NOT_A_TOUCH = ("stopped", "moved", "error")  # step outcomes that never reached anyone


def json_contains(field, text: str):
    """``field`` (a JSON column) contains ``text`` as stored: the pattern must not go
    through the field's own JSON encoding, as ``field.contains()`` would."""
    # ILIKE: peewee writes it as LIKE on SQLite (its LIKE would become a GLOB there).
    return Expression(field, OP.ILIKE, Value(f"%{text}%", converter=False))


def _outcome(name: str):
    return json_contains(FollowUp.meta, f'"outcome": "{name}"')


def reactivation(f: Filters) -> Ratio:
    """Dormant contacts that got a reactivation touch in the period (sent automatically,
    or handed to an agent as a task), and those of them who wrote after it."""
    reply = Message.alias("reply")
    wrote_after = fn.EXISTS(
        reply.select(reply.id).where(
            (reply.conversation == FollowUp.conversation)
            & (reply.direction == "in")
            & ~reply.auto_reply
            & (reply.sent_at > FollowUp.fired_at)
        )
    )
    query = FollowUp.select(
        fn.COUNT(FollowUp.conversation.distinct()),
        fn.COUNT(Case(None, [(wrote_after, FollowUp.conversation)]).distinct()),
    ).where(
        (FollowUp.kind == "reactivation")
        & (FollowUp.fired_at >= f.start_utc)
        & (FollowUp.fired_at < f.end_utc)
        & (_outcome("sent") | _outcome("task"))
    )
    if f.agent_id:
        query = query.where(FollowUp.owner == f.agent_id)
    touched, replied = query.tuples().get()
    return Ratio(replied or 0, touched or 0)


def followup_rate(f: Filters) -> Ratio:
    """Follow-ups and reminders due in the period (and by now), except those cancelled
    before they were due and cadence steps that stopped or moved on their own: how
    many, and how many were done."""
    end = min(f.end_utc, utcnow())
    due = (FollowUp.due_at >= f.start_utc) & (FollowUp.due_at < end)
    counted = FollowUp.cancelled_at.is_null() | (FollowUp.cancelled_at > FollowUp.due_at)
    for name in NOT_A_TOUCH:
        counted &= ~_outcome(name)
    query = FollowUp.select(fn.COUNT(FollowUp.id), fn.COUNT(FollowUp.done_at)).where(due & counted)
    if f.agent_id:
        query = query.where(unindexed(FollowUp.owner) == f.agent_id)
    whole, done = query.tuples().get()
    return Ratio(done or 0, whole or 0)
