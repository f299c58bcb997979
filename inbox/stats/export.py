"""CSV exports, streamed: a table of a statistics view, and every conversation active in
the period with its timers. Rows are written as they are read, a thousand conversations
at a time, so memory stays flat whatever the size."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask_babel import lazy_gettext
from peewee import Case, fn

from ..labels import lead_status_label, state_label
from ..models import Contact, Conversation, Message, User
from .period import Filters, LocalClock, epoch, raw_rows
from .tables import minutes

CHUNK = 1000
BOM = "\ufeff"  # so that spreadsheet programs read the file as UTF-8 (Korean names)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> object:
    """A value as a spreadsheet will not run it: text that would start a formula (a lead
    named ``=HYPERLINK(...)``) gets a leading apostrophe. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_stream(rows: Iterable[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield BOM
    for row in rows:
        writer.writerow([cell(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


CONVERSATION_COLUMNS = (
    lazy_gettext("Conversation"), lazy_gettext("Contact"), lazy_gettext("Company"), lazy_gettext("Lead status"), lazy_gettext("Source"), lazy_gettext("Campaign"),
    lazy_gettext("Assignee"), lazy_gettext("State"), lazy_gettext("Opened"), lazy_gettext("Waiting since"), lazy_gettext("First response at"),
    lazy_gettext("Last customer message"), lazy_gettext("Last reply"), lazy_gettext("Customer messages in period"), lazy_gettext("Replies in period"),
    lazy_gettext("First response in period (min)"), lazy_gettext("Average response in period (min)"),
    lazy_gettext("Average response in period, business hours (min)"), lazy_gettext("Replies within target"),
)  # fmt: skip


def _active(f: Filters):
    """The conversation has a customer message or a message of ours in the period: one
    seek in the (conversation, direction, sent_at) index per conversation."""
    return fn.EXISTS(
        Message.select(Message.id).where(
            (Message.conversation == Conversation.id)
            & Message.direction.in_(["in", "out"])
            & (Message.sent_at >= f.start_utc)
            & (Message.sent_at < f.end_utc)
        )
    )


def conversation_rows(f: Filters) -> Iterator[list]:
    """A header, then one row per conversation with a customer message or a reply in the
    period (and matching the filters), oldest conversation first. Times are local to the
    team time zone."""
    yield [str(c) for c in CONVERSATION_COLUMNS]
    names = dict(User.select(User.id, User.name).tuples())
    local = LocalClock(f.tz).text
    last_id = 0
    while True:
        query = (
            Conversation.select(
                Conversation.id,
                Contact.name,
                Contact.company,
                Contact.lead_status,
                Contact.source,
                Contact.campaign,
                Conversation.assignee,
                Conversation.state,
                epoch(Conversation.opened_at),
                epoch(Conversation.waiting_since),
                epoch(Conversation.first_response_at),
                epoch(Conversation.last_inbound_at),
                epoch(Conversation.last_outbound_at),
            )  # fmt: skip
            .join(Contact, on=Conversation.contact == Contact.id)
            .where((Conversation.id > last_id) & _active(f))
            .order_by(Conversation.id)
            .limit(CHUNK)
        )
        if f.agent_id:
            query = query.where(Conversation.assignee == f.agent_id)
        query = f.on_contact(query)
        if f.channel:
            query = query.where(Conversation.channels.contains(f.channel))
        rows = raw_rows(query)
        if not rows:
            return
        figures = _figures(f, [r[0] for r in rows])
        statuses = {code: str(lead_status_label(code)) for code in {r[3] for r in rows}}
        states = {code: str(state_label(code)) for code in {r[7] for r in rows}}
        for row in rows:
            conv_id, name, company, status, source, campaign, assignee, state, *times = row
            inbound, replies, first, average, business, met = figures.get(conv_id, (0, 0, None, None, None, 0))
            yield [
                conv_id, name, company, statuses[status], source, campaign, names.get(assignee, ""),
                states[state], *[local(t) for t in times], inbound, replies, minutes(first),
                minutes(average), minutes(business), met,
            ]  # fmt: skip
        last_id = rows[-1][0]


def _figures(f: Filters, ids: list[int]) -> dict[int, tuple]:
    in_period = (Message.sent_at >= f.start_utc) & (Message.sent_at < f.end_utc)
    reply = Message.response_seconds.is_null(False)
    query = (
        Message.select(
            Message.conversation,
            fn.SUM(Case(None, [((Message.direction == "in") & ~Message.auto_reply, 1)], 0)),
            fn.COUNT(Message.response_seconds),
            fn.MIN(Case(None, [(Message.first_response & reply, Message.response_seconds)])),
            fn.AVG(Message.response_seconds),
            fn.AVG(Message.business_seconds),
            fn.SUM(Case(None, [(Message.sla_met, 1)], 0)),
        )
        .where(Message.conversation.in_(ids) & in_period)
        .group_by(Message.conversation)
    )
    return {row[0]: (int(row[1] or 0), row[2], row[3], _float(row[4]), _float(row[5]), int(row[6] or 0))
            for row in query.tuples()}  # fmt: skip


def _float(value) -> float | None:
    return None if value is None else float(value)
