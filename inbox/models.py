"""The domain model: users, contacts and their identities, one conversation per contact,
messages on every channel, canned templates, reminders and the audit trail.

Timestamps are naive UTC (see ``db.utcnow``). Columns whose meaning is not obvious carry
a comment; the exact timer definitions are in ARCHITECTURE.md.
"""

from __future__ import annotations

import json

import peewee
from peewee import (
    BlobField,
    BooleanField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from .db import BaseModel, utcnow
from .text import clean

ROLES = ("agent", "manager", "admin")
LEAD_STATUSES = ("new", "contacted", "interested", "won", "lost", "dormant")
CONVERSATION_STATES = ("open", "snoozed", "closed")
CHANNEL_KINDS = ("email", "sms", "whatsapp")
DIRECTIONS = ("in", "out", "note")
# Outbound life cycle; inbound messages are "received".
MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed", "received")


class CharField(peewee.CharField):
    """Writes only what the database can hold (``inbox.text.clean``), on both backends."""

    def db_value(self, value):
        value = super().db_value(value)
        return clean(value) if isinstance(value, str) else value


class TextField(peewee.TextField):
    def db_value(self, value):
        value = super().db_value(value)
        return clean(value) if isinstance(value, str) else value


class JSONField(TextField):
    def db_value(self, value):
        return None if value is None else clean(json.dumps(value, ensure_ascii=False, default=str))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class User(BaseModel):
    email = CharField(unique=True)
    name = CharField()
    role = CharField(default="agent", choices=[(r, r) for r in ROLES])
    active = BooleanField(default=True)
    password_hash = CharField()
    totp_secret = CharField(null=True)
    locale = CharField(default="ko")
    timezone = CharField(default="Asia/Seoul")
    # Email copies of notifications, and a daily summary at this local hour (None = off).
    notify_by_email = BooleanField(default=False)
    summary_hour = IntegerField(null=True)
    summary_sent_on = DateField(null=True)  # local date of the last daily summary
    # Bumped on password change/deactivation so old sessions stop working.
    session_version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class LoginAttempt(BaseModel):
    """Failed logins, counted per address and per IP for the login rate limit."""

    key = CharField(index=True)
    at = DateTimeField(default=utcnow, index=True)


class Channel(BaseModel):
    """A connected provider account: an email mailbox or a Twilio account (SMS + WhatsApp)."""

    kind = CharField()  # adapter key: "email", "twilio"
    name = CharField()
    enabled = BooleanField(default=True)
    settings = JSONField(default=dict)  # secrets inside are encrypted (inbox.crypto)
    cursor = JSONField(default=dict)  # sync position, owned by the adapter
    last_poll_at = DateTimeField(null=True)
    last_error = TextField(null=True)
    error_count = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class Contact(BaseModel):
    name = CharField(default="")
    company = CharField(default="")
    lead_status = CharField(default="new", index=True)
    owner = ForeignKeyField(User, null=True, backref="owned_contacts", on_delete="SET NULL")
    source = CharField(default="")
    campaign = CharField(default="")
    ad_set = CharField(default="")
    creative = CharField(default="")
    utm = JSONField(default=dict)
    timezone = CharField(null=True)
    next_action = CharField(default="")
    next_action_at = DateTimeField(null=True)
    notes = TextField(default="")
    whatsapp_opt_in_at = DateTimeField(null=True)
    sms_opted_out_at = DateTimeField(null=True)
    whatsapp_opted_out_at = DateTimeField(null=True)
    email_unsubscribed_at = DateTimeField(null=True)
    # Follow-up cadence for this contact (days after our last message), overriding the
    # team's; e.g. [14, 21] when they said they are busy, [2, 4] when engaged.
    cadence = JSONField(null=True)
    dormant_since = DateTimeField(null=True)
    # Set on the contact that was merged away; its rows moved to this one.
    merged_into = ForeignKeyField("self", null=True, backref="merged_from", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        # The leads of a period (statistics), with what the funnel reads.
        indexes = ((("merged_into", "created_at", "source", "campaign", "ad_set", "lead_status", "owner"), False),)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""

    @property
    def display_name(self) -> str:
        return self.name or self.company or ""


class ContactTag(BaseModel):
    contact = ForeignKeyField(Contact, backref="tag_rows", on_delete="CASCADE")
    tag = CharField(index=True)

    class Meta:
        indexes = ((("contact", "tag"), True),)


class Identity(BaseModel):
    """How a contact is reached: a lower-cased email address or an E.164 phone number.

    One phone identity serves both SMS and WhatsApp."""

    contact = ForeignKeyField(Contact, backref="identities", on_delete="CASCADE")
    kind = CharField()  # "email" | "phone"
    value = CharField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "value"), True),)


