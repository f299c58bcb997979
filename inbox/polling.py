"""Pulling new messages from a channel into ``ingest()``, batch by batch, saving the
channel's cursor after each batch so a sync resumes where it stopped.

Channel health lives on the Channel row: last successful poll, last error, consecutive
failures, and when to try again (backing off while a server is down)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import outbound
from .channels import ChannelError
from .channels import email as email_adapter
from .db import utcnow
from .ingest import InboundMessage, ingest
from .models import Channel, Message

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=1)


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
            for inbound in batch.messages:
                if store(inbound):
                    result.stored += 1
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


def store(inbound: InboundMessage) -> bool:
    """Ingest one fetched message. Bounces mark the message they are about as failed and
    land in that customer's thread. Returns whether a new message was stored."""
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
        return ingest(inbound).created
    except Exception as exc:  # one bad message must not stop the poller: keep it raw
        log.exception("storing message %s failed; keeping it raw", inbound.provider_id)
        fallback = InboundMessage(
            channel_id=inbound.channel_id, kind=inbound.kind, provider_id=inbound.provider_id,
            address="unknown@invalid", subject="(message could not be stored normally)", raw=inbound.raw,
            received_at=inbound.received_at, parse_error=f"{type(exc).__name__}: {exc}"[:500],
        )  # fmt: skip
        return ingest(fallback).created
