"""New leads: capture, assignment, acknowledgement and the first-hours sequence."""

from __future__ import annotations

from .models import Message


def on_customer_reply(message: Message) -> None:
    """A lead replied: stop re-engagement; a dormant lead becomes active again."""


def on_answered(message: Message) -> None:
    """A human answered the lead: the unanswered-lead reminders stop."""
