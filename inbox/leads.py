"""New leads: capture from web forms and ad platforms, assignment, acknowledgement, the
first-hours sequence, and dormant leads that write again.

A lead source (a web form, an ad platform) posts to ``POST /api/leads`` with its own
bearer token; only the token's SHA-256 is stored (``LeadSource.token_hash``).
``capture()`` then, in one transaction:

1. matches the contact by email or phone identity, or creates it. When the email and
   the phone belong to two different contacts, the email's contact gets the lead and
   the conflict is reported; no duplicate contact is ever created;
2. stores the lead's message through ``ingest()`` as an inbound message on the internal
   "Lead forms" channel (Channel kind ``webform``, no adapter). Its channel kind is
   the lead's best channel (email when they gave an address, else SMS), so replies and
   the composer default go there. Its provider id is a hash of source, email, phone and
   message: the same submission posted twice is stored once and acknowledged once;
3. records the attribution (source, campaign, ad set, creative, UTM) on the contact:
   the first touch wins, every submission keeps its own in the message's ``meta.lead``;
4. runs the steps, each switched by a team setting (``inbox.team``):

   - minute 0: an owner (the contact's active owner, else round-robin among active
     agents when ``lead_auto_assign``) gets the conversation and a "new_lead"
     notification; with nobody to assign, managers and admins are notified;
   - ``lead_ack_delay_minutes`` (0 = at once): the ``lead_ack_template`` is sent as an
     automatic message by email, else SMS. Automatic messages do not stop the waiting
     clock. It is skipped, with the reason kept in ``meta.lead.ack`` and the audit
     trail, when consent blocks the channel, the template is missing, or the lead got
     an automatic message in the last 24 hours;
   - ``lead_reminder_minutes`` (1 h, 24 h): the owner is reminded ("lead_unanswered")
     while the lead is still waiting for a human answer;
   - ``lead_reengage_days`` (3): if we wrote last and the lead has not answered, the
     owner gets a "reengage" task, or with ``lead_reengage_auto_send`` the
     ``lead_reengage_template`` goes out as an automatic message.

Round-robin: "available" means an active (not deactivated) user with the role agent;
the pointer (the last agent given a lead) is the team setting ``lead_round_robin_last``.

A human answer cancels the pending unanswered-lead reminders and a delayed
acknowledgement; a customer message cancels the re-engagement. A dormant lead who writes
goes back to its status before dormancy ("interested" when that was "new") and its owner
is alerted at once ("dormant_replied").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import IntegrityError, fn

from . import audit, cadence, canned, consent, contacts, notifications, outbound, reminders, team
from .db import db, is_postgres, is_sqlite, utcnow, write_transaction
from .i18n import N_, UserFacingError
from .identities import InvalidIdentity, normalise_email, normalise_phone
from .ingest import InboundMessage, ingest
from .models import (
    AuditEvent,
    Channel,
    Contact,
    Conversation,
    FollowUp,
    Identity,
    LeadSource,
    Message,
    TeamSetting,
    Template,
    User,
)

log = logging.getLogger(__name__)

CHANNEL_KIND = "webform"
CHANNEL_NAME = "Lead forms"
TOKEN_PREFIX = "lead_"  # noqa: S105 (marks our tokens; not a secret)
ROUND_ROBIN_KEY = "lead_round_robin_last"
# Field -> longest value accepted (characters).
LIMITS = {
    "name": 255, "email": 254, "phone": 40, "company": 255, "message": 10_000,
    "source": 255, "campaign": 255, "ad_set": 255, "creative": 255,
}  # fmt: skip
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
UTM_LIMIT = 255
ATTRIBUTION = ("source", "campaign", "ad_set", "creative")
# Statuses a dormant lead can go back to; anything else (e.g. "new") becomes "interested".
ACTIVE_STATUSES = ("contacted", "interested")
MAX_SOURCE_NAME = 80


class LeadError(UserFacingError):
    pass


class Unauthorized(LeadError):
    """No token, an unknown token, or the token of a deactivated source."""


class InvalidLead(LeadError):
    """The submission cannot be stored; ``errors`` maps each field to its reason."""

    def __init__(self, errors: dict[str, UserFacingError]):
        super().__init__(N_("The lead has invalid fields."))
        self.errors = errors


# --- lead sources and their tokens -------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_source(name: str, actor: User | None = None) -> tuple[LeadSource, str]:
    """Create a lead source; returns it and its token, which is shown once and not kept."""
    name = (name or "").strip()
    if not name or len(name) > MAX_SOURCE_NAME:
        raise LeadError(N_("Give the source a name of at most %(n)s characters."), n=MAX_SOURCE_NAME)
    if LeadSource.select().where(fn.LOWER(LeadSource.name) == name.lower()).exists():
        raise LeadError(N_("A lead source named %(name)s already exists."), name=name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with write_transaction():
            source = LeadSource.create(name=name, token_hash=hash_token(token))
            audit.record(actor, "lead_source_created", source, after={"name": name})
    except IntegrityError:  # created at the same moment by someone else
        raise LeadError(N_("A lead source named %(name)s already exists."), name=name) from None
    return source, token


def deactivate_source(source: LeadSource, actor: User | None = None) -> bool:
    """Stop accepting the source's token (for good: a new source gets a new token)."""
    with write_transaction():
        changed = LeadSource.update(active=False).where((LeadSource.id == source.id) & LeadSource.active).execute()
        if changed:
            audit.record(actor, "lead_source_deactivated", source, before={"active": True}, after={"active": False})
    source.active = False
    return bool(changed)


