"""A lead's lifecycle, the same whatever door it came in by: the lead form, WhatsApp, SMS,
email or any channel added later.

**Who is a lead.** A new contact whose first message is a customer message (not an
auto-reply, a bounce, a carrier keyword such as STOP, or mail older than ``HISTORY``, as
in a mailbox import) on a channel whose setting "new contacts here are leads" is on (the
default; ``Channel.settings["leads"]``), or a lead form submission.

**The steps** (``start``), in the transaction that stores the message, each switched by
a team setting (``inbox.team``):

- an owner by routing (``routing.assign``) and a "new_lead" notification; with nobody
  to assign, the managers get it, marked unassigned;
- the acknowledgement: the channel kind's template (``lead_ack_templates``, else
  ``lead_ack_template``), after ``lead_ack_delay_minutes``. It respects quiet hours (it
  waits until they end), opt-outs and the one-automatic-touch-a-day rule, all in the
  contact's local time (``inbox.localtime``). On WhatsApp the customer who wrote first
  has opened the window and opted in. When it cannot go (no template for the channel,
  opted out, template for another channel), the reason is kept in the audit trail and
  the managers get a "lead_problem" task;
- the waiting-lead reminders ("lead_unanswered"): while the lead waits for a human
  answer its owner is reminded at ``lead_reminder_minutes`` (1 h, 24 h) after it started
  waiting, then every business morning, until it is answered, closed or lost; a snoozed
  lead is reminded when its snooze ends. Past the SLA escalation the managers are told
  too. Any customer message that leaves a lead waiting again starts the reminders again.

A human answer cancels the reminders and a pending acknowledgement. A dormant or lost lead
who writes goes back to its status before dormancy ("interested" when that was "new" or
unknown) and its owner is alerted at once ("dormant_replied"). A customer who bought (won)
and writes again is reminded like a lead while waiting for an answer. STOP and the other
opt-out keywords record the opt-out (``consent``) and cancel the automatic touches still
planned; then the owner decides, or the lead is lost (``on_opt_out``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from .. import audit, canned, channels, consent, notifications, outbound, reminders, team
from ..db import utcnow, write_transaction
from ..i18n import N_
from ..localtime import Clock, automatic_touches_on_local_day
from ..models import AuditEvent, Channel, Contact, Conversation, FollowUp, Message, Template, User
from . import routing

log = logging.getLogger(__name__)

HISTORY = dt.timedelta(days=2)  # older mail is an import of history, not a lead waiting now
ACTIVE_STATUSES = ("contacted", "interested")  # what a dormant lead can go back to
WAITING_STATUSES = ("new", "contacted", "interested", "dormant")  # leads still in play
CHASED_STATUSES = (*WAITING_STATUSES, "won")  # whose wait for our answer is reminded
REVIVED_STATUSES = ("dormant", "lost")  # a lead in one of these who writes is active again
AUTOMATIC_TOUCHES = ("lead_ack", "cadence", "reengage", "reactivation")
LEAD_FORM_KIND = "webform"
ALREADY_TOUCHED = (
    N_("The lead already got an automatic message in the last 24 hours."),
    N_("The lead already got an automatic message today."),
)


# --- who is a lead ------------------------------------------------------------------------


def takes_leads(channel: Channel) -> bool:
    """Whether new contacts writing on ``channel`` are leads (on unless switched off)."""
    return channel.kind == LEAD_FORM_KIND or bool((channel.settings or {}).get("leads", True))


def waits(message: Message) -> bool:
    """Whether ``message`` leaves the customer waiting for us: not an auto-reply, a bounce
    or a carrier keyword (STOP, START)."""
    return not message.auto_reply and not consent.is_keyword(message.channel_kind, message.text)


def is_new_lead(message: Message, channel: Channel, now: dt.datetime) -> bool:
    """``message`` is the first of a contact it just created: is that contact a new lead?"""
    return takes_leads(channel) and waits(message) and now - message.sent_at <= HISTORY


# --- the steps ------------------------------------------------------------------------------


@dataclass
class Started:
    owner: User | None
    ack: dict = field(default_factory=dict)  # what happened to the acknowledgement


def start(
    conv: Conversation, contact: Contact, message: Message, *, kind: str, source: str = "",
    now: dt.datetime | None = None,
) -> Started:  # fmt: skip
    """Run a new lead's steps (the caller holds the write transaction and queues the
    acknowledgement's delivery after the commit)."""
    now = now or utcnow()
    owner = routing.assign(conv, contact, channel=kind, source=source or contact.source, text=message.text)
    params = {"name": contact.display_name or message.address, "source": source, "channel": kind}
    if owner is not None:
        notifications.notify(owner, "new_lead", conv.id, **params)
    else:
        notifications.notify_managers("new_lead", conv.id, **params, unassigned=True)
    if conv.waiting_since is not None:
        schedule_waiting(conv, owner, conv.waiting_since)
    ack = start_acknowledgement(conv, contact, kind, owner, message, now)
    return Started(owner, ack)


