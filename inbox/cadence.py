"""Follow-up cadence for conversations awaiting the customer, and the reactivation of
the leads it leaves dormant.

A human reply starts (or restarts) the cadence. Step n is due ``days[n-1]`` days after
that reply; ``days`` is the contact's own cadence or else the team's ``cadence_days``
(default 1, 3, 7, 14). Each step is a FollowUp of kind "cadence" that the reminders sweep
fires. A fired step does one of two things:

- it gives the owner a task: notification "cadence_task" with the params name, step and
  template ("follow up with X, 2nd touch, suggested template Y");
- with ``cadence_auto_send`` on and a template for the step (``cadence_templates``,
  step -> shortcut), it sends that template as an automatic message, which does not
  stop the waiting clock.

The next step is planned from the moment this one fired, with the gap the cadence
leaves between the two steps, so a step moved to the morning moves the rest with it.
The last step makes the lead dormant (lead status "dormant", ``dormant_since``, an
audit event). Reactivation touches (kind "reactivation", templates
``reactivation_templates``) then follow at ``reactivation_days`` after dormancy, with the
same task-or-send rule; their tasks are "cadence_task" notifications too, with
``sequence`` "reactivation". A customer message stops both at once; a new human reply
starts the cadence again from step 1. Won and lost leads are not chased.

Guards for an automatic message. They are checked when the step fires, not when it is
planned, because consent, the WhatsApp window and the day's other messages change in
the meantime:

- Never in quiet hours. These are team ``quiet_hours`` (default 21:00-08:00) in the
  contact's time zone, or the team's when the contact has none. A step due then moves
  to the end of the quiet hours.
- At most one automatic message per contact per calendar day in that time zone. Every
  automatic outbound message of the conversation counts, whichever automation sent it.
  A step that would be the second moves to the next morning (the end of the quiet
  hours).
- Never to a contact who opted out, unsubscribed or, on WhatsApp, gave no opt-in
  (``consent.blocked_reason``): the owner gets the task instead, with the reason.
- On WhatsApp outside the 24-hour window, only an approved template (Content SID) may
  go. Otherwise the owner gets the task instead.

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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import JOIN

from . import audit, canned, consent, notifications, outbound, reminders, team
from .db import is_postgres, utcnow, write_transaction
from .i18n import N_, UserFacingError
from .models import Contact, Conversation, FollowUp, Message, Template, User

log = logging.getLogger(__name__)

KINDS = ("cadence", "reactivation")
CHASED_STATUSES = ("new", "contacted", "interested", "dormant")  # won and lost leads are left alone
MAX_STEPS = 8
MAX_DAYS = 90
MORNING = dt.time(8, 0)  # "the next morning" when quiet hours are switched off
TEMPLATES_KEY = {"cadence": "cadence_templates", "reactivation": "reactivation_templates"}
_CARRIED = ("since", "channel")  # meta a step passes on to the next one


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
    quiet: tuple[dt.time, dt.time] | None
    timezone: str

    @classmethod
    def load(cls) -> TeamCadence:
        value = team.snapshot()
        return cls(
            days=[int(d) for d in value["cadence_days"] or []],
            auto_send=bool(value["cadence_auto_send"]),
            templates={s: value[key] or {} for s, key in TEMPLATES_KEY.items()},
            reactivation_days=[int(d) for d in value["reactivation_days"] or []],
            quiet=_parse_quiet(value["quiet_hours"]),
            timezone=value["timezone"],
        )

    def shortcut(self, sequence: str, step: int) -> str | None:
        mapping = self.templates.get(sequence) or {}
        return mapping.get(str(step)) or mapping.get(step) or None


def _parse_quiet(value) -> tuple[dt.time, dt.time] | None:
    """(start, end) local times; None when switched off (no value, or start == end)."""
    if not value:
        return None
    try:
        start, end = (dt.time.fromisoformat(v) for v in value)
    except (TypeError, ValueError):
        start, end = dt.time(21, 0), dt.time(8, 0)
    return None if start == end else (start, end)


def days_for(contact: Contact, cfg: TeamCadence | None = None) -> list[int]:
    """The contact's own cadence, else the team's."""
    return [int(d) for d in contact.cadence] if contact.cadence else (cfg or TeamCadence.load()).days


def template_for(sequence: str, step: int, cfg: TeamCadence | None = None) -> Template | None:
    shortcut = (cfg or TeamCadence.load()).shortcut(sequence, step)
    return Template.get_or_none(Template.shortcut == shortcut) if shortcut else None


def _gap(days: list[int], step: int) -> int | None:
    """Days from step ``step`` (1-based, just fired) to the next one; None after the last."""
    if step >= len(days):
        return None
    gap = days[step] - days[step - 1] if step >= 1 else days[0]
    return gap if gap > 0 else days[step]


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


# --- time zones and quiet hours --------------------------------------------------------


def zone_of(contact: Contact, cfg: TeamCadence | None = None) -> ZoneInfo:
    """The contact's time zone, else the team's."""
    team_zone = (cfg or TeamCadence.load()).timezone if not contact.timezone else None
    for name in (contact.timezone, team_zone, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(tz)


def _utc(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)


def in_quiet_hours(moment: dt.datetime, tz: ZoneInfo, quiet: tuple[dt.time, dt.time] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    t = _local(moment, tz).time()
    if start < end:
        return start <= t < end
    return t >= start or t < end  # across midnight, 21:00-08:00


def end_of_quiet_hours(moment: dt.datetime, tz: ZoneInfo, quiet: tuple[dt.time, dt.time]) -> dt.datetime:
    start, end = quiet
    local = _local(moment, tz)
    day = local.date()
    if start > end and local.time() >= start:
        day += dt.timedelta(days=1)
    return _awake(_utc(day, end, tz), tz, quiet)


def next_morning(moment: dt.datetime, tz: ZoneInfo, quiet: tuple[dt.time, dt.time] | None) -> dt.datetime:
    day = _local(moment, tz).date() + dt.timedelta(days=1)
    return _awake(_utc(day, quiet[1] if quiet else MORNING, tz), tz, quiet)


def _awake(moment: dt.datetime, tz: ZoneInfo, quiet) -> dt.datetime:
    # A daylight-saving jump can turn a local time into another; step out of quiet hours.
    for _ in range(200):
        if not in_quiet_hours(moment, tz, quiet):
            break
        moment += dt.timedelta(minutes=15)
    return moment


def automatic_messages_on_local_day(conversation_id: int, moment: dt.datetime, tz: ZoneInfo) -> int:
    day = _local(moment, tz).date()
    start, end = _utc(day, dt.time(0), tz), _utc(day + dt.timedelta(days=1), dt.time(0), tz)
    return (
        Message.select()
        .where(
            (Message.conversation == conversation_id)
            & (Message.sent_at >= start)
            & (Message.sent_at < end)
            & (Message.direction == "out")
            & Message.automatic
        )
        .count()
    )


# --- the two moments: our reply, the customer's reply ----------------------------------


def on_customer_reply(message: Message) -> None:
    """The customer replied: the cadence and any reactivation stop."""
    reminders.cancel_pending(message.conversation_id, KINDS)


def on_our_reply(message: Message) -> None:
    """We replied: the cadence (re)starts from this message."""
    conv = (
        Conversation.select(Conversation, Contact).join(Contact).where(Conversation.id == message.conversation_id).get()
    )
    contact = conv.contact
    reminders.cancel_pending(conv.id, KINDS)
    if contact.merged_into_id or contact.lead_status not in CHASED_STATUSES:
        return
    cfg = TeamCadence.load()
    days = days_for(contact, cfg)
    if not days:
        return
    since = message.sent_at
    _plan(
        conv, "cadence", 1, since + dt.timedelta(days=days[0]), owner=_owner_id(contact, conv, message.author_id),
        meta={"since": since.isoformat(), "channel": message.channel_kind}, template=template_for("cadence", 1, cfg),
    )  # fmt: skip


def _plan(
    conv: Conversation | int, sequence: str, step: int, due: dt.datetime, *, owner, meta: dict,
    template: Template | None,
) -> FollowUp:  # fmt: skip
    return reminders.schedule(
        conv, due, kind=sequence, owner=owner, step=step, template=template,
        meta={k: meta[k] for k in _CARRIED if k in meta},
    )  # fmt: skip


# --- firing a step ---------------------------------------------------------------------


@reminders.handler("reactivation")
@reminders.handler("cadence")
def fire(followup: FollowUp, now: dt.datetime) -> None:
    """Run one due step (called by ``reminders.sweep`` once it has claimed the step)."""
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
    if followup.kind == "reactivation" and contact.lead_status != "dormant":
        return "not_dormant"
    since = _since(followup)
    if since is not None and conv.last_inbound_at is not None and conv.last_inbound_at > since:
        return "customer_replied"
    if since is not None and conv.last_outbound_at is not None and conv.last_outbound_at > since:
        return "newer_reply"  # that reply started a cadence of its own
    return None


def _next_step(followup: FollowUp, contact: Contact, cfg: TeamCadence) -> tuple[str, int, int] | None:
    """(sequence, step, days after this one) of the step that follows this one, if any."""
    if followup.kind == "cadence":
        gap = _gap(days_for(contact, cfg), followup.step)
        if gap is not None:
            return "cadence", followup.step + 1, gap
        return ("reactivation", 1, cfg.reactivation_days[0]) if cfg.reactivation_days else None
    gap = _gap(cfg.reactivation_days, followup.step)
    return ("reactivation", followup.step + 1, gap) if gap is not None else None


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
    stop = _stop_reason(followup, conv, contact)
    if stop:
        _record(followup, now, "stopped", done=True, because=stop)
        return
    cfg = TeamCadence.load()
    owner_id = _owner_id(contact, conv, followup.owner_id)
    following = _next_step(followup, contact, cfg)
    # The team's templates as they are now (settings may have changed since the step was planned).
    shortcut = cfg.shortcut(followup.kind, followup.step)
    next_shortcut = cfg.shortcut(*following[:2]) if following else None
    found = _templates(shortcut, next_shortcut)
    template = found.get(shortcut)
    followup.template = template
    kind = (followup.meta or {}).get("channel") or next(iter(outbound.reachable_kinds(conv)), None)
    message = None
    with write_transaction():
        if is_postgres():  # one step of a conversation at a time across consumers (one a day)
            Conversation.select(Conversation.id).where(Conversation.id == conv.id).for_update().execute()
        problem: tuple[str, dict] | None = None
        if cfg.auto_send and template is not None:
            problem = _send_problem(conv, contact, kind, template, now)
            if problem is None:
                tz = zone_of(contact, cfg)
                if in_quiet_hours(now, tz, cfg.quiet):
                    _move(followup, now, end_of_quiet_hours(now, tz, cfg.quiet), "quiet_hours")
                    return
                if automatic_messages_on_local_day(conv.id, now, tz):
                    _move(followup, now, next_morning(now, tz, cfg.quiet), "one_per_day")
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
        if followup.kind == "cadence" and (following is None or following[0] == "reactivation"):
            make_dormant(contact, conv, now)  # the last step went unanswered
        if following is not None:
            sequence, step, gap = following
            _plan(
                conv, sequence, step, now + dt.timedelta(days=gap), owner=owner_id, meta=followup.meta,
                template=found.get(next_shortcut),
            )  # fmt: skip
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
    return outbound.send(
        conv, kind=kind, text=text, author=agent, automatic=True, template=template, at=now,
        meta={"followup": followup.id, "sequence": followup.kind, "step": followup.step},
    )  # fmt: skip


def _task(
    followup: FollowUp, conv: Conversation, contact: Contact, template: Template | None, owner_id: int | None,
    problem: tuple[str, dict] | None,
) -> None:  # fmt: skip
    params = {
        "name": contact.display_name, "step": followup.step, "template": template.name if template else "",
        "sequence": followup.kind,  # "cadence", or "reactivation" for a dormant lead
    }  # fmt: skip
    if template is not None:
        params["shortcut"] = template.shortcut
    if problem:
        params["reason"], params["reason_params"] = problem  # why it was not sent automatically
    if owner_id:
        notifications.notify(owner_id, "cadence_task", conv.id, **params)
    else:
        notifications.notify_managers("cadence_task", conv.id, **params)


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
    """The cadence ended without an answer: the lead joins the dormant group."""
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
    they are engaged) or, with an empty value, go back to the team's. A cadence already
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
            & (FollowUp.kind == "cadence")
            & FollowUp.fired_at.is_null()
            & FollowUp.cancelled_at.is_null()
        )
        .order_by(FollowUp.step.desc())
        .first()
    )
    days = days_for(contact)
    if pending is None or not days:
        return
    since = _since(pending) or conv.last_outbound_at or utcnow()
    step = min(pending.step, len(days))
    due = max(since + dt.timedelta(days=days[step - 1]), utcnow())
    reminders.cancel_pending(conv.id, ("cadence",))
    _plan(conv, "cadence", step, due, owner=pending.owner_id, meta=pending.meta or {},
          template=template_for("cadence", step))  # fmt: skip


def next_step(contact: Contact) -> FollowUp | None:
    """The contact's next cadence or reactivation step, if one is planned."""
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