def sources() -> list[LeadSource]:
    return list(LeadSource.select().order_by(LeadSource.active.desc(), LeadSource.name))


def authenticate(authorization: str | None, now: dt.datetime | None = None) -> LeadSource:
    """The active source whose token is in an ``Authorization: Bearer TOKEN`` header."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(N_("Send the lead source's token in the header Authorization: Bearer TOKEN."))
    if len(token) > 200:
        raise Unauthorized(N_("Unknown lead source token."))
    digest = hash_token(token)
    source = LeadSource.get_or_none(LeadSource.token_hash == digest)
    # The lookup is by hash, which tells nothing about the token; compare in constant time anyway.
    if source is None or not hmac.compare_digest(source.token_hash, digest):
        raise Unauthorized(N_("Unknown lead source token."))
    if not source.active:
        raise Unauthorized(N_("This lead source is deactivated."))
    source.last_used_at = now or utcnow()
    LeadSource.update(last_used_at=source.last_used_at).where(LeadSource.id == source.id).execute()
    return source


# --- the submission ------------------------------------------------------------------------


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


# --- capture -------------------------------------------------------------------------------


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
    owner = _active_user(contact.owner_id) or _active_user(conv.assignee_id)
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
        stored = ingest(
            InboundMessage(
                channel_id=channel.id, kind=form.kind, provider_id=provider_id, address=form.address,
                name=form.name, text=form.message, received_at=now, raw=raw.encode("utf-8"),
                meta={"lead": lead_meta},
            ),
            channel,
        )  # fmt: skip
        message = stored.message
        if not stored.created:
            return _duplicate(message)
        conv = Conversation.get_by_id(message.conversation_id)
        contact = Contact.get_by_id(contact.id)
        owner = _assign(conv, contact)
        params = {"name": contact.display_name or form.address, "source": form.source}
        if owner is not None:
            notifications.notify(owner, "new_lead", conv.id, **params)
        else:
            notifications.notify_managers("new_lead", conv.id, **params)
        _schedule_reminders(conv, owner, now)
        _schedule_reengage(conv, owner, now)
        ack = _start_acknowledgement(conv, contact, form.kind, owner, message, now)
        lead_meta["ack"] = ack
        _set_lead_meta(message, lead_meta)
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


# --- owner -----------------------------------------------------------------------------------


def _active_user(user_id: int | None) -> User | None:
    if not user_id:
        return None
    return User.get_or_none((User.id == user_id) & User.active)


def owner_of(conv: Conversation, contact: Contact | None = None) -> User | None:
    """Who answers for this lead now: the contact's owner, else the assignee (active only)."""
    contact = contact or Contact.get_by_id(conv.contact_id)
    return _active_user(contact.owner_id) or _active_user(conv.assignee_id)


