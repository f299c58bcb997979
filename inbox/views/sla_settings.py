"""Settings > Reply targets (managers and admins): the SLA policy (reply targets per lead
status and/or channel, business hours, holidays, time zone), the follow-up cadence and
the new-lead automation. All of it is stored with ``team.put``.

The page has three forms (sections); each is validated on its own, nothing of a section
is saved when one of its fields is wrong, and the form comes back with the typed values
and an error under each wrong field."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from .. import team
from ..db import write_transaction
from ..models import CHANNEL_KINDS, LEAD_STATUSES, Template
from ..web import role_required

bp = Blueprint("sla_settings", __name__, url_prefix="/settings/sla")

SECTIONS = ("sla", "followups", "leads", "report")
WEEKDAYS = (
    lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"), lazy_gettext("Thursday"),
    lazy_gettext("Friday"), lazy_gettext("Saturday"), lazy_gettext("Sunday"),
)  # fmt: skip
MAX_MINUTES = 365 * 24 * 60
MAX_RULES = 30
MAX_STEPS = 10
MAX_HOLIDAYS = 366
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Form:
    """Submitted text fields and the errors found in them, by field name."""

    def __init__(self, source):
        self.source = source
        self.errors: dict[str, str] = {}

    def text(self, name: str, limit: int = 200) -> str:
        return (self.source.get(name) or "").strip()[:limit]

    def flag(self, name: str) -> bool:
        return self.source.get(name) in ("1", "on", "true")

    def number(self, name: str, low: int, high: int, value: str | None = None) -> int | None:
        value = self.text(name) if value is None else value.strip()
        if value.isascii() and value.isdigit() and low <= int(value) <= high:
            return int(value)
        self.errors[name] = gettext("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        return None

    def numbers(self, name: str, low: int, high: int) -> list[int] | None:
        """ "1, 3, 7": whole numbers in increasing order; empty means none."""
        parts = [p for p in re.split(r"[\s,]+", self.text(name, 400)) if p]
        if all(p.isascii() and p.isdigit() and low <= int(p) <= high for p in parts):
            values = [int(p) for p in parts]
            if len(values) <= MAX_STEPS and all(a < b for a, b in zip(values, values[1:], strict=False)):
                return values
        self.errors[name] = gettext(
            "Enter up to %(n)s whole numbers from %(low)s to %(high)s, separated by commas, smallest first.",
            n=MAX_STEPS, low=low, high=high,
        )  # fmt: skip
        return None

    def time(self, name: str) -> str | None:
        value = self.text(name, 10)
        if TIME.match(value):
            return value
        self.errors[name] = gettext("Enter a time as HH:MM, for example 09:00.")
        return None

    def shortcut(self, name: str, known: set[str]) -> str | None:
        value = self.text(name, 60).lstrip("/")
        if value and value not in known:
            self.errors[name] = gettext("There is no template /%(shortcut)s.", shortcut=value)
            return None
        return value


def _known(key: str) -> bool:
    """Whether the team settings have ``key`` (newer automation settings show up when they do)."""
    return key in team.DEFAULTS


def _count(numbers: str) -> int:
    """How many steps a typed list such as "1, 3, 7" has (for its template choices)."""
    return min(len([p for p in re.split(r"[\s,]+", numbers) if p]), MAX_STEPS)


def _zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _shortcuts() -> list[Template]:
    return list(Template.select(Template.shortcut, Template.name).order_by(Template.shortcut))


# --- what the forms show ------------------------------------------------------------------


def _stored(section: str) -> dict:
    """A section's stored settings as the form's text values."""
    if section == "sla":
        hours = team.get("business_hours")
        days = {}
        for day in range(7):
            spans = hours.get(str(day)) or []
            days[day] = {  # a closed day offers the usual hours for when it is opened
                "open": spans[0][0] if spans else "09:00",
                "close": spans[-1][1] if spans else "18:00",
                "closed": not spans,
                "spans": len(spans),
            }
        return {
            "rules": [
                {
                    "lead_status": r.get("lead_status") or "",
                    "channel": r.get("channel") or "",
                    "minutes": str(r["minutes"]),
                }
                for r in team.get("sla_rules")
            ],
            "sla_default_minutes": str(team.get("sla_default_minutes")),
            "sla_business_time": bool(team.get("sla_business_time")),
            "days": days,
            "holidays": "\n".join(team.get("holidays")),
            "timezone": team.get("timezone"),
        }
    if section == "followups":
        quiet = team.get("quiet_hours") or ["", ""]
        return {
            "cadence_days": ", ".join(str(d) for d in team.get("cadence_days")),
            "cadence_auto_send": bool(team.get("cadence_auto_send")),
            "cadence_templates": {str(k): v for k, v in (team.get("cadence_templates") or {}).items()},
            "steps": len(team.get("cadence_days")),
            "quiet_start": quiet[0],
            "quiet_end": quiet[1],
            "reactivation_days": ", ".join(str(d) for d in team.get("reactivation_days")),
            "reactivation_templates": {
                str(k): v
                for k, v in (
                    (team.get("reactivation_templates") if _known("reactivation_templates") else None) or {}
                ).items()
            },
            "reactivation_steps": len(team.get("reactivation_days")),
        }
    if section == "report":
        values = team.snapshot()
        day = str(values["weekly_report_day"]) if values["weekly_report_enabled"] else ""
        return {"weekly_report_day": day, "weekly_report_hour": str(values["weekly_report_hour"])}
    return {
        "lead_auto_assign": bool(team.get("lead_auto_assign")),
        "lead_ack_template": team.get("lead_ack_template") or "",
        "lead_ack_delay_minutes": str(team.get("lead_ack_delay_minutes")),
        "lead_reminder_minutes": ", ".join(str(m) for m in team.get("lead_reminder_minutes")),
        "lead_reengage_days": str(team.get("lead_reengage_days")),
        "lead_reengage_auto_send": bool(team.get("lead_reengage_auto_send"))
        if _known("lead_reengage_auto_send")
        else False,
        "lead_reengage_template": (team.get("lead_reengage_template") if _known("lead_reengage_template") else "")
        or "",
    }


def _submitted_rules(form: Form) -> list[dict]:
    statuses = request.form.getlist("rule_lead_status")[:MAX_RULES]
    channels = request.form.getlist("rule_channel")[:MAX_RULES]
    minutes = request.form.getlist("rule_minutes")[:MAX_RULES]
    removed = set(request.form.getlist("rule_remove"))
    rules = []
    for i, value in enumerate(minutes):
        rule = {
            "lead_status": statuses[i] if i < len(statuses) else "",
            "channel": channels[i] if i < len(channels) else "",
            "minutes": value.strip()[:12],
        }
        if str(i) in removed or not (rule["minutes"] or rule["lead_status"] or rule["channel"]):
            continue  # removed, or the empty row for a new rule left empty
        rules.append(rule)
    return rules


def _submitted(section: str, form: Form) -> dict:
    """A section's submitted values as the form shows them again."""
    if section == "sla":
        return {
            "rules": _submitted_rules(form),
            "sla_default_minutes": form.text("sla_default_minutes"),
            "sla_business_time": form.flag("sla_business_time"),
            "days": {
                day: {
                    "open": form.text(f"open_{day}", 10),
                    "close": form.text(f"close_{day}", 10),
                    "closed": form.flag(f"closed_{day}"),
                    "spans": 1,
                }  # fmt: skip
                for day in range(7)
            },
            "holidays": form.text("holidays", 20_000),
            "timezone": form.text("timezone", 80),
        }
    if section == "followups":
        days = form.text("cadence_days", 400)
        reactivation = form.text("reactivation_days", 400)
        return {
            "cadence_days": days,
            "cadence_auto_send": form.flag("cadence_auto_send"),
            "cadence_templates": {str(i): form.text(f"cadence_template_{i}", 60) for i in range(1, MAX_STEPS + 1)},
            "steps": _count(days),
            "quiet_start": form.text("quiet_start", 10),
            "quiet_end": form.text("quiet_end", 10),
            "reactivation_days": reactivation,
            "reactivation_templates": {
                str(i): form.text(f"reactivation_template_{i}", 60) for i in range(1, MAX_STEPS + 1)
            },
            "reactivation_steps": _count(reactivation),
        }
    if section == "report":
        return {
            "weekly_report_day": form.text("weekly_report_day", 4),
            "weekly_report_hour": form.text("weekly_report_hour", 4),
        }
    return {
        "lead_auto_assign": form.flag("lead_auto_assign"),
        "lead_ack_template": form.text("lead_ack_template", 60),
        "lead_ack_delay_minutes": form.text("lead_ack_delay_minutes"),
        "lead_reminder_minutes": form.text("lead_reminder_minutes", 400),
        "lead_reengage_days": form.text("lead_reengage_days"),
        "lead_reengage_auto_send": form.flag("lead_reengage_auto_send"),
        "lead_reengage_template": form.text("lead_reengage_template", 60),
    }