def record_arrival(conv: Conversation, contact: Contact, started: Started, *, source: str, kind: str) -> None:
    """The timeline line of a lead who wrote first on a channel."""
    audit.record(
        None, "lead_captured", contact, conversation=conv,
        after={"source": source, "channel": kind, "owner": started.owner.id if started.owner else None},
    )  # fmt: skip


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


# --- the acknowledgement ----------------------------------------------------------------------


def ack_template(kind: str, values: dict | None = None) -> tuple[str, Template | None]:
    """The acknowledgement's shortcut for a channel kind, and its template if it exists."""
    values = values or team.snapshot()
    shortcut = (values.get("lead_ack_templates") or {}).get(kind) or values.get("lead_ack_template") or ""
    shortcut = shortcut.strip().lstrip("/").lower()
    return shortcut, Template.get_or_none(Template.shortcut == shortcut) if shortcut else None


def start_acknowledgement(
    conv: Conversation, contact: Contact, kind: str, owner: User | None, lead_message: Message, now: dt.datetime
) -> dict:
    values = team.snapshot()
    if not values.get("lead_ack_template") and not values.get("lead_ack_templates"):
        return {"status": "off"}
    shortcut, template = ack_template(kind, values)
    due = now + dt.timedelta(minutes=int(values.get("lead_ack_delay_minutes") or 0))
    clock = Clock.for_contact(contact, values)
    due = clock.end_of_quiet(due)
    if due > now:
        followup = reminders.schedule(
            conv, due, kind="lead_ack", owner=owner, template=template,
            meta={"channel": kind, "shortcut": shortcut, "lead_message": lead_message.id},
        )  # fmt: skip
        return {"status": "scheduled", "due_at": due.isoformat(), "followup_id": followup.id}
    return acknowledge(conv, kind, template, owner, now)


def acknowledge(conv: Conversation, kind: str, template: Template | None, owner: User | None, now) -> dict:
    """Send the acknowledgement now, or say why not. The caller queues the delivery."""
    contact = Contact.get_by_id(conv.contact_id)  # fresh: consent may have changed
    params: dict = {}
    if template is None and ack_template(kind)[0]:  # set, but deleted or renamed since
        reason = N_("The acknowledgement template does not exist.")
    elif template is None:
        reason = N_("No acknowledgement template is set for this channel.")
    elif template.channels and kind not in template.channels.split():
        reason = N_("The acknowledgement template is not meant for this channel.")
    else:
        reason = consent.blocked_reason(contact, kind)
    if reason is None and _recent_automatic(conv.id, now):
        reason = ALREADY_TOUCHED[0]
    if reason is None and automatic_touches_on_local_day(conv.id, now, Clock.for_contact(contact)):
        reason = ALREADY_TOUCHED[1]
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
    if reason not in ALREADY_TOUCHED:  # someone has to write to this lead by hand
        notifications.notify_managers(
            "lead_problem", conv.id, name=contact.display_name, reason=reason, reason_params=params
        )
    return skipped


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


