"""The weekly report: the past week's headline figures (with the week before for
comparison) emailed to managers and admins in their language, with a link to the
dashboard for that week. Sent once per week, at the team's chosen local weekday and hour,
through the team mailbox, like the daily summaries."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .. import team
from ..channels import ChannelError
from ..db import utcnow
from ..digest import _gettext, mailbox, send_mail
from ..models import TeamSetting, User
from . import funnel, now, replies
from .period import Filters

log = logging.getLogger(__name__)


@dataclass
class Headlines:
    replies: int
    first_median: float | None
    response_p90: float | None
    within_target: float | None
    leads: int
    contacted_1h: float | None
    response_rate: float | None
    conversion: float | None


def headlines(f: Filters) -> Headlines:
    r = replies.report(f).overall
    leads = funnel.report(f).overall
    return Headlines(
        r.all.count, r.first.median, r.all.p90, r.attainment, leads.leads, leads.contact_rate_1h,
        leads.response_rate, leads.conversion_rate,
    )  # fmt: skip


def last_week(moment: dt.datetime) -> Filters:
    tz = ZoneInfo(team.get("timezone"))
    today = moment.replace(tzinfo=dt.UTC).astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    return Filters(start=monday, end=monday + dt.timedelta(days=6), tz=tz)


def _duration(seconds: float | None, _) -> str:
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("%(m)s min") % {"m": minutes}
    return _("%(h)s h %(m)s min") % {"h": minutes // 60, "m": minutes % 60}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def compose(week: Filters, locale: str, base_url: str) -> tuple[str, str]:
    """Subject and body of the report for ``week``, in ``locale``."""
    _ = _gettext(locale)
    this, before = headlines(week), headlines(week.previous())
    snapshot = now.snapshot()

    def line(label: str, value: str, previous: str) -> str:
        return f"{label}: {value}  ({_('week before')}: {previous})"

    lines = [
        _("Week of %(start)s to %(end)s") % {"start": week.start.isoformat(), "end": week.end.isoformat()},
        "",
        line(_("Replies"), str(this.replies), str(before.replies)),
        line(_("First response, median"), _duration(this.first_median, _), _duration(before.first_median, _)),
        line(_("Response, p90"), _duration(this.response_p90, _), _duration(before.response_p90, _)),
        line(_("Within target"), _percent(this.within_target), _percent(before.within_target)),
        line(_("New leads"), str(this.leads), str(before.leads)),
        line(_("Leads contacted within 1 h"), _percent(this.contacted_1h), _percent(before.contacted_1h)),
        line(_("Response rate"), _percent(this.response_rate), _percent(before.response_rate)),
        line(_("Conversion rate"), _percent(this.conversion), _percent(before.conversion)),
        "",
        _("Waiting for a reply now: %(n)s") % {"n": snapshot.waiting},
        _("Over the response-time target: %(n)s") % {"n": snapshot.breached},
    ]
    if base_url:
        lines += ["", f"{base_url.rstrip('/')}/stats/responses?{urlencode(week.args())}"]
    return _("Weekly inbox report, %(start)s") % {"start": week.start.isoformat()}, "\n".join(lines)


def _claim(week_start: str) -> bool:
    """Mark the week as reported; False when another worker did it first."""
    TeamSetting.insert(key="weekly_report_last", value=None).on_conflict_ignore().execute()
    return bool(
        TeamSetting.update(value=week_start, updated_at=utcnow())
        .where(
            (TeamSetting.key == "weekly_report_last")
            & (TeamSetting.value.is_null() | (TeamSetting.value != week_start))
        )
        .execute()
    )


def send_due(moment: dt.datetime | None = None, base_url: str = "") -> int:
    """Send the report if it is the chosen hour and this week's was not sent. Returns
    how many managers got it."""
    moment = moment or utcnow()
    values = team.snapshot()
    if not values["weekly_report_enabled"]:
        return 0
    local = moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(values["timezone"]))
    if local.weekday() != int(values["weekly_report_day"]) or local.hour < int(values["weekly_report_hour"]):
        return 0
    channel = mailbox()
    week = last_week(moment)
    if channel is None or values["weekly_report_last"] == week.start.isoformat() or not _claim(week.start.isoformat()):
        return 0
    sent = 0
    managers = User.select().where(User.active & User.role.in_(["manager", "admin"])).order_by(User.id)
    for user in managers:
        subject, body = compose(week, user.locale, base_url)
        try:
            send_mail(channel, user.email, subject, body)
            sent += 1
        except ChannelError as exc:
            log.warning("weekly report to user %s failed: %s", user.id, exc)
    return sent