class Conversation(BaseModel):
    """The one thread of a contact. Timer columns are kept current by ingest() and send()."""

    contact = ForeignKeyField(Contact, unique=True, backref="conversations", on_delete="CASCADE")
    state = CharField(default="open")
    snoozed_until = DateTimeField(null=True)
    assignee = ForeignKeyField(User, null=True, backref="assigned", on_delete="SET NULL")
    last_activity_at = DateTimeField(default=utcnow)
    opened_at = DateTimeField(default=utcnow)
    # Oldest inbound customer message not yet followed by a human reply; None if nobody waits.
    waiting_since = DateTimeField(null=True)
    last_inbound_at = DateTimeField(null=True)
    last_outbound_at = DateTimeField(null=True)  # last human reply
    # Human reply that first answered since opened_at (a new lead or a reopened thread).
    first_response_at = DateTimeField(null=True)
    last_inbound_channel = CharField(null=True)
    channels = CharField(default="")  # space-separated kinds seen, for row icons
    preview = CharField(default="")
    preview_direction = CharField(default="")
    woke_at = DateTimeField(null=True)  # set when a snooze ended, shown as a marker
    # SLA notifications of the current waiting period (cleared when a human replies).
    breach_notified_at = DateTimeField(null=True)
    escalated_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)
    # What the lead funnel reads, over the whole thread (never reset; failed replies do
    # not count): kept by inbox.stats.facts whenever a message is written.
    first_message_at = DateTimeField(null=True)
    first_human_reply_at = DateTimeField(null=True)
    first_outbound_at = DateTimeField(null=True)  # ours, human or automatic
    first_customer_reply_at = DateTimeField(null=True)  # the customer's first message after it
    touches_before_reply = IntegerField(default=0)  # ours before that reply

    class Meta:
        indexes = (
            (("state", "assignee", "last_activity_at"), False),
            (("state", "last_activity_at"), False),
            (("state", "waiting_since"), False),
            (("state", "snoozed_until"), False),
            (("updated_at",), False),
            # The inbox live updates: rows of a folder changed since the last poll.
            (("state", "updated_at"), False),
            # Right now (statistics): who waits, with what the breach and per-agent counts read.
            (("state", "waiting_since", "assignee", "contact", "first_response_at", "last_inbound_channel"), False),
        )


class Message(BaseModel):
    """One inbound, outbound or note entry of a conversation's timeline.

    Ids grow with arrival time, so ``id`` order is time order within a conversation and
    the full-text index can return newest matches by rowid."""

    conversation = ForeignKeyField(Conversation, backref="messages", on_delete="CASCADE")
    channel = ForeignKeyField(Channel, null=True, backref="messages", on_delete="SET NULL")
    channel_kind = CharField(null=True)  # email | sms | whatsapp; None for notes
    direction = CharField()  # in | out | note
    # Automatic outbound (acknowledgement, cadence) does not stop the waiting clock.
    automatic = BooleanField(default=False)
    # Inbound auto-replies (out-of-office, bounces) do not start it.
    auto_reply = BooleanField(default=False)
    provider_id = CharField(null=True)
    author = ForeignKeyField(User, null=True, backref="messages", on_delete="SET NULL")
    address = CharField(default="")  # the customer's address this message came from / went to
    subject = CharField(default="")
    text = TextField(default="")
    html = TextField(null=True)  # sanitised at ingest; never raw customer HTML
    status = CharField(default="received")
    error = TextField(null=True)
    sent_at = DateTimeField(default=utcnow)  # provider time for inbound, creation for outbound
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    response_seconds = IntegerField(null=True)
    first_response = BooleanField(default=False)
    # For a human reply that answered someone waiting: the same wait in business hours,
    # the SLA target that applied and whether it was met, fixed when the reply was sent.
    business_seconds = IntegerField(null=True)
    sla_target_seconds = IntegerField(null=True)
    sla_met = BooleanField(null=True)
    # For an outbound message, kept by inbox.stats.facts: our previous message on the same
    # channel (not failed), and the customer's first message there after it (not an
    # auto-reply).
    previous_outbound_at = DateTimeField(null=True)
    customer_reply_at = DateTimeField(null=True)
    meta = JSONField(default=dict)  # email headers (message-id, in-reply-to, cc), provider extras
    parse_error = TextField(null=True)

    class Meta:
        indexes = (
            (("conversation", "sent_at"), False),
            (("conversation", "updated_at"), False),
            (("channel", "provider_id"), True),
            (("status", "created_at"), False),
            # The dashboard's period queries, covering what they read (plus a partial
            # index on human replies with their figures: migration 0011).
            (("direction", "sent_at", "channel_kind", "auto_reply", "automatic", "author", "status", "channel",
              "conversation", "previous_outbound_at", "customer_reply_at"), False),
            # A conversation's first messages, its first reply after a moment, touches.
            (("conversation", "direction", "sent_at", "auto_reply", "channel_kind", "status", "automatic", "author"),
             False),
        )  # fmt: skip