def next_agent() -> User | None:
    """The next active agent after the one who got the last lead (round-robin by id)."""
    agents = list(User.select().where((User.role == "agent") & User.active).order_by(User.id))
    if not agents:
        return None
    # The pointer row, locked on PostgreSQL so two leads at once go to two agents (SQLite
    # already holds the write lock: capture runs in a write transaction).
    TeamSetting.insert(key=ROUND_ROBIN_KEY, value=None, updated_at=utcnow()).on_conflict_ignore().execute()
    query = TeamSetting.select().where(TeamSetting.key == ROUND_ROBIN_KEY)
    row = (query if is_sqlite() else query.for_update()).get()
    last = row.value if isinstance(row.value, int) else 0
    chosen = next((a for a in agents if a.id > last), agents[0])
    team.put(ROUND_ROBIN_KEY, chosen.id)
    return chosen


def _assign(conv: Conversation, contact: Contact) -> User | None:
    owner = owner_of(conv, contact)
    if owner is None and team.get("lead_auto_assign"):
        owner = next_agent()
    if owner is None:
        return None
    if contact.owner_id != owner.id:
        Contact.update(owner=owner, updated_at=utcnow()).where(Contact.id == contact.id).execute()
        contact.owner = owner
    if _active_user(conv.assignee_id) is None:
        # As conversations.assign() records it, but without its "assigned" notification:
        # the owner gets the "new_lead" one instead.
        before = conv.assignee_id
        conv.assignee, conv.updated_at = owner, utcnow()
        conv.save()
        audit.record(
            None, "assigned", conv, conversation=conv, before={"assignee": before},
            after={"assignee": owner.id, "assignee_name": owner.name},
        )  # fmt: skip
    return owner


# --- the steps -------------------------------------------------------------------------------


def _pending(conv_id: int, kind: str) -> bool:
    return (
        FollowUp.select()
        .where(
            (FollowUp.conversation == conv_id)
            & (FollowUp.kind == kind)
            & FollowUp.fired_at.is_null()
            & FollowUp.cancelled_at.is_null()
        )
        .exists()
    )


def _schedule_reminders(conv: Conversation, owner: User | None, now: dt.datetime) -> None:
    if _pending(conv.id, "lead_unanswered"):
        return  # an earlier submission's reminders are still running
    for step, minutes in enumerate(team.get("lead_reminder_minutes") or [], start=1):
        reminders.schedule(
            conv, now + dt.timedelta(minutes=int(minutes)), kind="lead_unanswered", owner=owner, step=step,
            meta={"minutes": int(minutes)},
        )  # fmt: skip


def _schedule_reengage(conv: Conversation, owner: User | None, now: dt.datetime) -> None:
    days = team.get("lead_reengage_days")
    if not days:
        return
    reminders.cancel_pending(conv.id, ("reengage",))
    reminders.schedule(conv, now + dt.timedelta(days=int(days)), kind="reengage", owner=owner, meta={"days": int(days)})


def _template(shortcut: str | None) -> Template | None:
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    return Template.get_or_none(Template.shortcut == shortcut) if shortcut else None


def _recent_automatic(conv_id: int, now: dt.datetime) -> bool:
    return (
        Message.select()
        .where(
            (Message.conversation == conv_id)
            & (Message.direction == "out")
            & Message.automatic
            & (Message.status != "failed")
            & (Message.sent_at > now - dt.timedelta(hours=24))
        )
        .exists()
    )