def fire_ack(followup: FollowUp, now: dt.datetime) -> None:
    """The delayed acknowledgement (or the one that waited for the quiet hours to end)."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    if conv is None:
        return
    meta = followup.meta or {}
    template = Template.get_or_none(Template.id == followup.template_id) if followup.template_id else None
    template = template or ack_template(meta.get("channel") or "email")[1]
    with write_transaction():
        ack = acknowledge(conv, meta.get("channel") or "email", template, routing.owner_of(conv), now)
        _record(followup, {"outcome": ack["status"], **ack}, done=now)
        lead_message = Message.get_or_none(Message.id == meta.get("lead_message"))
        if lead_message is not None and (lead_message.meta or {}).get("lead") is not None:
            meta = {**lead_message.meta, "lead": {**lead_message.meta["lead"], "ack": ack}}
            Message.update(meta=meta).where(Message.id == lead_message.id).execute()
    if ack["status"] == "sent":
        outbound.queue_delivery(ack["message_id"])


# --- a lead waiting for our answer is never forgotten ----------------------------------------


def schedule_waiting(conv: Conversation, owner: User | int | None, since: dt.datetime) -> FollowUp | None:
    """The first waiting-lead reminder, unless one is pending already (given ``owner`` if it
    has none: a new contact's first message plans it before the lead gets its owner)."""
    if _pending(conv.id, "lead_unanswered"):
        if owner is not None:
            FollowUp.update(owner=owner).where(
                (FollowUp.conversation == conv.id) & (FollowUp.kind == "lead_unanswered") & FollowUp.owner.is_null()
                & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
            ).execute()  # fmt: skip
        return None
    minutes = [int(m) for m in team.get("lead_reminder_minutes") or []]
    due = since + dt.timedelta(minutes=minutes[0]) if minutes else Clock.for_contact(conv.contact).next_morning(since)
    return reminders.schedule(
        conv, max(due, since), kind="lead_unanswered", owner=owner, step=1,
        meta={"minutes": minutes[0] if minutes else None, "since": since.isoformat()},
    )  # fmt: skip


def _due(step: int, since: dt.datetime, now: dt.datetime, clock: Clock) -> tuple[dt.datetime, dict]:
    """When reminder number ``step`` (from 1) of a wait that began at ``since`` is due:
    the step-th of ``lead_reminder_minutes`` after it began (or the next of them still
    ahead), or, when those have passed, the next business morning (team time)."""
    minutes = [int(m) for m in team.get("lead_reminder_minutes") or []]
    for later in minutes[max(step, 1) - 1 :]:  # a step a snooze held back past is skipped
        due = since + dt.timedelta(minutes=later)
        if due > now:
            return due, {"minutes": later}
    return clock.next_business_morning(now), {"business_day": True}


def fire_unanswered(followup: FollowUp, now: dt.datetime) -> None:
    """Remind the owner (and past the escalation the managers) of a lead still waiting for a
    human answer, and plan the next reminder."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    contact = Contact.get_by_id(conv.contact_id) if conv else None
    if conv is None or conv.waiting_since is None or conv.state == "closed" or contact.merged_into_id or (
        contact.lead_status not in CHASED_STATUSES
    ):  # fmt: skip
        _record(followup, {"outcome": "stopped"}, done=now)
        return
    if conv.state == "snoozed" and conv.snoozed_until is not None and conv.snoozed_until > now:
        # (A snooze that has ended is over, whether or not the wake-up job has run yet.)
        _record(followup, {"outcome": "moved", "because": "snoozed"}, done=now)
        reminders.schedule(conv, conv.snoozed_until, kind="lead_unanswered", owner=followup.owner_id,
                           step=followup.step, meta={**(followup.meta or {}), "moved_from": followup.id})  # fmt: skip
        return
    owner = routing.owner_of(conv, contact) or routing.active_user(followup.owner_id)
    params = {
        "name": contact.display_name, "minutes": (followup.meta or {}).get("minutes"),
        "waiting_since": conv.waiting_since.isoformat(),
    }  # fmt: skip
    notifications.notify_owner(owner, "lead_unanswered", conv.id, **params)
    if owner is not None and conv.escalated_at is not None:
        notifications.notify_managers("lead_unanswered", conv.id, **params, escalated=True)
    _record(followup, {"outcome": "reminded"}, done=now)
    due, meta = _due(followup.step + 1, conv.waiting_since, now, Clock.for_contact(contact))
    reminders.schedule(
        conv, due, kind="lead_unanswered", owner=followup.owner_id, step=followup.step + 1,
        meta={**meta, "since": conv.waiting_since.isoformat()},
    )  # fmt: skip


def _record(followup: FollowUp, values: dict, done: dt.datetime | None = None) -> None:
    meta = {**(followup.meta or {}), **values}
    followup.meta = meta
    update = {"meta": meta}
    if done is not None:
        update["done_at"] = done
    FollowUp.update(**update).where(FollowUp.id == followup.id).execute()


def safely(fn):
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


# --- the moments that move a lead ---------------------------------------------------------------


def on_customer_message(message: Message) -> None:
    """A lead wrote: a dormant or lost lead becomes active again; a lead (or a customer who
    bought) left waiting is reminded."""
    conv = Conversation.select(Conversation, Contact).join(Contact).where(Conversation.id == message.conversation_id)
    conv = conv.get()
    contact = conv.contact
    if contact.lead_status in REVIVED_STATUSES or contact.dormant_since is not None:
        reactivate(contact, conv, message)
    if (
        conv.waiting_since is not None and contact.lead_status in CHASED_STATUSES and not contact.merged_into_id
        and utcnow() - message.sent_at <= HISTORY and takes_leads(Channel.get_by_id(message.channel_id))
    ):  # fmt: skip
        schedule_waiting(conv, routing.owner_of(conv, contact), conv.waiting_since)
        _catch_up(conv, utcnow())


def _catch_up(conv: Conversation, now: dt.datetime) -> None:
    """A reminder held back by a snooze comes forward to its place in the schedule once the
    conversation is awake again (the customer who writes during a snooze wakes it)."""
    if conv.state == "snoozed" and conv.snoozed_until is not None and conv.snoozed_until > now:
        return
    clock = Clock.for_contact(conv.contact)
    pending = FollowUp.select().where(
        (FollowUp.conversation == conv.id) & (FollowUp.kind == "lead_unanswered")
        & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.due_at > now)
    )  # fmt: skip
    for followup in pending:
        due, meta = _due(followup.step, conv.waiting_since, now, clock)
        if due < followup.due_at:
            FollowUp.update(due_at=due, meta={**(followup.meta or {}), **meta}).where(
                FollowUp.id == followup.id
            ).execute()


def on_answered(message: Message) -> None:
    """A human answered: the waiting-lead reminders and a pending acknowledgement stop. Each
    keeps which reply stopped it, so that a reply that fails to send brings it back
    (``outbound.mark_failed``)."""
    now = utcnow()
    stopped = FollowUp.select(FollowUp.id, FollowUp.meta).where(
        (FollowUp.conversation == message.conversation_id) & FollowUp.kind.in_(["lead_unanswered", "lead_ack"])
        & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
    )  # fmt: skip
    for followup in stopped:
        FollowUp.update(cancelled_at=now, meta={**(followup.meta or {}), "cancelled_by": message.id}).where(
            (FollowUp.id == followup.id) & FollowUp.cancelled_at.is_null()
        ).execute()


def on_opt_out(message: Message) -> None:
    """The customer texted STOP (or another opt-out word): what was planned to go out
    automatically stops; the owner's own tasks stay. Someone has to decide what comes next:
    a lead still reachable on another channel becomes its owner's task (told now, and
    again from the next business morning while nothing moved, ``fire_opted_out``); a lead
    who opted out of every channel it could be written on is closed as lost, and the
    managers are told."""
    reminders.cancel_pending(message.conversation_id, AUTOMATIC_TOUCHES)
    conv = Conversation.get_by_id(message.conversation_id)
    contact = Contact.get_by_id(conv.contact_id)
    if contact.lead_status not in WAITING_STATUSES or contact.merged_into_id or conv.state == "closed":
        return
    if not Message.select().where((Message.conversation == conv.id) & (Message.id != message.id)).exists():
        return  # a stranger's first word is STOP: no lead to decide about
    owner = routing.owner_of(conv, contact)
    params = {"name": contact.display_name, "channel": message.channel_kind}
    others = [
        kind for kind in outbound.reachable_kinds(conv)
        if consent.blocked_reason(contact, kind) is None and channels.channel_for(kind) is not None
    ]  # fmt: skip
    if not others:
        close_as_lost(contact, conv, utcnow(), action="lead_opted_out_lost")
        notifications.notify_managers("lead_opted_out", conv.id, **params, closed=True)
        return
    notifications.notify_owner(owner, "lead_opted_out", conv.id, **params, others=others)
    due = Clock.for_contact(contact).next_business_morning(utcnow())
    reminders.schedule(
        conv, due, kind="opted_out", owner=owner, meta={"channel": message.channel_kind, "message": message.id}
    )


def fire_opted_out(followup: FollowUp, now: dt.datetime) -> None:
    """The morning after an opt-out: the owner is told again, and again each business
    morning (then each week after the third time), until the lead moves on: we wrote
    since, it was won or lost, closed, or given a dated next action."""
    conv = Conversation.get_or_none(Conversation.id == followup.conversation_id)
    contact = Contact.get_by_id(conv.contact_id) if conv else None
    wrote_since = conv is not None and (
        Message.select()
        .where((Message.conversation == conv.id) & (Message.direction == "out") & (Message.created_at > followup.created_at)
               & (Message.status != "failed"))
        .exists()
    )  # fmt: skip
    if (
        conv is None or conv.state == "closed" or contact.lead_status not in WAITING_STATUSES or wrote_since
        or contact.next_action_at is not None
    ):  # fmt: skip
        _record(followup, {"outcome": "stopped"}, done=now)
        return
    meta = followup.meta or {}
    notifications.notify_owner(
        routing.owner_of(conv, contact) or routing.active_user(followup.owner_id), "lead_opted_out", conv.id,
        name=contact.display_name, channel=meta.get("channel") or "", again=True,
    )  # fmt: skip
    _record(followup, {"outcome": "reminded"}, done=now)
    wait = dt.timedelta(days=6 if followup.step >= 2 else 0)
    reminders.schedule(
        conv, Clock.for_contact(contact).next_business_morning(now + wait), kind="opted_out",
        owner=followup.owner_id, step=followup.step + 1, meta={k: meta[k] for k in ("channel", "message") if k in meta},
    )  # fmt: skip


def close_as_lost(contact: Contact, conv: Conversation, now: dt.datetime, action: str = "lead_closed_lost") -> None:
    """The lead is lost and its conversation closed, with ``action`` in the audit trail:
    "lead_closed_lost" when reactivation ended without an answer, "lead_opted_out_lost"
    when the lead opted out of every channel."""
    with write_transaction():
        Contact.update(lead_status="lost", dormant_since=None, updated_at=now).where(Contact.id == contact.id).execute()
        audit.record(
            None, action, contact, conversation=conv,
            before={"lead_status": contact.lead_status}, after={"lead_status": "lost"},
        )  # fmt: skip
        if conv.state != "closed":
            Conversation.update(state="closed", snoozed_until=None, updated_at=now).where(
                Conversation.id == conv.id
            ).execute()
        reminders.cancel_pending(conv.id, reminders.AUTOMATIC_KINDS)
    contact.lead_status = "lost"


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
    """A dormant or lost lead wrote: back to an active status, and its owner hears at once."""
    now = utcnow()
    revived = contact.lead_status in REVIVED_STATUSES
    status = status_before_dormancy(contact) if revived else contact.lead_status
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
        notifications.notify_owner(
            routing.owner_of(conv, contact), "dormant_replied", conv.id, name=contact.display_name,
            channel=message.channel_kind, dormant_since=before["dormant_since"], was=before["lead_status"],
        )  # fmt: skip
    contact.lead_status, contact.dormant_since = status, None
