"""Notifications by email and the daily summary, sent through the team's mailbox (the
first enabled email channel), in each user's language and time zone."""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.support import Translations

from .channels import ChannelError
from .channels import email as email_adapter
from .db import utcnow
from .i18n import N_
from .leads import attention
from .models import Channel, Contact, Conversation, FollowUp, Notification, User

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).parent / "translations"

KIND_TEXT = {
    "reminder": N_("Reminder: %(name)s"),
    "sla_breached": N_("%(name)s has waited longer than the target"),
    "sla_escalated": N_("%(name)s has waited twice the target"),
    "snooze_ended": N_("Snooze ended: %(name)s"),
    "new_lead": N_("New lead: %(name)s"),
    "dormant_replied": N_("A dormant lead replied: %(name)s"),
    "lead_unanswered": N_("A lead is still waiting for an answer: %(name)s"),
    "lead_problem": N_("Write to a new lead yourself: %(name)s"),
    "lead_opted_out": N_("A lead opted out: %(name)s"),
    "reengage": N_("Re-engage %(name)s"),
    "cadence_task": N_("Follow up with %(name)s"),
    "assigned": N_("Assigned to you: %(name)s"),
    "mention": N_("You were mentioned: %(name)s"),
}


def _gettext(locale: str):
    return Translations.load(str(TRANSLATIONS), [locale]).gettext


def mailbox() -> Channel | None:
    return Channel.select().where(Channel.enabled & (Channel.kind == "email")).order_by(Channel.id).first()


def send_mail(channel: Channel, to: str, subject: str, body: str) -> None:
    settings = email_adapter.EmailSettings.from_channel(channel.settings)
    mail = EmailMessage()
    mail["From"] = formataddr((settings.from_name or "Shared inbox", settings.from_address))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(idstring="inbox.notice", domain=settings.from_address.rsplit("@", 1)[-1])
    mail["Auto-Submitted"] = "auto-generated"  # never answered by out-of-office replies
    mail.set_content(body)
    smtp = email_adapter._smtp(settings)
    try:
        smtp.send_message(mail)
    finally:
        smtp.quit()


def _name(notification: Notification) -> str:
    return str(notification.params.get("name") or notification.params.get("note") or f"#{notification.conversation_id}")


def email_notifications(now: dt.datetime | None = None, base_url: str = "") -> int:
    """One email per user with their notifications not yet emailed (users who asked)."""
    now = now or utcnow()
    channel = mailbox()
    if channel is None:
        return 0
    sent = 0
    users = User.select().where(User.active & User.notify_by_email)
    for user in users:
        pending = list(
            Notification.select()
            .where(
                (Notification.user == user)
                & Notification.emailed_at.is_null()
                & Notification.read_at.is_null()
                & (Notification.created_at >= now - dt.timedelta(days=1))
            )
            .order_by(Notification.id)
            .limit(50)
        )
        claimed = [
            n
            for n in pending
            if Notification.update(emailed_at=now)
            .where((Notification.id == n.id) & Notification.emailed_at.is_null())
            .execute()
        ]
        if not claimed:
            continue
        _ = _gettext(user.locale)
        lines = [_(KIND_TEXT.get(n.kind, "%(name)s")) % {"name": _name(n)} for n in claimed]
        if base_url:
            lines.append(f"\n{base_url.rstrip('/')}/notifications")
        subject = _("%(n)s new notifications") % {"n": len(claimed)} if len(claimed) > 1 else lines[0]
        try:
            send_mail(channel, user.email, subject, "\n".join(lines))
            sent += 1
        except ChannelError as exc:
            # Release them so the next run tries again.
            Notification.update(emailed_at=None).where(Notification.id.in_([n.id for n in claimed])).execute()
            log.warning("notification email to user %s failed: %s", user.id, exc)
    return sent


def summary_figures(user: User, now: dt.datetime) -> dict[str, int]:
    """Waiting now, breached, follow-ups due today or overdue, new leads today: the
    user's own (agents) or the team's (managers and admins), who also see the open leads
    with no next step."""
    tz = ZoneInfo(user.timezone)
    local_midnight = dt.datetime.combine(now.replace(tzinfo=dt.UTC).astimezone(tz).date(), dt.time(), tz)
    day_start = local_midnight.astimezone(dt.UTC).replace(tzinfo=None)
    day_end = day_start + dt.timedelta(days=1)
    mine = not user.can("manager")
    waiting = Conversation.select().where((Conversation.state == "open") & Conversation.waiting_since.is_null(False))
    followups = FollowUp.select().where(
        FollowUp.cancelled_at.is_null() & FollowUp.done_at.is_null() & (FollowUp.due_at < day_end)
    )
    leads = Contact.select().where(Contact.merged_into.is_null() & (Contact.created_at >= day_start))
    if mine:
        waiting = waiting.where(Conversation.assignee == user)
        followups = followups.where(FollowUp.owner == user)
        leads = leads.where(Contact.owner == user)
    return {
        "waiting": waiting.count(),
        "breached": waiting.where(Conversation.breach_notified_at.is_null(False)).count(),
        "followups": followups.count(),
        "new_leads": leads.count(),
        "unassigned": 0 if mine else waiting.where(Conversation.assignee.is_null()).count(),
        "attention": 0 if mine else attention.count(),
    }


def daily_summaries(now: dt.datetime | None = None, base_url: str = "") -> int:
    """Send each user who chose an hour their summary once per local day."""
    now = now or utcnow()
    channel = mailbox()
    if channel is None:
        return 0
    sent = 0
    for user in User.select().where(User.active & User.summary_hour.is_null(False)):
        local = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(user.timezone))
        if local.hour != user.summary_hour or user.summary_sent_on == local.date():
            continue
        claimed = (
            User.update(summary_sent_on=local.date())
            .where((User.id == user.id) & ((User.summary_sent_on.is_null()) | (User.summary_sent_on != local.date())))
            .execute()
        )
        if not claimed:
            continue
        _ = _gettext(user.locale)
        f = summary_figures(user, now)
        lines = [
            _("Waiting for a reply now: %(n)s") % {"n": f["waiting"]},
            _("Over the response-time target: %(n)s") % {"n": f["breached"]},
            _("Follow-ups due today or overdue: %(n)s") % {"n": f["followups"]},
            _("New leads today: %(n)s") % {"n": f["new_leads"]},
        ]
        if user.can("manager"):
            lines.append(_("Unassigned and waiting: %(n)s") % {"n": f["unassigned"]})
            lines.append(_("Open leads with no next step (Needs attention): %(n)s") % {"n": f["attention"]})
        if base_url:
            lines.append(f"\n{base_url.rstrip('/')}/inbox")
        try:
            send_mail(channel, user.email, _("Your daily inbox summary"), "\n".join(lines))
            sent += 1
        except ChannelError as exc:
            User.update(summary_sent_on=None).where(User.id == user.id).execute()
            log.warning("daily summary to user %s failed: %s", user.id, exc)
    return sent