def _start_acknowledgement(
    conv: Conversation, contact: Contact, kind: str, owner: User | None, lead_message: Message, now: dt.datetime
) -> dict:
    shortcut = team.get("lead_ack_template")
    if not shortcut:
        return {"status": "off"}
    delay = int(team.get("lead_ack_delay_minutes") or 0)
    if delay > 0:
        followup = reminders.schedule(
            conv, now + dt.timedelta(minutes=delay), kind="lead_ack", owner=owner, template=_template(shortcut),
            meta={"channel": kind, "shortcut": shortcut, "lead_message": lead_message.id},
        )  # fmt: skip
        return {"status": "scheduled", "due_at": followup.due_at.isoformat(), "followup_id": followup.id}
    return _acknowledge(conv, kind, _template(shortcut), owner, now)


def _acknowledge(conv: Conversation, kind: str, template: Template | None, owner: User | None, now) -> dict:
    """Send the acknowledgement now, or say why not. The caller queues the delivery."""
    contact = Contact.get_by_id(conv.contact_id)  # fresh: consent may have changed
    params: dict = {}
    if template is None:
        reason = N_("The acknowledgement template does not exist.")
    elif template.channels and kind not in template.channels.split():
        reason = N_("The acknowledgement template is not meant for this channel.")
    else:
        reason = consent.blocked_reason(contact, kind)
    if reason is None and _recent_automatic(conv.id, now):
        reason = N_("The lead already got an automatic message in the last 24 hours.")
    if reason is None:
        try:
            text = canned.render(template.body, contact, owner, conv)
            message = outbound.send(
                conv, kind=kind, text=text, author=owner, automatic=True, at=now, template=template,
                subject=template.name if kind == "email" else "", meta={"automation": "lead_ack"},
            )  # fmt: skip
        except (outbound.SendError, canned.TemplateProblem) as exc:
            reason, params = exc.msgid, exc.params
        else:
            return {"status": "sent", "message_id": message.id, "channel": kind}
    skipped = {"status": "skipped", "reason": reason, "reason_params": params, "channel": kind}
    audit.record(None, "lead_ack_skipped", contact, conversation=conv, after=skipped)
    return skipped


# --- follow-up handlers (fired by reminders.sweep) -----------------------------------------


def _safely(fn):
    """One broken lead must not stop the sweep for everyone else."""

    def run(followup: FollowUp, now: dt.datetime) -> None:
        try:
            fn(followup, now)
        except Exception:
            log.exception("%s follow-up %s failed", followup.kind, followup.id)
            _record(followup, {"outcome": "error"})

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _record(followup: FollowUp, values: dict, done: dt.datetime | None = None) -> None:
    meta = {**(followup.meta or {}), **values}
    followup.meta = meta
    update = {"meta": meta}
    if done is not None:
        update["done_at"] = done
    FollowUp.update(**update).where(FollowUp.id == followup.id).execute()


def _notify(owner: User | None, kind: str, conv: Conversation, **params) -> None:
    if owner is not None:
        notifications.notify(owner, kind, conv.id, **params)
    else:
        notifications.notify_managers(kind, conv.id, **params)


