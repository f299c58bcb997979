"""Leads posted by web forms and ad platforms (``POST /api/leads``).

``capture()`` then, in one transaction:

1. matches the contact by email or phone identity, or creates it. When the email and
   the phone belong to two different contacts, the email's contact gets the lead and
   the conflict is reported; no duplicate contact is ever created;
2. stores the lead's message through ``automation.receive()`` as an inbound message on
   the internal "Lead forms" channel (Channel kind ``webform``, no adapter). Its channel
   kind is the lead's best channel (email when they gave an address, else SMS), so
   replies and the composer default go there. Its provider id is a hash of source,
   email, phone and message: the same submission posted twice is stored once and
   acknowledged once;
3. records the attribution (source, campaign, ad set, creative, UTM) on the contact:
   the first touch wins, every submission keeps its own in the message's ``meta.lead``;
4. starts the lead's lifecycle (``lifecycle.start``), as for a lead who wrote first on
   any channel; a known contact's new submission starts it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from peewee import IntegrityError

from .. import audit, automation, contacts, outbound
from ..db import db, is_postgres, utcnow, write_transaction
from ..i18n import N_, UserFacingError
from ..identities import InvalidIdentity, normalise_email, normalise_phone
from ..ingest import InboundMessage, ingest
from ..models import Channel, Contact, Conversation, Identity, LeadSource, Message, User
from . import routing
from .sources import LeadError

CHANNEL_KIND = "webform"
CHANNEL_NAME = "Lead forms"
# Field -> longest value accepted (characters).
LIMITS = {
    "name": 255, "email": 254, "phone": 40, "company": 255, "message": 10_000,
    "source": 255, "campaign": 255, "ad_set": 255, "creative": 255,
}  # fmt: skip
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
UTM_LIMIT = 255
ATTRIBUTION = ("source", "campaign", "ad_set", "creative")


class InvalidLead(LeadError):
    """The submission cannot be stored; ``errors`` maps each field to its reason."""

    def __init__(self, errors: dict[str, UserFacingError]):
        super().__init__(N_("The lead has invalid fields."))
        self.errors = errors


@dataclass
class LeadForm:
    """A checked submission: email lower-cased, phone in E.164, text stripped."""

    source: str
    name: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    message: str = ""
    campaign: str = ""
    ad_set: str = ""
    creative: str = ""
    utm: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The lead's best channel: email when they gave an address, else SMS."""
        return "email" if self.email else "sms"

    @property
    def address(self) -> str:
        return self.email or self.phone

    def attribution(self) -> dict:
        values = {k: getattr(self, k) for k in ATTRIBUTION}
        values["utm"] = dict(self.utm)
        return values

    def fingerprint(self) -> str:
        """The provider id of the lead's message: the same submission is stored once."""
        key = "\x1f".join((self.source, self.email, self.phone, self.message))
        return "lead-" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _text(data: Mapping, key: str, errors: dict, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[key] = LeadError(N_("Send this field as text."))
        return ""
    value = str(value).replace("\x00", "").strip()
    if len(value) > limit:
        errors[key] = LeadError(N_("Too long (at most %(limit)s characters)."), limit=limit)
        return ""
    return value


def parse(data: Mapping, default_source: str) -> LeadForm:
    """Check a submission (a JSON object or a form). Raises ``InvalidLead`` with a reason
    for every bad field; unknown fields are ignored."""
    errors: dict[str, UserFacingError] = {}
    values = {key: _text(data, key, errors, limit) for key, limit in LIMITS.items()}
    utm = {key: _text(data, key, errors, UTM_LIMIT) for key in UTM_FIELDS}
    email = phone = ""
    if values["email"]:
        try:
            email = normalise_email(values["email"])
        except InvalidIdentity as exc:
            errors["email"] = exc
    if values["phone"]:
        try:
            phone = normalise_phone(values["phone"])
        except InvalidIdentity as exc:
            errors["phone"] = exc
    if not values["email"] and not values["phone"] and "email" not in errors and "phone" not in errors:
        missing = LeadError(N_("Give an email address or a phone number."))
        errors["email"] = errors["phone"] = missing
    if errors:
        raise InvalidLead(errors)
    return LeadForm(
        source=values["source"] or default_source[:255], name=values["name"], email=email, phone=phone,
        company=values["company"], message=values["message"], campaign=values["campaign"],
        ad_set=values["ad_set"], creative=values["creative"], utm={k: v for k, v in utm.items() if v},
    )  # fmt: skip


@dataclass
class CaptureResult:
    message: Message
    contact: Contact
    duplicate: bool = False  # the same submission was stored before: nothing else was done
    created_contact: bool = False
    conflict: dict | None = None  # {"phone": "+82…", "contact_id": 12}: the phone's other contact
    owner: User | None = None
    ack: dict = field(default_factory=dict)  # what happened to the acknowledgement

    @property
    def conversation_id(self) -> int:
        return self.message.conversation_id


LEAD_CHANNEL_LOCK = 0x1EAD_C4A7  # any fixed number, unique to this purpose


def lead_channel() -> Channel:
    """The internal channel lead messages are stored on, created the first time."""

    def find() -> Channel | None:  # a fresh query each time: peewee caches a query's rows
        return Channel.select().where(Channel.kind == CHANNEL_KIND).order_by(Channel.id).first()

    channel = find()
    if channel is None:
        with write_transaction():  # the write lock first, so two first leads make one channel
            if is_postgres():
                # PostgreSQL has no database-wide write lock: take a transaction-scoped
                # advisory lock instead; the second creator then sees the first's channel.
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (LEAD_CHANNEL_LOCK,))
            channel = find() or Channel.create(kind=CHANNEL_KIND, name=CHANNEL_NAME, enabled=True)
    return channel


