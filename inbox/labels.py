"""Translated names for stored codes (statuses, roles, audit actions), used by templates."""

from __future__ import annotations

import datetime as dt

from flask_babel import format_datetime, gettext, lazy_gettext

LEAD_STATUS = {
    "new": lazy_gettext("New"),
    "contacted": lazy_gettext("Contacted"),
    "interested": lazy_gettext("Interested"),
    "won": lazy_gettext("Won"),
    "lost": lazy_gettext("Lost"),
    "dormant": lazy_gettext("Dormant"),
}
STATE = {"open": lazy_gettext("Open"), "snoozed": lazy_gettext("Snoozed"), "closed": lazy_gettext("Closed")}
MESSAGE_STATUS = {
    "queued": lazy_gettext("Queued"),
    "sending": lazy_gettext("Sending"),
    "sent": lazy_gettext("Sent"),
    "delivered": lazy_gettext("Delivered"),
    "read": lazy_gettext("Read"),
    "failed": lazy_gettext("Failed"),
    "received": lazy_gettext("Received"),
}
CHANNEL_NAMES = {"email": lazy_gettext("Email"), "sms": lazy_gettext("SMS"), "whatsapp": lazy_gettext("WhatsApp")}
ROLE = {"agent": lazy_gettext("Agent"), "manager": lazy_gettext("Manager"), "admin": lazy_gettext("Admin")}


def lead_status_label(code: str) -> str:
    return str(LEAD_STATUS.get(code, code))


def state_label(code: str) -> str:
    return str(STATE.get(code, code))


def status_label(code: str) -> str:
    return str(MESSAGE_STATUS.get(code, code))


def role_label(code: str) -> str:
    return str(ROLE.get(code, code))


def event_text(event) -> str:
    """One line for an audit event in the timeline."""
    who = event.actor.name if event.actor_id and event.actor else gettext("System")
    after = event.after or {}
    before = event.before or {}
    action = event.action
    if action == "assigned":
        return gettext("%(who)s assigned this to %(to)s", who=who, to=after.get("assignee_name") or "?")
    if action == "unassigned":
        return gettext("%(who)s unassigned this conversation", who=who)
    if action == "closed":
        return gettext("%(who)s closed this conversation", who=who)
    if action == "reopened":
        return gettext("%(who)s reopened this conversation", who=who)
    if action == "reopened_by_customer":
        return gettext("Reopened: the customer wrote again")
    if action == "woken_by_customer":
        return gettext("Snooze ended early: the customer wrote again")
    if action == "snooze_ended":
        return gettext("Snooze ended")
    if action == "snoozed":
        return gettext("%(who)s snoozed this conversation", who=who)
    if action == "reminder_set":
        when = _stored_time(after.get("due_at"))
        if after.get("note"):
            return gettext("%(who)s set a reminder for %(when)s: %(note)s", who=who, when=when, note=after["note"])
        return gettext("%(who)s set a reminder for %(when)s", who=who, when=when)
    if action == "lead_captured":
        return gettext("New lead from %(source)s", source=after.get("lead_source") or after.get("source") or "—")
    if action == "lead_ack_skipped":
        if after.get("reason"):
            reason = gettext(after["reason"], **(after.get("reason_params") or {}))
            return gettext("No automatic acknowledgement was sent: %(reason)s", reason=reason)
        return gettext("No automatic acknowledgement was sent")
    if action == "lead_closed_lost":
        return gettext("No answer to the reactivation touches: closed as lost")
    if action == "lead_opted_out_lost":
        return gettext("Opted out of every channel we could write on: closed as lost")
    if action == "lead_reactivated":
        if before.get("lead_status") == "lost":
            return gettext(
                "The lost lead wrote again: back to %(status)s", status=lead_status_label(after.get("lead_status", ""))
            )
        return gettext(
            "The dormant lead wrote again: back to %(status)s", status=lead_status_label(after.get("lead_status", ""))
        )
    if action in (
        "lead_source_created", "lead_source_deactivated", "channel_added", "channel_changed", "team_settings_changed"
    ):  # fmt: skip
        return gettext("%(who)s changed the settings", who=who)
    if action == "contact_created":
        return gettext("%(who)s created this contact", who=who)
    if action == "contact_changed":
        parts = ", ".join(f"{k}: {before.get(k) or '—'} → {v or '—'}" for k, v in after.items())
        return gettext("%(who)s changed %(what)s", who=who, what=parts)
    if action == "tags_changed":
        return gettext(
            "%(who)s set tags: %(tags)s", who=who, tags=" ".join("#" + t for t in after.get("tags", [])) or "—"
        )
    if action == "identity_added":
        return gettext("%(who)s added %(what)s", who=who, what=", ".join(after.values()))
    if action == "identity_removed":
        return gettext("%(who)s removed %(what)s", who=who, what=", ".join(before.values()))
    if action == "contacts_merged":
        return gettext(
            "%(who)s merged contact #%(id)s (%(name)s) into this one: %(n)s messages moved",
            who=who, id=before.get("merged_contact"), name=before.get("name") or "—", n=after.get("messages", 0),
        )  # fmt: skip
    if action in ("opted_out", "opted_in"):
        channel = str(CHANNEL_NAMES.get(after.get("channel"), after.get("channel") or ""))
        if action == "opted_out":
            return gettext("Opted out of %(channel)s (%(reason)s)", channel=channel, reason=after.get("reason") or who)
        return gettext("Opted back in to %(channel)s (%(reason)s)", channel=channel, reason=after.get("reason") or who)
    if action == "whatsapp_consent_given":
        return gettext("WhatsApp opt-in recorded by %(who)s (%(reason)s)", who=who, reason=after.get("reason") or "")
    if action == "whatsapp_consent_withdrawn":
        return gettext("WhatsApp opt-in withdrawn by %(who)s", who=who)
    return f"{who}: {action}"


