"""Follow-up cadence for conversations awaiting the customer."""

from __future__ import annotations

from .models import Message


def on_customer_reply(message: Message) -> None:
    """The customer replied: the cadence stops."""


def on_our_reply(message: Message) -> None:
    """We replied: the cadence (re)starts from this message."""
