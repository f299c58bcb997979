"""Pulling new messages from a channel into ``automation.receive()``, batch by batch, saving the
channel's cursor after each batch so a sync resumes where it stopped.

Channel health lives on the Channel row: last successful poll, last error, consecutive
failures, and when to try again (backing off while a server is down)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import automation, outbound
from .channels import ChannelError
from .channels import email as email_adapter
from .db import utcnow, write_transaction
from .ingest import InboundMessage, batchable, ingest
from .models import Channel, Message

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=1)
STORE_CHUNK = 50  # messages per transaction: holds SQLite's write lock ~0.2 s at most


@dataclass
class PollResult:
    fetched: int = 0
    stored: int = 0
    error: str | None = None


def due(channel: Channel, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    retry_at = (channel.cursor or {}).get("retry_at")
    if retry_at and dt.datetime.fromisoformat(retry_at) > now:
        return False
    interval = dt.timedelta(seconds=int((channel.settings or {}).get("poll_seconds", 60)))
    return channel.last_poll_at is None or now - channel.last_poll_at >= interval - dt.timedelta(seconds=5)


def poll_email(channel_id: int, on_progress: Callable[[dict], None] | None = None) -> PollResult:
    """Fetch and store everything new in the mailbox; record the channel's health."""
    channel = Channel.get_by_id(channel_id)
    result = PollResult()
    cursor = dict(channel.cursor or {})
    try:
        settings = email_adapter.EmailSettings.from_channel(channel.settings)
        own = {settings.from_address.lower()}
        for batch in email_adapter.fetch_batches(channel.id, settings, cursor, own):
            result.fetched += len(batch.messages)
            result.stored += store_batch(batch.messages, channel)
            cursor.update(batch.cursor)
            cursor["progress"] = batch.progress.as_dict()
            Channel.update(cursor=cursor).where(Channel.id == channel.id).execute()
            if on_progress:
                on_progress(cursor["progress"])
    except ChannelError as exc:
        record_failure(channel, cursor, str(exc))
        result.error = str(exc)
        return result
    record_success(channel, cursor)
    return result


def record_success(channel: Channel, cursor: dict) -> None:
    cursor.pop("progress", None)
    cursor.pop("retry_at", None)
    Channel.update(cursor=cursor, last_poll_at=utcnow(), last_error=None, error_count=0).where(
        Channel.id == channel.id
    ).execute()


def record_failure(channel: Channel, cursor: dict, reason: str) -> None:
    failures = channel.error_count + 1
    interval = dt.timedelta(seconds=int((channel.settings or {}).get("poll_seconds", 60)))
    wait = min(interval * (2 ** min(failures - 1, 10)), MAX_BACKOFF)
    cursor["retry_at"] = (utcnow() + wait).isoformat()
    cursor.pop("progress", None)
    Channel.update(cursor=cursor, last_error=reason, error_count=failures).where(Channel.id == channel.id).execute()
    log.warning("channel %s poll failed (%s in a row): %s", channel.id, failures, reason)


def store_batch(messages: list[InboundMessage], channel: Channel | None = None) -> int:
    """Store fetched messages, STORE_CHUNK per transaction, set-based (``store_chunk``).
    Should a chunk fail anyway (``store`` already keeps a message it cannot store
    normally), it is rolled back and stored message by message with ``store``, so nothing
    but the failing message is affected. Returns how many are new."""
    stored = 0
    for start in range(0, len(messages), STORE_CHUNK):
        chunk = messages[start : start + STORE_CHUNK]
        try:
            with write_transaction():
                created = store_chunk(chunk, channel)
        except Exception:
            log.warning("storing %s messages together failed; storing them one by one", len(chunk), exc_info=True)
            created = sum(store(inbound, channel) for inbound in chunk)
        stored += created
    return stored


def store_chunk(chunk: list[InboundMessage], channel: Channel | None) -> int:
    """What ``store`` does for each message, with a few statements for the whole chunk: our
    own mail is recognised with one query, consecutive plain mails are stored together by
    ``ingest_many``; bounces, unparsed mail and other kinds go through ``store`` one by one
    in between, so that messages are still stored in arrival order."""
    plain = [inbound for inbound in chunk if channel is not None and batchable(inbound, channel)]
    own_ids = sorted({inbound.meta["message_id"] for inbound in plain if inbound.meta.get("message_id")})
    own = set()
    if own_ids:
        # Direction is checked here, not in SQL: with it there, SQLite would rather scan the
        # channel's messages than look the ids up in the (channel, provider id) index.
        own = {
            provider_id
            for provider_id, direction in Message.select(Message.provider_id, Message.direction)
            .where((Message.channel == channel.id) & Message.provider_id.in_(own_ids))
            .tuples()
            if direction == "out"
        }
    created = 0
    run: list[InboundMessage] = []
    for inbound in chunk:
        if channel is not None and batchable(inbound, channel):
            if inbound.meta.get("message_id") not in own:  # else our own reply came back: see store()
                run.append(inbound)
            continue
        if run:
            created += automation.receive_many(run, channel)
            run = []
        created += store(inbound, channel)
    if run:
        created += automation.receive_many(run, channel)
    return created


def store(inbound: InboundMessage, channel: Channel | None = None) -> bool:
    """Ingest one fetched message. Bounces mark the message they are about as failed and
    land in that customer's thread. Returns whether a new message was stored."""
    own_id = inbound.meta.get("message_id")
    if (
        own_id
        and Message.select()
        .where((Message.channel == inbound.channel_id) & (Message.direction == "out") & (Message.provider_id == own_id))
        .exists()
    ):
        return False  # our own reply came back (a copy, a list, a forward rule): not a customer message
    bounce = inbound.meta.get("bounce")
    if bounce:
        original = (
            Message.select()
            .where(
                (Message.direction == "out")
                & (Message.channel == inbound.channel_id)
                & (Message.provider_id.in_(bounce["original"] or [""]))
            )
            .first()
        )
        if original is not None:
            outbound.mark_failed(original, f"Bounced: {bounce['reason']}")
            inbound.address = original.address
    try:
        return automation.receive(inbound, channel).created
    except Exception as exc:  # one bad message must not stop the poller: keep it raw
        log.exception("storing message %s failed; keeping it raw", inbound.provider_id)
        fallback = InboundMessage(
            channel_id=inbound.channel_id, kind=inbound.kind, provider_id=inbound.provider_id,
            address="unknown@invalid", subject="(message could not be stored normally)", raw=inbound.raw,
            received_at=inbound.received_at, parse_error=f"{type(exc).__name__}: {exc}"[:500],
        )  # fmt: skip
        return ingest(fallback).created