def _stored_time(value: str | None) -> str:
    """An ISO time kept in an audit record (naive UTC), in the user's time zone."""
    try:
        return format_datetime(dt.datetime.fromisoformat(value), "short")
    except (TypeError, ValueError):
        return value or "?"


def notification_text(kind: str, params: dict, contact_name: str = "") -> str:
    """One line for an in-app notification. ``contact_name`` is the conversation's contact
    now, used when the notification did not store a name."""
    p = params or {}
    name = p.get("name") or contact_name or gettext("a customer")
    text = _notification_line(kind, p, name)
    if p.get("reason"):  # why an automatic message was not sent (a msgid with its values)
        reason = gettext(p["reason"], **(p.get("reason_params") or {}))
        text = gettext("%(text)s (not sent automatically: %(reason)s)", text=text, reason=reason)
    return text


def _notification_line(kind: str, p: dict, name: str) -> str:
    if kind == "reminder":
        if p.get("note"):
            return gettext("Reminder: %(name)s — %(note)s", name=name, note=p["note"])
        return gettext("Reminder: %(name)s", name=name)
    if kind == "sla_breached":
        return gettext("%(name)s has waited longer than the %(minutes)s-minute target", name=name,
                       minutes=p.get("minutes", "?"))  # fmt: skip
    if kind == "sla_escalated":
        return gettext("Escalated: %(name)s has waited over %(minutes)s minutes", name=name,
                       minutes=p.get("minutes", "?"))  # fmt: skip
    if kind == "snooze_ended":
        return gettext("Snooze ended: %(name)s", name=name)
    if kind == "new_lead":
        if p.get("unassigned"):
            return gettext("New lead, and no agent is available to take it: %(name)s", name=name)
        if p.get("source"):
            return gettext("New lead from %(source)s: %(name)s", source=p["source"], name=name)
        return gettext("New lead: %(name)s", name=name)
    if kind == "lead_unanswered":
        if p.get("escalated"):
            return gettext("Escalated: %(name)s, a lead, is still waiting for an answer", name=name)
        return gettext("%(name)s, a new lead, is still waiting for an answer", name=name)
    if kind == "lead_problem":
        return gettext("Write to %(name)s, a new lead, yourself", name=name)
    if kind == "reengage":
        if p.get("sent"):
            return gettext("Re-engagement message sent to %(name)s", name=name)
        return gettext("Re-engage %(name)s: no answer since our last message", name=name)
    if kind == "lead_opted_out":
        channel = str(CHANNEL_NAMES.get(p.get("channel"), p.get("channel") or ""))
        if p.get("closed"):
            return gettext("%(name)s opted out of %(channel)s and can no longer be written to: closed as lost",
                           name=name, channel=channel)  # fmt: skip
        return gettext("%(name)s opted out of %(channel)s: write another way, or close the lead",
                       name=name, channel=channel)  # fmt: skip
    if kind == "dormant_replied":
        if p.get("was") == "lost":
            return gettext("%(name)s, a lost lead, wrote again", name=name)
        return gettext("%(name)s, a dormant lead, wrote again", name=name)
    if kind == "cadence_task":
        step = p.get("step") or "?"
        if p.get("sequence") == "reactivation":
            line = gettext("Reactivate %(name)s (step %(step)s)", name=name, step=step)
        else:
            line = gettext("Follow up with %(name)s (step %(step)s)", name=name, step=step)
        if p.get("template"):
            line = gettext("%(line)s with the template %(template)s", line=line, template=p["template"])
        return line
    if kind == "assigned":
        if p.get("by"):
            return gettext("%(by)s assigned %(name)s to you", by=p["by"], name=name)
        return gettext("%(name)s was assigned to you", name=name)
    if kind == "mention":
        return gettext("%(by)s mentioned you on %(name)s: %(excerpt)s", by=p.get("by") or "?", name=name,
                       excerpt=p.get("excerpt", ""))  # fmt: skip
    return f"{kind}: {name}"
