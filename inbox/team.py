"""Team settings edited in the app, stored as JSON in TeamSetting, with defaults here."""

from __future__ import annotations

import copy

from . import settings
from .db import utcnow
from .models import TeamSetting

DEFAULTS: dict = {
    # SLA: first matching rule wins; lead_status / channel None means "any".
    "sla_rules": [{"lead_status": "new", "channel": None, "minutes": 60}],
    "sla_default_minutes": 24 * 60,
    "sla_business_time": False,  # count only business hours toward targets
    # Business hours per weekday (0 = Monday) in the team time zone; [] = closed that day.
    "business_hours": {
        "0": [["09:00", "18:00"]],
        "1": [["09:00", "18:00"]],
        "2": [["09:00", "18:00"]],
        "3": [["09:00", "18:00"]],
        "4": [["09:00", "18:00"]],
        "5": [],
        "6": [],
    },  # fmt: skip
    "holidays": [],  # ISO dates
    "timezone": None,  # None: INBOX_TIMEZONE
    # Follow-up cadence for conversations awaiting the customer (days since our last message).
    "cadence_days": [1, 3, 7, 14],
    "cadence_auto_send": False,  # send the step's template instead of creating a task
    "cadence_templates": {},  # step number -> template shortcut
    "quiet_hours": ["21:00", "08:00"],
    # New leads
    "lead_auto_assign": True,
    "lead_ack_template": "",  # shortcut; empty = no automatic acknowledgement
    "lead_ack_templates": {},  # channel kind -> shortcut, before lead_ack_template
    "lead_routing_rules": [],  # [{"channel", "source", "language", "agents": [ids]}], first match wins
    "lead_ack_delay_minutes": 0,
    "lead_reminder_minutes": [60, 24 * 60],
    "lead_reengage_days": 3,  # 0 = no day-3 re-engagement
    "lead_reengage_auto_send": False,  # send lead_reengage_template instead of creating a task
    "lead_reengage_template": "",  # shortcut of the automatic re-engagement message
    # Internal: the agent who got the last auto-assigned lead (the round-robin pointer).
    "lead_round_robin_last": None,
    # Weekly report email to managers: on or off, local weekday (0 = Monday) and hour.
    "weekly_report_enabled": True,
    "weekly_report_day": 0,
    "weekly_report_hour": 8,
    "weekly_report_last": None,  # internal: the Monday of the last week reported
    "reactivation_days": [7, 14],
    "reactivation_templates": {},  # step number -> template shortcut, as cadence_templates
}


def snapshot() -> dict:
    """Every team setting (defaults filled in) from one query."""
    stored = {row.key: row.value for row in TeamSetting.select(TeamSetting.key, TeamSetting.value)}
    values = {key: copy.deepcopy(default) for key, default in DEFAULTS.items()}
    values.update({k: v for k, v in stored.items() if k in DEFAULTS and v is not None})
    if not values.get("timezone"):
        values["timezone"] = settings.get("timezone")
    return values


def get(key: str):
    row = TeamSetting.get_or_none(TeamSetting.key == key)
    value = copy.deepcopy(DEFAULTS[key]) if row is None or row.value is None else row.value
    if key == "timezone" and not value:
        value = settings.get("timezone")
    return value


def put(key: str, value) -> None:
    if key not in DEFAULTS:
        raise KeyError(key)
    TeamSetting.insert(key=key, value=value, updated_at=utcnow()).on_conflict(
        conflict_target=[TeamSetting.key], update={TeamSetting.value: value, TeamSetting.updated_at: utcnow()}
    ).execute()