def _existing(channel: Channel, provider_id: str) -> Message | None:
    return Message.get_or_none((Message.channel == channel) & (Message.provider_id == provider_id))


def _duplicate(message: Message) -> CaptureResult:
    conv = Conversation.get_by_id(message.conversation_id)
    contact = Contact.get_by_id(conv.contact_id)
    lead = (message.meta or {}).get("lead") or {}
    owner = routing.owner_of(conv, contact)
    return CaptureResult(message, contact, duplicate=True, conflict=lead.get("conflict"), owner=owner,
                         ack=lead.get("ack") or {})  # fmt: skip


def capture(source: LeadSource, form: LeadForm, now: dt.datetime | None = None) -> CaptureResult:
    """Store a lead and start its sequence. Idempotent on the submission."""
    now = now or utcnow()
    channel = lead_channel()
    provider_id = form.fingerprint()
    found = _existing(channel, provider_id)
    if found is not None:
        return _duplicate(found)
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            result = _capture(source, form, channel, provider_id, now)
        except IntegrityError:
            # The same lead (or a lead with the same address) arrived at the same moment;
            # the next attempt finds what the other request stored.
            if attempt == attempts:
                raise
            continue
        if not result.duplicate and result.ack.get("status") == "sent":
            outbound.queue_delivery(result.ack["message_id"])  # after the commit, so a worker finds it
        return result
    raise AssertionError("unreachable")


def _capture(source: LeadSource, form: LeadForm, channel: Channel, provider_id: str, now: dt.datetime):
    with write_transaction():
        found = _existing(channel, provider_id)
        if found is not None:
            return _duplicate(found)
        contact, created, conflict = _match_contact(form)
        first_touch = created or not _has_attribution(contact)
        if first_touch:
            _set_attribution(contact, form, now)
        lead_meta = {
            "source_id": source.id, "source_name": source.name, **form.attribution(),
            "first_touch": first_touch,
        }  # fmt: skip
        if conflict:
            lead_meta["conflict"] = conflict
        raw = json.dumps(
            {"name": form.name, "email": form.email, "phone": form.phone, "company": form.company,
             "message": form.message, **form.attribution()}, ensure_ascii=False,
        )  # fmt: skip
        inbound = InboundMessage(
            channel_id=channel.id, kind=form.kind, provider_id=provider_id, address=form.address,
            name=form.name, text=form.message, received_at=now, raw=raw.encode("utf-8"), meta={"lead": lead_meta},
        )  # fmt: skip
        received = automation.react(ingest(inbound, channel), channel, lead_source=form.source)
        message = received.message
        if not received.created:
            return _duplicate(message)
        contact = Contact.get_by_id(contact.id)
        owner, ack = received.lead.owner, received.lead.ack
        lead_meta["ack"] = ack
        _set_lead_meta(message, lead_meta)
        conv = Conversation.get_by_id(message.conversation_id)
        audit.record(
            None, "lead_captured", contact, conversation=conv,
            after={"source": form.source, "lead_source": source.name, "first_touch": first_touch,
                   "conflict": conflict, "owner": owner.id if owner else None},
        )  # fmt: skip
    return CaptureResult(message, contact, created_contact=created, conflict=conflict, owner=owner, ack=ack)


def _match_contact(form: LeadForm) -> tuple[Contact, bool, dict | None]:
    """The contact of the lead's email or phone (the email's when they differ), or a new one."""

    def holder(kind: str, value: str) -> Contact | None:
        if not value:
            return None
        identity = Identity.get_or_none((Identity.kind == kind) & (Identity.value == value))
        return Contact.get_by_id(identity.contact_id) if identity else None

    by_email, by_phone = holder("email", form.email), holder("phone", form.phone)
    if by_email is None and by_phone is None:
        contact = contacts.create(
            None, emails=[form.email] if form.email else [], phones=[form.phone] if form.phone else [],
            name=form.name, company=form.company,
        )  # fmt: skip
        return contact, True, None
    conflict = None
    if by_email is not None and by_phone is not None and by_email.id != by_phone.id:
        contact = by_email
        conflict = {"phone": form.phone, "contact_id": by_phone.id}
    else:
        contact = by_email or by_phone
        if by_email is None and form.email:
            contacts.add_identity(contact, None, "email", form.email)
        if by_phone is None and form.phone:
            contacts.add_identity(contact, None, "phone", form.phone)
    changed = {}
    if form.name and not contact.name:
        changed["name"] = form.name
    if form.company and not contact.company:
        changed["company"] = form.company
    if changed:
        contacts.update(contact, None, **changed)
    return contact, False, conflict


def _has_attribution(contact: Contact) -> bool:
    return any(getattr(contact, k) for k in ATTRIBUTION) or bool(contact.utm)


def _set_attribution(contact: Contact, form: LeadForm, now: dt.datetime) -> None:
    values = {k: getattr(form, k) for k in ATTRIBUTION}
    Contact.update(**values, utm=dict(form.utm), updated_at=now).where(Contact.id == contact.id).execute()


def _set_lead_meta(message: Message, lead_meta: dict) -> None:
    meta = {**(message.meta or {}), "lead": lead_meta}
    message.meta = meta
    Message.update(meta=meta).where(Message.id == message.id).execute()
