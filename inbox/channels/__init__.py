"""The channel adapter interface and the registry of adapters by channel kind.

An adapter knows one provider and nothing else. Inbound: it turns what the provider
gives into ``InboundMessage`` data for ``ingest()``. Outbound: ``send(settings, outbound)``
takes plain data (``OutboundMessage``) and returns the provider's message id or raises a
``ChannelError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..models import Channel


@dataclass
class OutboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class OutboundMessage:
    """What a provider needs to send one message; built by ``outbound.deliver()``."""

    id: int
    kind: str  # email | sms | whatsapp
    to: str  # email address or E.164 phone
    text: str
    subject: str = ""
    author_name: str = ""
    attachments: list[OutboundAttachment] = field(default_factory=list)
    # Email threading: the customer's last mail, so the reply threads in their client.
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    thread_subject: str = ""
    meta: dict = field(default_factory=dict)


class ChannelError(Exception):
    """Sending failed for good; ``str(error)`` is shown to the agent. ``code`` is the
    provider's error code when it gave one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class TransientChannelError(ChannelError):
    """The provider may accept it later (timeout, 429, 5xx): retried with backoff."""


class Adapter(Protocol):
    kind: str  # the Channel.kind it serves, e.g. "email" or "twilio"
    message_kinds: tuple[str, ...]  # the Message.channel_kind values it can send

    def send(self, channel: Channel, outbound: OutboundMessage) -> str: ...


ADAPTERS: dict[str, Adapter] = {}


def register(adapter: Adapter) -> Adapter:
    ADAPTERS[adapter.kind] = adapter
    return adapter


def adapter_for(channel: Channel | None) -> Adapter | None:
    if channel is None:
        return None
    return ADAPTERS.get(channel.kind)


def kinds_served(channel_kind: str) -> tuple[str, ...]:
    """Which message kinds a Channel of this kind can carry, adapter or not."""
    return {"email": ("email",), "twilio": ("sms", "whatsapp")}.get(channel_kind, ())


def channel_for(message_kind: str, preferred: Channel | None = None) -> Channel | None:
    """The enabled channel that should carry an outbound message of ``message_kind``."""
    if preferred is not None and preferred.enabled and message_kind in kinds_served(preferred.kind):
        return preferred
    for channel in Channel.select().where(Channel.enabled).order_by(Channel.id):
        if message_kind in kinds_served(channel.kind):
            return channel
    return None
