"""The two moments follow-up automation reacts to, wired into the message path:
a customer message stored by ``ingest()``, and a human reply stored by ``send()``."""

from __future__ import annotations

from .models import Message


def on_customer_message(message: Message) -> None:
    """A customer wrote (not an auto-reply): stop chasing them, wake dormant leads."""
    from . import cadence, leads

    cadence.on_customer_reply(message)
    leads.on_customer_reply(message)


def on_human_reply(message: Message) -> None:
    """An agent answered: the conversation now awaits the customer."""
    from . import cadence, leads

    leads.on_answered(message)
    cadence.on_our_reply(message)