# --- validation: the values to store, or errors --------------------------------------------


def _validate_sla(form: Form, values: dict) -> dict:
    rules, seen = [], set()
    for i, rule in enumerate(values["rules"]):
        lead_status = rule["lead_status"] or None
        channel = rule["channel"] or None
        if lead_status not in (None, *LEAD_STATUSES):
            form.errors[f"rule_{i}"] = gettext("Choose a lead status from the list.")
            continue
        if channel not in (None, *CHANNEL_KINDS):
            form.errors[f"rule_{i}"] = gettext("Choose a channel from the list.")
            continue
        if lead_status is None and channel is None:
            form.errors[f"rule_{i}"] = gettext(
                "Choose a lead status or a channel (or both); the default target covers everything else."
            )
            continue
        if (lead_status, channel) in seen:
            form.errors[f"rule_{i}"] = gettext("This rule repeats an earlier one.")
            continue
        seen.add((lead_status, channel))
        minutes = form.number(f"rule_{i}", 1, MAX_MINUTES, value=rule["minutes"])
        rules.append({"lead_status": lead_status, "channel": channel, "minutes": minutes})
    default = form.number("sla_default_minutes", 1, MAX_MINUTES)
    stored_hours = team.get("business_hours")
    hours = {}
    for day, d in values["days"].items():
        if d["closed"] or not (d["open"] or d["close"]):
            hours[str(day)] = []
            continue
        opens, closes = form.time(f"open_{day}"), form.time(f"close_{day}")
        if opens is None or closes is None:
            continue
        if closes <= opens:
            form.errors[f"close_{day}"] = gettext("The closing time must be after the opening time.")
            continue
        spans = stored_hours.get(str(day)) or []
        if len(spans) > 1 and (spans[0][0], spans[-1][1]) == (opens, closes):
            hours[str(day)] = spans  # a day with a break, unchanged: keep its spans
        else:
            hours[str(day)] = [[opens, closes]]
    holidays, bad = set(), []
    for part in re.split(r"[\s,]+", values["holidays"]):
        if not part:
            continue
        try:
            holidays.add(dt.date.fromisoformat(part).isoformat())
        except ValueError:
            bad.append(part)
    if bad:
        form.errors["holidays"] = gettext(
            "Not a date: %(values)s. Write dates as YYYY-MM-DD, one per line.", values=", ".join(bad[:5])
        )
    elif len(holidays) > MAX_HOLIDAYS:
        form.errors["holidays"] = gettext("At most %(n)s holidays.", n=MAX_HOLIDAYS)
    if values["timezone"] not in available_timezones():
        form.errors["timezone"] = gettext("Choose a time zone from the list.")
    return {
        "sla_rules": rules,
        "sla_default_minutes": default,
        "sla_business_time": values["sla_business_time"],
        "business_hours": hours,
        "holidays": sorted(holidays),
        "timezone": values["timezone"],
    }


