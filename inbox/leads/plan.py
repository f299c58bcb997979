"""The follow-up plan of a conversation awaiting the customer, and the reactivation of
the leads it leaves dormant.

One plan per conversation. It starts from our last human reply that was not failed
(``on_our_reply``) and every step is due a fixed number of days after that reply:
``days`` is the contact's own cadence or else the team's ``cadence_days`` (default 1, 3,
7, 14). For a lead nobody has qualified yet (status "new"), the team's re-engagement
(``lead_reengage_days``, default day 3) is one step of the same plan: it takes the place
of a cadence step on the same day, or is put between two, so the two never compete for
the day's one automatic touch. Each step is a FollowUp ("cadence" or "reengage") that the
reminders sweep fires; only the next one is pending at any time. A fired step does one of
two things:

- it gives the owner a task: notification "cadence_task" (or "reengage") with the params
  name, step and template;
- with auto-send on (``cadence_auto_send``, ``lead_reengage_auto_send``) and a template for
  the step, it sends that template as an automatic message, which does not stop the
  waiting clock.

A guard (quiet hours, one automatic touch a day) moves only the step it stops: the next
step is still due its number of days after the reply. The last step makes the lead
dormant (lead status "dormant", ``dormant_since``, an audit event). Reactivation touches
(kind "reactivation", templates ``reactivation_templates``) then follow at
``reactivation_days`` after dormancy, with the same task-or-send rule. When the last of
them goes unanswered, the lead is closed as lost after one more gap ("close_lost"), with
an audit line, so that a dormant lead never sits open with nothing planned.

A customer message stops the plan at once; a new human reply starts it again from step 1;
a reply that fails to send stops the plan it started (the customer got nothing:
``outbound.mark_failed`` cancels its pending step, and a step of it that fires anyway
stops), and a retry starts it again. Closing the conversation stops it. Won and lost
leads are not chased.

Guards for an automatic message, checked when the step fires (consent, the WhatsApp
window and the day's other messages change in the meantime), with the local time of
``inbox.localtime``:

- Never in quiet hours (team ``quiet_hours``, default 21:00-08:00, in the contact's time
  zone, else the team's). A step due then moves to the end of the quiet hours.
- At most one automatic message per contact per local day, whichever automation sent it;
  failed sends do not count. A step that would be the second moves to the next morning.
- Never to a contact who opted out, unsubscribed or, on WhatsApp, gave no opt-in: the
  owner gets the task instead, with the reason.
- On WhatsApp outside the 24-hour window only an approved template (Content SID) may go;
  otherwise the owner gets the task.

A moved step becomes a new FollowUp of the same step (``meta.moved_from``,
``meta.moved_because``). Every fired step records what happened in ``meta.outcome``:
task, sent, moved or stopped. Tasks for the owner are not moved: the owner writes in
their own working hours.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from peewee import JOIN

from .. import audit, canned, consent, notifications, outbound, reminders, team
from ..db import is_postgres, utcnow, write_transaction
from ..i18n import N_, UserFacingError
from ..localtime import Clock, automatic_touches_on_local_day, parse_quiet
from ..models import Contact, Conversation, FollowUp, Message, Template, User
from .lifecycle import close_as_lost

log = logging.getLogger(__name__)

KINDS = ("cadence", "reengage", "reactivation", "close_lost")  # every kind of step a plan has
CHASED_STATUSES = ("new", "contacted", "interested", "dormant")  # won and lost leads are left alone
MAX_STEPS = 8
MAX_DAYS = 90
CLOSE_AFTER_DAYS = 7  # after the last reactivation touch, when the team has a single one
TEMPLATES_KEY = {"cadence": "cadence_templates", "reactivation": "reactivation_templates"}
_CARRIED = ("since", "channel", "origin")  # meta a step passes on to the next one


class CadenceError(UserFacingError):
    pass


# --- which days, which template, whose task --------------------------------------------


@dataclass(frozen=True)
class TeamCadence:
    """The team settings a step needs, read in one query (a sweep may fire hundreds)."""

    days: list[int]
    auto_send: bool
    templates: dict[str, dict]  # sequence -> {step: shortcut}
    reactivation_days: list[int]
    reengage_days: int
    reengage_auto_send: bool
    reengage_template: str
    values: dict  # the whole snapshot, for the local clock

    @classmethod
    def load(cls) -> TeamCadence:
        value = team.snapshot()
        return cls(
            days=[int(d) for d in value["cadence_days"] or []],
            auto_send=bool(value["cadence_auto_send"]),
            templates={s: value[key] or {} for s, key in TEMPLATES_KEY.items()},
            reactivation_days=[int(d) for d in value["reactivation_days"] or []],
            reengage_days=int(value["lead_reengage_days"] or 0),
            reengage_auto_send=bool(value["lead_reengage_auto_send"]),
            reengage_template=(value["lead_reengage_template"] or "").strip().lstrip("/").lower(),
            values=value,
        )

    @property
    def quiet(self) -> tuple[dt.time, dt.time] | None:
        return parse_quiet(self.values.get("quiet_hours"))

    def clock(self, contact: Contact) -> Clock:
        return Clock.for_contact(contact, self.values)

    def shortcut(self, sequence: str, step: int, contact: Contact | None = None) -> str | None:
        if sequence == "reengage":
            return self.reengage_template or None
        if sequence == "cadence" and contact is not None:
            # The team's cadence templates are numbered by cadence day order ("Step n" of
            # the settings is the n-th day), not by the merged plan's step: a re-engagement
            # that replaces day 3 leaves day 7 with the template of step 3.
            planned = steps_for(contact, self)
            days = days_for(contact, self)
            if 0 < step <= len(planned) and planned[step - 1][0] in days:
                step = days.index(planned[step - 1][0]) + 1
        mapping = self.templates.get(sequence) or {}
        return mapping.get(str(step)) or mapping.get(step) or None

    def sends(self, sequence: str) -> bool:
        return self.reengage_auto_send if sequence == "reengage" else self.auto_send


def days_for(contact: Contact, cfg: TeamCadence | None = None) -> list[int]:
    """The contact's own cadence, else the team's."""
    return [int(d) for d in contact.cadence] if contact.cadence else (cfg or TeamCadence.load()).days


def steps_for(contact: Contact, cfg: TeamCadence | None = None) -> list[tuple[int, str]]:
    """The plan after our reply: (days after the reply, "cadence" | "reengage"), in order,
    at most one step a day. A new lead's re-engagement replaces the cadence step of its day."""
    cfg = cfg or TeamCadence.load()
    steps = {day: "cadence" for day in days_for(contact, cfg)}
    if cfg.reengage_days and contact.lead_status == "new":
        steps[cfg.reengage_days] = "reengage"
    return sorted(steps.items())


