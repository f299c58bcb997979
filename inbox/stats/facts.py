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

from collections.abc import Iterable

from peewee import Case, Expression, fn

from ..db import is_postgres, write_transaction
from ..models import Conversation, Message
from .period import unindexed

BATCH = 500


def _conversation_columns(reply):
    ours = (reply.direction == "out") & (reply.status != "failed")
    this = reply.conversation == Conversation.id

    def first(condition):
        return reply.select(fn.MIN(reply.sent_at)).where(this & condition)

    return {
        Conversation.first_message_at: first(reply.direction != "note"),
        Conversation.first_human_reply_at: first(ours & ~reply.automatic & reply.author.is_null(False)),
        Conversation.first_outbound_at: first(ours),
    }


def _differs(column, value):
    return Expression(column, "IS DISTINCT FROM" if is_postgres() else "IS NOT", value)


def _set(column, value, rows) -> None:
    """``column = value`` on ``rows``, writing only those where it changes."""
    column.model.update({column: value}).where(rows & _differs(column, value)).execute()


def refresh(conversation_ids: Iterable[int]) -> None:
    """Recompute the facts of these conversations and of their outbound messages."""
    ids = sorted({i for i in conversation_ids if i is not None})
    for start in range(0, len(ids), BATCH):
        _refresh(ids[start : start + BATCH])


def _refresh(ids: list[int]) -> None:
    reply = Message.alias("facts_m")
    firsts = _conversation_columns(reply)
    changed = None
    for column, value in firsts.items():
        test = _differs(column, value)
        changed = test if changed is None else changed | test
    Conversation.update(firsts).where(Conversation.id.in_(ids) & changed).execute()

    customer = (reply.conversation == Conversation.id) & (reply.direction == "in") & ~reply.auto_reply
    first_reply = reply.select(fn.MIN(reply.sent_at)).where(customer & (reply.sent_at > Conversation.first_outbound_at))
    conversations = Conversation.id.in_(ids)
    _set(Conversation.first_customer_reply_at, first_reply, conversations)
    touches = reply.select(fn.COUNT(reply.id)).where(
        (reply.conversation == Conversation.id)
        & (reply.direction == "out")
        & (reply.status != "failed")
        & (reply.sent_at < Conversation.first_customer_reply_at)
    )
    count = Case(None, [(Conversation.first_customer_reply_at.is_null(False), touches)], 0)
    _set(Conversation.touches_before_reply, count, conversations)

    answer = reply.select(fn.MIN(reply.sent_at)).where(
        (reply.conversation == Message.conversation)
        & (reply.direction == "in")
        & ~reply.auto_reply
        & (reply.channel_kind == Message.channel_kind)
        & (reply.sent_at > Message.sent_at)
    )
    previous = reply.select(fn.MAX(reply.sent_at)).where(
        (reply.conversation == Message.conversation)
        & (reply.direction == "out")
        & (reply.status != "failed")
        & (reply.channel_kind == Message.channel_kind)
        & (reply.sent_at < Message.sent_at)
    )
    # By the conversation index: the planner would take the period index for the equality
    # on direction and read every message of ours.
    ours = Message.conversation.in_(ids) & (unindexed(Message.direction) == "out")
    _set(Message.customer_reply_at, answer, ours)
    _set(Message.previous_outbound_at, previous, ours)


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
