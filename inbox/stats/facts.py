"""Facts about a conversation's messages that the dashboard reads for whole periods,
kept current whenever a message is written instead of being sought per conversation at
report time (tens of thousands of index seeks per view).

Per conversation, over the whole thread (never reset by a reopen, unlike
``first_response_at``; replies that failed to send do not count):

- ``first_message_at``: its first message (not a note), which dates a lead;
- ``first_human_reply_at``: the first human reply (not automatic);
- ``first_outbound_at``: our first message, human or automatic;
- ``first_customer_reply_at``: the customer's first message after that (not an
  auto-reply), on any channel;
- ``touches_before_reply``: our messages before that reply (0 without one).

Per outbound message, on its channel: ``previous_outbound_at``, our message before it
(not failed), so that our first message of a period is one whose previous one is older;
and ``customer_reply_at``, the customer's first message after it (not an auto-reply).

``refresh()`` recomputes them from the messages; every writer of messages calls it for
the conversations it touched: ``ingest()``, ``ingest_many()``, ``send()``, a delivery
failure or retry, a merge. Each value is a few seeks on the conversation's messages
index, and rows are written only where a value changed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache

from peewee import SQL, Case, Expression, NodeList, Value, fn

from ..db import db, is_postgres, write_transaction
from ..models import Conversation, Message
from .period import unindexed

BATCH = 500
_IDS = object()  # where the conversation ids go in the compiled statements


def refresh(conversation_ids: Iterable[int]) -> None:
    """Recompute the facts of these conversations and of their outbound messages."""
    postgres = is_postgres()
    statements = _statements(postgres)
    ids = sorted({i for i in conversation_ids if i is not None})
    for start in range(0, len(ids), BATCH):
        # One parameter for all the ids: an array on PostgreSQL, a JSON list on SQLite.
        batch = ids[start : start + BATCH] if postgres else json.dumps(ids[start : start + BATCH])
        for sql, params in statements:
            db.execute_sql(sql, [batch if p is _IDS else p for p in params])


@cache
def _statements(postgres: bool) -> list[tuple[str, list]]:
    """The updates of the facts of a list of conversations, as (SQL, parameters) built
    once, the list being one parameter (``_IDS``): peewee
    takes several times longer to build these statements than the database takes to
    run them, and they run for every message written. In order: the conversation's
    first messages, then the customer's first reply after ours (which reads them), then
    the touches before it, then each of our messages' reply and previous message."""
    marker = Value(_IDS, converter=False)
    if postgres:
        listed = fn.ANY(marker)
    else:
        listed = NodeList((SQL("(SELECT value FROM json_each("), marker, SQL("))")), glue="")

    def of(column):
        return column == listed if postgres else column.in_(listed)

    reply = Message.alias("facts_m")
    of_conversation = reply.conversation == Conversation.id
    ours = (reply.direction == "out") & (reply.status != "failed")

    def first(condition):
        return reply.select(fn.MIN(reply.sent_at)).where(of_conversation & condition)

    firsts = {
        Conversation.first_message_at: first(reply.direction != "note"),
        Conversation.first_human_reply_at: first(ours & ~reply.automatic & reply.author.is_null(False)),
        Conversation.first_outbound_at: first(ours),
    }
    changed = None
    for column, value in firsts.items():
        test = _differs(column, value, postgres)
        changed = test if changed is None else changed | test
    queries = [Conversation.update(firsts).where(of(Conversation.id) & changed)]

    customer = of_conversation & (reply.direction == "in") & ~reply.auto_reply
    first_reply = reply.select(fn.MIN(reply.sent_at)).where(customer & (reply.sent_at > Conversation.first_outbound_at))
    touches = reply.select(fn.COUNT(reply.id)).where(
        of_conversation & ours & (reply.sent_at < Conversation.first_customer_reply_at)
    )
    count = Case(None, [(Conversation.first_customer_reply_at.is_null(False), touches)], 0)
    queries += [
        _set(Conversation.first_customer_reply_at, first_reply, of(Conversation.id), postgres),
        _set(Conversation.touches_before_reply, count, of(Conversation.id), postgres),
    ]

    same_channel = (reply.conversation == Message.conversation) & (reply.channel_kind == Message.channel_kind)
    answer = reply.select(fn.MIN(reply.sent_at)).where(
        same_channel & (reply.direction == "in") & ~reply.auto_reply & (reply.sent_at > Message.sent_at)
    )
    previous = reply.select(fn.MAX(reply.sent_at)).where(same_channel & ours & (reply.sent_at < Message.sent_at))
    # By the conversation index: the planner would take the period index for the equality
    # on direction and read every message of ours.
    of_ours = of(Message.conversation) & (unindexed(Message.direction) == "out")
    queries += [
        _set(Message.customer_reply_at, answer, of_ours, postgres),
        _set(Message.previous_outbound_at, previous, of_ours, postgres),
    ]
    return [query.sql() for query in queries]


def _differs(column, value, postgres: bool):
    return Expression(column, "IS DISTINCT FROM" if postgres else "IS NOT", value)


def _set(column, value, rows, postgres: bool):
    """``column = value`` on ``rows``, writing only those where it changes."""
    return column.model.update({column: value}).where(rows & _differs(column, value, postgres))


def refresh_all(batch: int = 2000) -> int:
    """Recompute the facts of every conversation (after an upgrade or an import that
    wrote messages directly). Returns the number of conversations."""
    done = 0
    last = 0
    while True:
        ids = [
            row[0]
            for row in Conversation.select(Conversation.id)
            .where(Conversation.id > last)
            .order_by(Conversation.id)
            .limit(batch)
            .tuples()
        ]
        if not ids:
            return done
        with write_transaction():
            refresh(ids)
        done += len(ids)
        last = ids[-1]
