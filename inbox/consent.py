"""Who may be messaged where: SMS opt-outs (STOP / START), WhatsApp opt-in, and the
WhatsApp 24-hour customer-service window."""

from __future__ import annotations

import datetime as dt

from . import audit
from .db import utcnow, write_transaction
from .i18n import N_
from .models import Contact, Conversation, Message, User

WINDOW = dt.timedelta(hours=24)
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}


def keyword(text: str) -> str | None:
    """ "opt_out" / "opt_in" when the whole message is one of the carrier keywords."""
    word = (text or "").strip().strip(".!").upper()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None


def is_keyword(kind: str, text: str) -> bool:
    """A carrier keyword (STOP, START) on SMS or WhatsApp: an instruction, not a message
    anybody answers."""
    return kind in ("sms", "whatsapp") and keyword(text) is not None


def _field(kind: str) -> str:
    return "whatsapp_opted_out_at" if kind == "whatsapp" else "sms_opted_out_at"


def set_opted_out(contact: Contact, kind: str, opted_out: bool, actor: User | None = None, reason: str = "") -> bool:
    """Record an opt-out (or lift it) on one channel. Returns whether anything changed."""
    field = _field(kind)
    current = getattr(contact, field)
    if bool(current) == opted_out:
        return False
    with write_transaction():
        Contact.update({field: utcnow() if opted_out else None}).where(Contact.id == contact.id).execute()
        conv = Conversation.get_or_none(Conversation.contact == contact.id)
        audit.record(
            actor, "opted_out" if opted_out else "opted_in", contact, conversation=conv,
            after={"channel": kind, "reason": reason},
        )  # fmt: skip
        if conv is not None:
            Conversation.update(updated_at=utcnow()).where(Conversation.id == conv.id).execute()
    return True


def set_whatsapp_consent(contact: Contact, granted: bool, actor: User | None, reason: str = "") -> bool:
    if bool(contact.whatsapp_opt_in_at) == granted:
        return False
    with write_transaction():
        Contact.update(whatsapp_opt_in_at=utcnow() if granted else None).where(Contact.id == contact.id).execute()
        conv = Conversation.get_or_none(Conversation.contact == contact.id)
        audit.record(
            actor, "whatsapp_consent_given" if granted else "whatsapp_consent_withdrawn", contact,
            conversation=conv, after={"reason": reason},
        )  # fmt: skip
    return True


def after_inbound(message: Message) -> None:
    """Carrier keywords change consent; a customer who writes on WhatsApp first has
    opted in to hearing back there."""
    if message.channel_kind not in ("sms", "whatsapp"):
        return
    contact = Contact.get_by_id(Conversation.get_by_id(message.conversation_id).contact_id)
    opt_type = (message.meta or {}).get("opt_out_type", "").upper()
    word = keyword(message.text) or {"STOP": "opt_out", "START": "opt_in"}.get(opt_type)
    if word == "opt_out":
        set_opted_out(contact, message.channel_kind, True, reason=f"customer texted {message.text.strip()[:20]}")
    elif word == "opt_in":
        set_opted_out(contact, message.channel_kind, False, reason=f"customer texted {message.text.strip()[:20]}")
    if message.channel_kind == "whatsapp" and not contact.whatsapp_opt_in_at and word != "opt_out":
        set_whatsapp_consent(contact, True, None, reason="the customer wrote first on WhatsApp")


def last_whatsapp_inbound(conversation_id: int) -> dt.datetime | None:
    row = (
        Message.select(Message.sent_at)
        .where(
            (Message.conversation == conversation_id)
            & (Message.channel_kind == "whatsapp")
            & (Message.direction == "in")
        )
        .order_by(Message.sent_at.desc())
        .first()
    )
    return row.sent_at if row else None


def window_left(conversation_id: int, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Time left in the WhatsApp customer-service window, or None when it is closed."""
    last = last_whatsapp_inbound(conversation_id)
    if last is None:
        return None
    left = last + WINDOW - (now or utcnow())
    return left if left > dt.timedelta(0) else None


def blocked_reason(contact: Contact, kind: str) -> str | None:
    """Why we may not message this contact on ``kind`` at all (English msgid), or None."""
    if kind == "sms" and contact.sms_opted_out_at:
        return N_("This contact opted out of SMS (texted STOP).")
    if kind == "whatsapp" and contact.whatsapp_opted_out_at:
        return N_("This contact opted out of WhatsApp messages.")
    if kind == "whatsapp" and not contact.whatsapp_opt_in_at:
        return N_("WhatsApp needs the contact's recorded opt-in first.")
    if kind == "email" and contact.email_unsubscribed_at:
        return N_("This contact unsubscribed from email.")
    return None