def _validate_followups(form: Form, values: dict) -> dict:
    days = form.numbers("cadence_days", 1, 365)
    known = {t.shortcut for t in _shortcuts()}
    templates = {}
    for step in range(1, len(days or []) + 1):
        shortcut = form.shortcut(f"cadence_template_{step}", known)
        if shortcut:
            templates[str(step)] = shortcut
    if values["quiet_start"] or values["quiet_end"]:
        quiet = [form.time("quiet_start"), form.time("quiet_end")]
        if None not in quiet and quiet[0] == quiet[1]:
            form.errors["quiet_end"] = gettext("Quiet hours need an end that differs from the start.")
    else:
        quiet = []  # switched off
    reactivation = form.numbers("reactivation_days", 1, 365)
    cleaned = {
        "cadence_days": days,
        "cadence_auto_send": values["cadence_auto_send"],
        "cadence_templates": templates,
        "quiet_hours": quiet,
        "reactivation_days": reactivation,
    }
    if _known("reactivation_templates"):
        cleaned["reactivation_templates"] = {}
        for step in range(1, len(reactivation or []) + 1):
            shortcut = form.shortcut(f"reactivation_template_{step}", known)
            if shortcut:
                cleaned["reactivation_templates"][str(step)] = shortcut
    return cleaned


