"""Builders for the statistics tests: messages at moments the test chooses (local times in
the team's time zone, stored as naive UTC), written through the real domain functions,
and the reference arithmetic (median, nearest-rank p90, average, rates) the expected
values are computed with."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from zoneinfo import ZoneInfo

from inbox import automation, contacts, outbound
from inbox.ingest import InboundMessage
from inbox.models import Channel, Contact, Conversation, Message, User
from inbox.stats.period import Filters

from .factories import make_channel, make_user

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR
_ids = itertools.count(1)


def local(day: str, time: str, tz: ZoneInfo = SEOUL) -> dt.datetime:
    """Naive UTC of a local wall-clock moment, e.g. local("2026-03-02", "09:00")."""
    moment = dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=tz)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def seconds(start: dt.datetime, end: dt.datetime) -> int:
    return int((end - start).total_seconds())


def period(start: str, end: str, tz: ZoneInfo = SEOUL, **kw) -> Filters:
    return Filters(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), tz=tz, **kw)


# --- writing the data ----------------------------------------------------------------------


def team_and_channels() -> tuple[User, User, User, Channel, Channel]:
    """Agents Kim and Lee, Manager Park, an email channel and a Twilio channel."""
    kim = make_user("agent", "Agent Kim")
    lee = make_user("agent", "Agent Lee")
    boss = make_user("manager", "Manager Park")
    return kim, lee, boss, make_channel("email"), make_channel("twilio")


def customer_writes(
    channel: Channel, at: dt.datetime, address: str, *, kind: str | None = None, auto_reply: bool = False, **kw
) -> Message:
    """An inbound message received at ``at`` (naive UTC), received as a channel would."""
    kind = kind or ("email" if channel.kind == "email" else "sms")
    return automation.receive(
        InboundMessage(
            channel_id=channel.id, kind=kind, provider_id=f"stats-{next(_ids)}", address=address,
            text=kw.pop("text", "Hello"), received_at=at, auto_reply=auto_reply, **kw,
        )
    ).message  # fmt: skip


def we_send(conv_id: int, author: User | None, at: dt.datetime, kind: str = "email", *, automatic: bool = False):
    """Our outbound message at ``at``: a human reply, or with ``automatic`` an automation's."""
    send = outbound.send if automatic or author is None else automation.reply
    return send(
        Conversation.get_by_id(conv_id), kind=kind, text="Thanks for writing.", author=author, at=at,
        automatic=automatic,
    )  # fmt: skip


def fails(message: Message) -> None:
    """Hand the message to delivery: no channel is configured, so it fails to send."""
    assert outbound.deliver(message.id) == "failed"


def contact_of(message: Message) -> Contact:
    return Contact.get_by_id(Conversation.get_by_id(message.conversation_id).contact_id)


def conversation_of(message: Message) -> Conversation:
    return Conversation.get_by_id(message.conversation_id)


def describe(message: Message, actor: User, **fields) -> Contact:
    """Set the contact's attribution, owner or lead status the way an agent edits them."""
    return contacts.update(contact_of(message), actor, **fields)


def created_at(contact: Contact | int, at: dt.datetime) -> None:
    """The moment the contact was created. Contacts take their creation time from the real
    clock, so data on the test's clock records it here."""
    contact_id = contact if isinstance(contact, int) else contact.id
    Contact.update(created_at=at).where(Contact.id == contact_id).execute()


# --- reference arithmetic --------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def p90(values: list[float]) -> float | None:
    """Nearest rank: the ceil(0.9 n)-th smallest."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def average(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summary(values: list[float]) -> tuple:
    """(count, median, p90, average), to compare with a ``figures.Summary``."""
    return (len(values), median(values), p90(values), average(values))


def as_tuple(s) -> tuple:
    return (s.count, s.median, s.p90, s.average)


def percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None