@reminders.handler("lead_ack")
@_safely
def fire_ack(followup: FollowUp, now: dt.datetime) -> None:
    """The delayed acknowledgement."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    if conv is None:
        return
    meta = followup.meta or {}
    template = Template.get_or_none(Template.id == followup.template_id) if followup.template_id else None
    template = template or _template(meta.get("shortcut"))
    with write_transaction():
        ack = _acknowledge(conv, meta.get("channel") or "email", template, owner_of(conv), now)
        _record(followup, {"outcome": ack["status"], **ack}, done=now)
        lead_message = Message.get_or_none(Message.id == meta.get("lead_message"))
        if lead_message is not None and (lead_message.meta or {}).get("lead") is not None:
            _set_lead_meta(lead_message, {**lead_message.meta["lead"], "ack": ack})
    if ack["status"] == "sent":
        outbound.queue_delivery(ack["message_id"])


@reminders.handler("lead_unanswered")
@_safely
def fire_unanswered(followup: FollowUp, now: dt.datetime) -> None:
    """Remind the owner of a lead that still waits for a human answer."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    if conv is None or conv.waiting_since is None or conv.state != "open":
        _record(followup, {"outcome": "stopped"}, done=now)
        return
    contact = Contact.get_by_id(conv.contact_id)
    owner = owner_of(conv, contact) or _active_user(followup.owner_id)
    _notify(
        owner, "lead_unanswered", conv, name=contact.display_name, minutes=(followup.meta or {}).get("minutes"),
        waiting_since=conv.waiting_since.isoformat(),
    )  # fmt: skip
    _record(followup, {"outcome": "reminded"}, done=now)


def _we_wrote_last(conv: Conversation) -> bool:
    """Our last message (sent or on its way) came after the customer's last one."""
    last_out = (
        Message.select(Message.id)
        .where((Message.conversation == conv.id) & (Message.direction == "out") & (Message.status != "failed"))
        .order_by(Message.id.desc())
        .first()
    )
    if last_out is None:
        return False
    last_in = (
        Message.select(Message.id)
        .where((Message.conversation == conv.id) & (Message.direction == "in") & ~Message.auto_reply)
        .order_by(Message.id.desc())
        .first()
    )
    return last_in is None or last_in.id < last_out.id


def _zone_and_quiet_hours(contact: Contact) -> tuple[ZoneInfo, tuple[dt.time, dt.time] | None]:
    """The contact's time zone (else the team's) and the team's quiet hours, as the
    cadence reads them, for the cadence's rules on automatic messages."""
    zone = ZoneInfo("UTC")
    for name in (contact.timezone, team.get("timezone")):
        if not name:
            continue
        try:
            zone = ZoneInfo(name)
            break
        except (ZoneInfoNotFoundError, ValueError):
            continue
    value = team.get("quiet_hours")
    try:
        start, end = (dt.time.fromisoformat(v) for v in value) if value else (None, None)
    except (TypeError, ValueError):
        start, end = dt.time(21, 0), dt.time(8, 0)
    return zone, (start, end) if start is not None and start != end else None