def _validate_leads(form: Form, values: dict) -> dict:
    known = {t.shortcut for t in _shortcuts()}
    cleaned = {
        "lead_auto_assign": values["lead_auto_assign"],
        "lead_ack_template": form.shortcut("lead_ack_template", known),
        "lead_ack_delay_minutes": form.number("lead_ack_delay_minutes", 0, 24 * 60),
        "lead_reminder_minutes": form.numbers("lead_reminder_minutes", 1, 30 * 24 * 60),
        "lead_reengage_days": form.number("lead_reengage_days", 0, 365),
    }
    if _known("lead_reengage_auto_send"):
        cleaned["lead_reengage_auto_send"] = values["lead_reengage_auto_send"]
    if _known("lead_reengage_template"):
        cleaned["lead_reengage_template"] = form.shortcut("lead_reengage_template", known)
    return cleaned


def _validate_report(form: Form, values: dict) -> dict:
    if not values["weekly_report_day"]:
        return {"weekly_report_enabled": False}
    return {
        "weekly_report_enabled": True,
        "weekly_report_day": form.number("weekly_report_day", 0, 6),
        "weekly_report_hour": form.number("weekly_report_hour", 0, 23),
    }


VALIDATORS = {
    "sla": _validate_sla,
    "followups": _validate_followups,
    "leads": _validate_leads,
    "report": _validate_report,
}
SAVED = {
    "sla": lazy_gettext("Response targets saved."),
    "followups": lazy_gettext("Follow-up settings saved."),
    "leads": lazy_gettext("New-lead settings saved."),
    "report": lazy_gettext("Weekly report settings saved."),
}


def _page(values: dict, errors: dict | None = None, section: str | None = None, status: int = 200):
    return render_template(
        "settings/sla.html", v=values, errors=errors or {}, failed=section, weekdays=WEEKDAYS,
        lead_statuses=LEAD_STATUSES, channels=CHANNEL_KINDS, zones=_zones(), templates=_shortcuts(),
        known=_known,
    ), status  # fmt: skip


@bp.get("")
@role_required("manager")
def edit_GET():
    return _page({s: _stored(s) for s in SECTIONS})


@bp.post("")
@role_required("manager")
def edit_POST():
    section = request.form.get("section")
    if section not in SECTIONS:
        section = "sla"
    form = Form(request.form)
    submitted = _submitted(section, form)
    values = {s: submitted if s == section else _stored(s) for s in SECTIONS}
    if section == "sla" and request.form.get("add_rule"):
        submitted["rules"].append({"lead_status": "", "channel": "", "minutes": ""})
        return _page(values, section=None)  # one more row to fill; nothing saved yet
    cleaned = VALIDATORS[section](form, submitted)
    if form.errors:
        return _page(values, form.errors, section, status=400)
    with write_transaction():
        for key, value in cleaned.items():
            team.put(key, value)
    flash(str(SAVED[section]), "ok")
    return redirect(url_for("sla_settings.edit_GET", _anchor=f"section-{section}"), code=303)