def template_for(sequence: str, step: int, cfg: TeamCadence | None = None, contact: Contact | None = None):
    shortcut = (cfg or TeamCadence.load()).shortcut(sequence, step, contact)
    return Template.get_or_none(Template.shortcut == shortcut) if shortcut else None


def _owner_id(contact: Contact, conv: Conversation, fallback: int | None = None) -> int | None:
    return contact.owner_id or conv.assignee_id or fallback


def parse_days(value: str | list | None) -> list[int] | None:
    """``"14 21"`` or ``[14, 21]`` -> [14, 21]; empty -> None (the team's cadence).

    1 to 8 steps, each a whole number of days after our last message, 1 to 90, each later
    than the one before."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) > 100:
        raise CadenceError(N_("Write the days as whole numbers, like: 1 3 7 14"))
    items = re.split(r"[\s,;]+", value.strip()) if isinstance(value, str) else list(value)
    items = [i for i in items if i != ""]
    if not items:
        return None
    days = []
    for item in items:
        text = str(item)
        if not (text.isascii() and text.isdigit() and len(text) <= 3):
            raise CadenceError(N_("Write the days as whole numbers, like: 1 3 7 14"))
        days.append(int(text))
    if len(days) > MAX_STEPS:
        raise CadenceError(N_("A cadence has at most %(n)s steps."), n=MAX_STEPS)
    if any(d < 1 or d > MAX_DAYS for d in days):
        raise CadenceError(N_("Each step is 1 to %(n)s days after our last message."), n=MAX_DAYS)
    if any(b <= a for a, b in zip(days, days[1:], strict=False)):
        raise CadenceError(N_("Each step must come later than the one before."))
    return days


def as_text(days: list[int] | None) -> str:
    return " ".join(str(d) for d in days or [])


# --- the moments that start and stop the plan --------------------------------------------


def on_customer_reply(message: Message) -> None:
    """The customer replied: the plan and any reactivation stop."""
    reminders.cancel_pending(message.conversation_id, KINDS)


def on_our_reply(message: Message) -> None:
    """We replied: the plan (re)starts from this message."""
    conv = (
        Conversation.select(Conversation, Contact).join(Contact).where(Conversation.id == message.conversation_id).get()
    )
    # A retried reply counts from the retry (its updated_at), a new one from when it was sent.
    since = max(message.sent_at, message.updated_at or message.sent_at)
    start(conv, conv.contact, since, origin=message, fallback_owner=message.author_id)


def start(
    conv: Conversation, contact: Contact, since: dt.datetime, *, origin: Message, fallback_owner: int | None = None
) -> FollowUp | None:
    """Plan the first step after our reply ``origin`` sent at ``since``."""
    reminders.cancel_pending(conv.id, KINDS)
    if contact.merged_into_id or contact.lead_status not in CHASED_STATUSES:
        return None
    cfg = TeamCadence.load()
    steps = steps_for(contact, cfg)
    if not steps:
        return None
    day, sequence = steps[0]
    return _plan(
        conv, sequence, 1, since + dt.timedelta(days=day), owner=_owner_id(contact, conv, fallback_owner),
        meta={"since": since.isoformat(), "channel": origin.channel_kind, "origin": origin.id},
        template=template_for(sequence, 1, cfg, contact),
    )  # fmt: skip


def stop(conversation_id: int) -> int:
    """The conversation was closed: nothing more is planned for it."""
    return reminders.cancel_pending(conversation_id, KINDS)


def _plan(
    conv: Conversation | int, sequence: str, step: int, due: dt.datetime, *, owner, meta: dict,
    template: Template | None,
) -> FollowUp:  # fmt: skip
    return reminders.schedule(
        conv, due, kind=sequence, owner=owner, step=step, template=template,
        meta={k: meta[k] for k in _CARRIED if k in meta},
    )  # fmt: skip


# --- firing a step ---------------------------------------------------------------------


def fire(followup: FollowUp, now: dt.datetime) -> None:
    """Run one due step (called by the reminders sweep once it has claimed the step)."""
    try:
        _fire(followup, now)
    except Exception:  # one broken contact must not stop the sweep for everyone else
        log.exception("%s step %s of follow-up %s failed", followup.kind, followup.step, followup.id)
        _record(followup, now, "error", done=True)


def _since(followup: FollowUp) -> dt.datetime | None:
    value = (followup.meta or {}).get("since")
    return dt.datetime.fromisoformat(value) if value else None


def _stop_reason(followup: FollowUp, conv: Conversation, contact: Contact) -> str | None:
    if contact.merged_into_id:
        return "merged"
    if contact.lead_status not in CHASED_STATUSES:
        return "lead_status"
    if conv.state == "closed":
        return "closed"
    if followup.kind in ("reactivation", "close_lost") and contact.lead_status != "dormant":
        return "not_dormant"
    origin = (followup.meta or {}).get("origin")
    if origin and Message.select(Message.status).where(Message.id == origin).scalar() == "failed":
        return "reply_failed"
    since = _since(followup)
    if since is not None and conv.last_inbound_at is not None and conv.last_inbound_at > since:
        return "customer_replied"
    if since is not None and conv.last_outbound_at is not None and conv.last_outbound_at > since:
        return "newer_reply"  # that reply started a plan of its own
    return None


def _next_step(followup: FollowUp, contact: Contact, cfg: TeamCadence) -> tuple[str, int, dt.datetime] | None:
    """(sequence, step, due) of the step that follows this one, if any. Steps of our reply's
    plan are due from the reply (``since``), so a moved step does not move the rest."""
    if followup.kind in ("cadence", "reengage"):
        steps = steps_for(contact, cfg)
        since = _since(followup) or followup.due_at
        if followup.step < len(steps):
            day, sequence = steps[followup.step]
            return sequence, followup.step + 1, since + dt.timedelta(days=day)
        if cfg.reactivation_days:
            return "reactivation", 1, None
        return None
    if followup.kind == "reactivation":
        days = cfg.reactivation_days
        if followup.step < len(days):
            return "reactivation", followup.step + 1, None
        return "close_lost", 1, None
    return None


def _reactivation_due(followup: FollowUp, following: tuple, cfg: TeamCadence, now: dt.datetime) -> dt.datetime:
    """Reactivation touches are due after dormancy (the previous touch), lost after a last gap."""
    sequence, step, due = following
    if due is not None:
        return due
    days = cfg.reactivation_days
    if sequence == "reactivation" and step == 1:
        return now + dt.timedelta(days=days[0])
    if sequence == "reactivation":
        return now + dt.timedelta(days=max(days[step - 1] - days[step - 2], 1))
    gap = days[-1] - days[-2] if len(days) > 1 else CLOSE_AFTER_DAYS
    return now + dt.timedelta(days=max(gap, 1))


def _templates(*shortcuts: str | None) -> dict[str, Template]:
    wanted = {s for s in shortcuts if s}
    return {t.shortcut: t for t in Template.select().where(Template.shortcut.in_(wanted))} if wanted else {}


def _fire(followup: FollowUp, now: dt.datetime) -> None:
    conv = (
        Conversation.select(Conversation, Contact)
        .join(Contact)
        .where(Conversation.id == followup.conversation_id)
        .first()
    )
    if conv is None:
        return
    contact = conv.contact
    stop_reason = _stop_reason(followup, conv, contact)
    if stop_reason:
        _record(followup, now, "stopped", done=True, because=stop_reason)
        return
    if followup.kind == "close_lost":
        close_as_lost(contact, conv, now)
        _record(followup, now, "closed", done=True)
        return
    cfg = TeamCadence.load()
    owner_id = _owner_id(contact, conv, followup.owner_id)
    following = _next_step(followup, contact, cfg)
    # The team's templates as they are now (settings may have changed since the step was planned).
    shortcut = cfg.shortcut(followup.kind, followup.step, contact)
    next_shortcut = cfg.shortcut(following[0], following[1], contact) if following else None
    found = _templates(shortcut, next_shortcut)
    template = found.get(shortcut)
    followup.template = template
    kind = (followup.meta or {}).get("channel") or next(iter(outbound.reachable_kinds(conv)), None)
    message = None
    with write_transaction():
        if is_postgres():  # one step of a conversation at a time across consumers (one a day)
            Conversation.select(Conversation.id).where(Conversation.id == conv.id).for_update().execute()
        problem: tuple[str, dict] | None = None
        if cfg.sends(followup.kind) and template is not None:
            problem = _send_problem(conv, contact, kind, template, now)
            if problem is None:
                clock = cfg.clock(contact)
                if clock.is_quiet(now):
                    _move(followup, now, clock.end_of_quiet(now), "quiet_hours")
                    return
                if automatic_touches_on_local_day(conv.id, now, clock):
                    _move(followup, now, clock.next_morning(now), "one_per_day")
                    return
                try:
                    message = _send(followup, conv, contact, kind, template, owner_id, now)
                except (outbound.SendError, canned.TemplateProblem) as exc:
                    problem = (exc.msgid, exc.params)
        if message is None:
            _task(followup, conv, contact, template, owner_id, problem)
            _record(followup, now, "task", done=False, because=problem[0] % problem[1] if problem else None)
        else:
            _record(followup, now, "sent", done=True, message=message.id)
            if followup.kind == "reengage":  # the owner hears that the lead was written to
                notifications.notify_owner(
                    owner_id, "reengage", conv.id, name=contact.display_name, sent=True, message_id=message.id,
                    template=template.name,
                )  # fmt: skip
        if followup.kind in ("cadence", "reengage") and (following is None or following[0] == "reactivation"):
            make_dormant(contact, conv, now)  # the last step went unanswered
        if following is not None:
            sequence, step, _ = following
            due = max(_reactivation_due(followup, following, cfg, now), now)
            _plan(conv, sequence, step, due, owner=owner_id, meta=followup.meta, template=found.get(next_shortcut))
    if message is not None:
        outbound.queue_delivery(message.id)


def _send_problem(
    conv: Conversation, contact: Contact, kind: str | None, template: Template, now: dt.datetime
) -> tuple[str, dict] | None:
    """Why this template may not go to this contact automatically now, or None."""
    if kind is None:
        return N_("This contact has no address to write to."), {}
    reason = consent.blocked_reason(contact, kind)
    if reason:
        return reason, {}
    if template.channels and kind not in template.channels.split():
        return N_("The step's template is not meant for %(channel)s."), {"channel": kind}
    if kind == "whatsapp" and not template.content_sid and consent.window_left(conv.id, now=now) is None:
        return N_("The WhatsApp 24-hour window is closed and the step's template is not an approved template."), {}
    return None


def _send(
    followup: FollowUp, conv: Conversation, contact: Contact, kind: str, template: Template,
    owner_id: int | None, now: dt.datetime,
) -> Message:  # fmt: skip
    # Sent in the owner's name (personal, and the template may sign with agent.name);
    # automatic=True keeps it from counting as a human reply.
    agent = User.get_or_none(User.id == owner_id) if owner_id else None
    text = canned.render(template.body, contact, agent, conv)
    automation = "lead_reengage" if followup.kind == "reengage" else followup.kind
    return outbound.send(
        conv, kind=kind, text=text, author=agent, automatic=True, template=template, at=now,
        subject=template.name if kind == "email" else "",
        meta={"followup": followup.id, "sequence": followup.kind, "step": followup.step, "automation": automation},
    )  # fmt: skip


def _task(
    followup: FollowUp, conv: Conversation, contact: Contact, template: Template | None, owner_id: int | None,
    problem: tuple[str, dict] | None,
) -> None:  # fmt: skip
    params = {"name": contact.display_name, "step": followup.step, "template": template.name if template else ""}
    if followup.kind == "reengage":
        kind = "reengage"
        since = _since(followup)
        params.update(days=(followup.due_at - since).days if since else None, sent=False)
    else:
        kind = "cadence_task"
        params["sequence"] = followup.kind  # "cadence", or "reactivation" for a dormant lead
    if template is not None:
        params["shortcut"] = template.shortcut
    if problem:
        params["reason"], params["reason_params"] = problem  # why it was not sent automatically
    notifications.notify_owner(owner_id, kind, conv.id, **params)


def _record(followup: FollowUp, now: dt.datetime, outcome: str, *, done: bool, **extra) -> None:
    """What became of a fired step (and the template it used or suggested)."""
    meta = {**(followup.meta or {}), "outcome": outcome, **{k: v for k, v in extra.items() if v is not None}}
    followup.meta = meta
    FollowUp.update(meta=meta, done_at=now if done else None, template=followup.template_id).where(
        FollowUp.id == followup.id
    ).execute()


def _move(followup: FollowUp, now: dt.datetime, when: dt.datetime, because: str) -> None:
    _record(followup, now, "moved", done=True, because=because, moved_to=when.isoformat())
    meta = {k: followup.meta[k] for k in _CARRIED if k in followup.meta}
    reminders.schedule(
        followup.conversation_id, when, kind=followup.kind, owner=followup.owner_id, step=followup.step,
        template=followup.template_id, meta={**meta, "moved_from": followup.id, "moved_because": because},
    )  # fmt: skip


def make_dormant(contact: Contact, conv: Conversation | None, now: dt.datetime) -> bool:
    """The plan ended without an answer: the lead joins the dormant group."""
    if contact.lead_status == "dormant":
        if contact.dormant_since is None:
            Contact.update(dormant_since=now).where(Contact.id == contact.id).execute()
        return False
    before = contact.lead_status
    Contact.update(lead_status="dormant", dormant_since=now, updated_at=utcnow()).where(
        Contact.id == contact.id
    ).execute()
    contact.lead_status, contact.dormant_since = "dormant", now
    if conv is not None:
        Conversation.update(updated_at=utcnow()).where(Conversation.id == conv.id).execute()
    audit.record(
        None, "contact_changed", contact, conversation=conv,
        before={"lead_status": before}, after={"lead_status": "dormant"},
    )  # fmt: skip
    return True


# --- the contact's own cadence ---------------------------------------------------------


def set_cadence(contact: Contact, actor: User | None, value: str | list | None) -> Contact:
    """Give the contact its own cadence (stretch it when they are busy, tighten it when
    they are engaged) or, with an empty value, go back to the team's. A plan already
    running keeps its place: its pending step is re-timed with the new days, counted
    from our last reply (or now, if that moment has passed)."""
    days = parse_days(value)
    if days == (contact.cadence or None):
        return contact
    with write_transaction():
        before = contact.cadence
        Contact.update(cadence=days, updated_at=utcnow()).where(Contact.id == contact.id).execute()
        contact.cadence = days
        conv = Conversation.get_or_none(Conversation.contact == contact.id)
        if conv is not None:
            Conversation.update(updated_at=utcnow()).where(Conversation.id == conv.id).execute()
            _retime(conv, contact)
        audit.record(
            actor, "contact_changed", contact, conversation=conv,
            before={"cadence": as_text(before) or None}, after={"cadence": as_text(days) or None},
        )  # fmt: skip
    return contact


def _retime(conv: Conversation, contact: Contact) -> None:
    pending = (
        FollowUp.select()
        .where(
            (FollowUp.conversation == conv.id)
            & FollowUp.kind.in_(["cadence", "reengage"])
            & FollowUp.fired_at.is_null()
            & FollowUp.cancelled_at.is_null()
        )
        .order_by(FollowUp.step.desc())
        .first()
    )
    cfg = TeamCadence.load()
    steps = steps_for(contact, cfg)
    if pending is None or not steps:
        return
    since = _since(pending) or conv.last_outbound_at or utcnow()
    step = min(pending.step, len(steps))
    day, sequence = steps[step - 1]
    due = max(since + dt.timedelta(days=day), utcnow())
    reminders.cancel_pending(conv.id, ("cadence", "reengage"))
    _plan(conv, sequence, step, due, owner=pending.owner_id, meta=pending.meta or {},
          template=template_for(sequence, step, cfg, contact))  # fmt: skip


def next_step(contact: Contact) -> FollowUp | None:
    """The contact's next planned step, if one is planned."""
    return (
        FollowUp.select(FollowUp, Template)
        .join(Conversation, on=(FollowUp.conversation == Conversation.id))
        .switch(FollowUp)
        .join(Template, JOIN.LEFT_OUTER, on=(FollowUp.template == Template.id))
        .where(
            (Conversation.contact == contact.id)
            & FollowUp.kind.in_(list(KINDS))
            & FollowUp.fired_at.is_null()
            & FollowUp.cancelled_at.is_null()
        )
        .order_by(FollowUp.due_at)
        .first()
    )
