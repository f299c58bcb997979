"""Small builders for test data. Inbound messages go through the real ``automation.receive()``."""

from __future__ import annotations

import datetime as dt
import itertools

from inbox import automation, users
from inbox.db import utcnow
from inbox.ingest import InboundMessage
from inbox.models import Channel

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(role: str = "agent", name: str | None = None, email: str | None = None, **kw):
    n = next(_seq)
    return users.create(
        email=email or f"user{n}@example.com", name=name or f"User {n}", role=role, password=PASSWORD, **kw
    )


def make_channel(kind: str = "email", name: str | None = None, *, leads: bool = False, **kw) -> Channel:
    """By default a placeholder that holds inbound test messages and is connected to no
    provider (disabled), so replies fail with "no channel configured". New contacts on it
    are leads only with ``leads`` (the product's default): tests that are not about the
    lead lifecycle would otherwise get its owner, notifications and reminders too."""
    kw.setdefault("enabled", False)
    kw.setdefault("settings", {"leads": leads})
    return Channel.create(kind=kind, name=name or f"{kind} channel {next(_seq)}", **kw)


def inbound(channel: Channel, *, address: str, text: str = "Hello", kind: str | None = None,
            provider_id: str | None = None, minutes_ago: float = 0, **kw) -> InboundMessage:  # fmt: skip
    kind = kind or ("email" if channel.kind == "email" else "sms")
    return InboundMessage(
        channel_id=channel.id,
        kind=kind,
        provider_id=provider_id or f"pid-{next(_seq)}",
        address=address,
        text=text,
        received_at=utcnow() - dt.timedelta(minutes=minutes_ago),
        **kw,
    )


def receive(channel: Channel, **kw):
    """Receive one inbound message as a channel would (stored, then automation); returns it."""
    return automation.receive(inbound(channel, **kw)).message