@reminders.handler("reengage")
@_safely
def fire_reengage(followup: FollowUp, now: dt.datetime) -> None:
    """Day 3: the lead has not answered our last message. A task for the owner, or the
    re-engagement template sent automatically when the team says so."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    if conv is None:
        return
    contact = Contact.get_by_id(conv.contact_id)
    if contact.merged_into_id or contact.lead_status in ("won", "lost"):
        _record(followup, {"outcome": "stopped", "because": "lead_status"}, done=now)
        return
    if not _we_wrote_last(conv):
        # The lead answered (the unanswered reminders cover a lead nobody wrote to yet).
        _record(followup, {"outcome": "stopped", "because": "not_awaiting_customer"}, done=now)
        return
    owner = owner_of(conv, contact) or _active_user(followup.owner_id)
    params = {"name": contact.display_name, "days": (followup.meta or {}).get("days")}
    template = _template(team.get("lead_reengage_template"))
    message = None
    reason, reason_params = None, {}
    if team.get("lead_reengage_auto_send") and template is not None:
        kind = next(iter(outbound.reachable_kinds(conv)), None)
        tz, quiet = _zone_and_quiet_hours(contact)
        if kind is None:
            reason = N_("This contact has no address to write to.")
        elif template.channels and kind not in template.channels.split():
            reason = N_("The re-engagement template is not meant for this channel.")
        elif cadence.in_quiet_hours(now, tz, quiet):
            when = cadence.end_of_quiet_hours(now, tz, quiet)
            _record(followup, {"outcome": "moved", "because": "quiet_hours", "moved_to": when.isoformat()}, done=now)
            reminders.schedule(conv, when, kind="reengage", owner=followup.owner_id,
                               meta={**(followup.meta or {}), "moved_from": followup.id})  # fmt: skip
            return
        elif cadence.automatic_messages_on_local_day(conv.id, now, tz):
            reason = N_("The lead already got an automatic message today.")
        else:
            reason = consent.blocked_reason(contact, kind)
        if reason is None:
            try:
                with write_transaction():
                    text = canned.render(template.body, contact, owner, conv)
                    message = outbound.send(
                        conv, kind=kind, text=text, author=owner, automatic=True, at=now, template=template,
                        subject=template.name if kind == "email" else "",
                        meta={"automation": "lead_reengage", "followup": followup.id},
                    )  # fmt: skip
            except (outbound.SendError, canned.TemplateProblem) as exc:
                reason, reason_params = exc.msgid, exc.params
    if message is not None:
        _notify(owner, "reengage", conv, **params, sent=True, message_id=message.id, template=template.name)
        _record(followup, {"outcome": "sent", "message_id": message.id}, done=now)
        outbound.queue_delivery(message.id)
        return
    if template is not None:
        params.update(template=template.name, shortcut=template.shortcut)
    if reason:  # why it was not sent automatically
        params["reason"], params["reason_params"] = reason, reason_params
    _notify(owner, "reengage", conv, **params, sent=False)
    _record(
        followup,
        {"outcome": "task", **({"because": reason % reason_params if reason_params else reason} if reason else {})},
    )


# --- the two moments automation reacts to ----------------------------------------------------


def on_customer_reply(message: Message) -> None:
    """A lead replied: stop re-engagement; a dormant lead becomes active again."""
    reminders.cancel_pending(message.conversation_id, ("reengage",))
    contact = (
        Contact.select(Contact.id, Contact.name, Contact.company, Contact.owner, Contact.lead_status,
                       Contact.dormant_since)
        .join(Conversation, on=(Conversation.contact == Contact.id))
        .where(Conversation.id == message.conversation_id)
        .first()
    )  # fmt: skip
    if contact is not None and (contact.lead_status == "dormant" or contact.dormant_since is not None):
        reactivate(contact, Conversation.get_by_id(message.conversation_id), message)


def on_answered(message: Message) -> None:
    """A human answered the lead: the unanswered-lead reminders and a pending
    acknowledgement (now pointless) stop."""
    reminders.cancel_pending(message.conversation_id, ("lead_unanswered", "lead_ack"))


def status_before_dormancy(contact: Contact) -> str:
    """The active status the lead had before it went dormant ("interested" if unknown)."""
    events = (
        AuditEvent.select(AuditEvent.before, AuditEvent.after)
        .where((AuditEvent.object_type == "contact") & (AuditEvent.object_id == contact.id))
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    for event in events:
        if (event.after or {}).get("lead_status") == "dormant":
            previous = (event.before or {}).get("lead_status")
            return previous if previous in ACTIVE_STATUSES else "interested"
    return "interested"


def reactivate(contact: Contact, conv: Conversation, message: Message) -> None:
    """A dormant lead wrote: back to an active status, and its owner hears at once."""
    now = utcnow()
    status = status_before_dormancy(contact) if contact.lead_status == "dormant" else contact.lead_status
    before = {
        "lead_status": contact.lead_status,
        "dormant_since": contact.dormant_since.isoformat() if contact.dormant_since else None,
    }
    with write_transaction():
        Contact.update(lead_status=status, dormant_since=None, updated_at=now).where(Contact.id == contact.id).execute()
        audit.record(
            None, "lead_reactivated", contact, conversation=conv, before=before,
            after={"lead_status": status, "message": message.id},
        )  # fmt: skip
        _notify(
            owner_of(conv, contact), "dormant_replied", conv, name=contact.display_name,
            channel=message.channel_kind, dormant_since=before["dormant_since"],
        )  # fmt: skip
    contact.lead_status, contact.dormant_since = status, None