class MessageSource(BaseModel):
    """The raw source (RFC 822 bytes, webhook payload) of a message, kept apart so that
    timeline queries never read it."""

    message = ForeignKeyField(Message, primary_key=True, backref="source_row", on_delete="CASCADE")
    raw = BlobField()


class Attachment(BaseModel):
    message = ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = CharField(default="attachment")
    content_type = CharField(default="application/octet-stream")
    size = IntegerField(default=0)
    content_id = CharField(null=True)  # for inline cid: images
    data = BlobField(null=True)  # None when the file was over the size limit
    note = CharField(null=True)  # e.g. "too large: 40 MB"


class Template(BaseModel):
    """A canned reply. ``body`` is a sandboxed Jinja template."""

    name = CharField()
    shortcut = CharField(unique=True)
    body = TextField()
    channels = CharField(default="")  # space-separated kinds; empty = all
    content_sid = CharField(null=True)  # approved WhatsApp template (Twilio Content SID)
    # For an approved template: its numbered variables, each a sandboxed expression, e.g.
    # {"1": "{{ contact.first_name }}", "2": "{{ last_topic }}"}.
    content_variables = JSONField(default=dict)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class FollowUp(BaseModel):
    """A reminder or follow-up due at a time. The database is the source of truth; a
    periodic task fires what is due, once (``fired_at`` is set by a conditional update).

    kind: manual (remind me), lead_unanswered, reengage, cadence, reactivation."""

    conversation = ForeignKeyField(Conversation, backref="followups", on_delete="CASCADE")
    owner = ForeignKeyField(User, null=True, on_delete="SET NULL")
    kind = CharField(default="manual")
    due_at = DateTimeField(index=True)
    note = CharField(default="")
    step = IntegerField(default=0)  # cadence / sequence step, 1-based
    template = ForeignKeyField(Template, null=True, on_delete="SET NULL")  # suggested or auto-sent
    fired_at = DateTimeField(null=True)
    done_at = DateTimeField(null=True)
    cancelled_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    meta = JSONField(default=dict)

    class Meta:
        # The sweep asks "not fired, due by now": equality on NULL then a range on due_at,
        # so its cost does not depend on how many reminders lie in the future.
        indexes = (
            (("fired_at", "due_at"), False),
            (("owner", "fired_at", "due_at"), False),
            (("conversation", "kind"), False),
            # Statistics: follow-ups due in a period, pending ones by due time, reactivation touches.
            (("due_at", "cancelled_at", "done_at", "owner", "meta"), False),
            (("done_at", "cancelled_at", "due_at"), False),
            (("kind", "fired_at"), False),
        )


class Notification(BaseModel):
    """An in-app notification (assignment, mention, breach, due reminder, dormant reply)."""

    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    kind = CharField()
    conversation = ForeignKeyField(Conversation, null=True, on_delete="CASCADE")
    params = JSONField(default=dict)
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)
    emailed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at", "id"), False),)


class TeamSetting(BaseModel):
    """Team-wide settings edited in the app (SLA policies, business hours, cadence,
    lead automation), as JSON values with defaults in code (``inbox.team``)."""

    key = CharField(unique=True)
    value = JSONField(null=True)
    updated_at = DateTimeField(default=utcnow)


class LeadSource(BaseModel):
    """A web form or ad platform allowed to post leads, with its bearer token (hashed)."""

    name = CharField(unique=True)
    token_hash = CharField(unique=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)


class AuditEvent(BaseModel):
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()
    object_type = CharField()
    object_id = IntegerField()
    conversation = ForeignKeyField(Conversation, null=True, backref="events", on_delete="CASCADE")
    before = JSONField(null=True)
    after = JSONField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("conversation", "created_at"), False),
            (("object_type", "object_id"), False),
        )


class Intake(BaseModel):
    """A provider webhook as it was accepted, kept until what it carries is stored
    (``inbox.intake``). ``payload`` is the provider's form, exactly as received."""

    channel = ForeignKeyField(Channel, null=True, on_delete="SET NULL")
    kind = CharField()  # what the payload is: "inbound" (a customer message) or "status"
    payload = JSONField()
    received_at = DateTimeField(default=utcnow)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    done_at = DateTimeField(null=True)
    failed_at = DateTimeField(null=True)  # set after the last attempt: shown to admins
    last_error = TextField(default="")

    class Meta:
        indexes = ((("done_at", "failed_at", "next_attempt_at"), False),)


ALL_MODELS = [
    User,
    LoginAttempt,
    Channel,
    Contact,
    ContactTag,
    Identity,
    Conversation,
    Message,
    MessageSource,
    Attachment,
    Template,
    FollowUp,
    Notification,
    TeamSetting,
    LeadSource,
    AuditEvent,
    Intake,
]


# flask-login reads these; the id carries the session version so that a password change
# or a deactivation ends every existing session of that user.
User.is_authenticated = property(lambda self: True)
User.is_anonymous = property(lambda self: False)
User.is_active = property(lambda self: self.active)
User.get_id = lambda self: f"{self.id}:{self.session_version}"
