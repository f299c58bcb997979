"""Reminders: "Remind me" on a conversation, and the page of one's own reminders (what is
coming, what fired lately) with cancel and done."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user

from .. import reminders
from ..db import utcnow
from ..i18n import translate
from ..models import Contact, Conversation, FollowUp
from ..web import get_or_404, login_required, to_utc
from .conversations import _after_action

bp = Blueprint("reminders", __name__)

PRESET_LABELS = {
    "1h": lazy_gettext("In 1 hour"),
    "3h": lazy_gettext("In 3 hours"),
    "1d": lazy_gettext("Tomorrow (24 h)"),
    "3d": lazy_gettext("In 3 days"),
    "1w": lazy_gettext("In 1 week"),
}
KIND_LABELS = {
    "manual": lazy_gettext("Reminder"),
    "lead_unanswered": lazy_gettext("New lead not answered"),
    "reengage": lazy_gettext("Re-engage"),
    "cadence": lazy_gettext("Follow-up"),
    "reactivation": lazy_gettext("Reactivation"),
    "lead_ack": lazy_gettext("Acknowledgement"),
}
RECENT_DAYS = 14
SHOWN = 200


def _me():
    return current_user._get_current_object()


@bp.record_once
def _template_globals(state):
    state.app.jinja_env.globals.update(
        reminder_presets=lambda: [(key, str(PRESET_LABELS.get(key, key))) for key in reminders.PRESETS],
        reminder_kind_label=lambda kind: str(KIND_LABELS.get(kind, kind)),
    )


@bp.post("/c/<int:conversation_id>/remind")
@login_required
def remind_POST(conversation_id: int):
    conv = get_or_404(Conversation, conversation_id)
    preset = request.form.get("preset", "")
    if preset in reminders.PRESETS:
        due_at = utcnow() + reminders.PRESETS[preset]
    else:
        try:
            due_at = to_utc(dt.datetime.fromisoformat(request.form.get("due_at", "")))
        except ValueError:
            return _after_action(conv, gettext("Pick a date and time for the reminder."))
    try:
        reminders.remind(conv, _me(), due_at, request.form.get("note", ""))
    except reminders.ReminderError as exc:
        return _after_action(conv, translate(exc))
    return _after_action(conv, notice=gettext("Reminder set for %(when)s.", when=format_datetime(due_at, "short")))


def _with_conversation(query):
    return (
        query.select(FollowUp, Conversation, Contact)
        .join(Conversation)
        .join(Contact)
        .switch(FollowUp)
        .where((FollowUp.owner == _me()) & FollowUp.cancelled_at.is_null())
    )


@bp.get("/reminders")
@login_required
def index():
    upcoming = (
        _with_conversation(FollowUp.select())
        .where(FollowUp.fired_at.is_null() & FollowUp.done_at.is_null())
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(SHOWN)
    )
    # Fired lately, and anything fired that is not done yet however old.
    recent = FollowUp.fired_at >= utcnow() - dt.timedelta(days=RECENT_DAYS)
    open_task = FollowUp.fired_at.is_null(False) & FollowUp.done_at.is_null()
    fired = (
        _with_conversation(FollowUp.select())
        .where(recent | open_task)
        .order_by(FollowUp.fired_at.desc(), FollowUp.id.desc())
        .limit(SHOWN)
    )
    return render_template("reminders/index.html", upcoming=list(upcoming), fired=list(fired), days=RECENT_DAYS)


def _own(followup_id: int) -> FollowUp:
    followup = get_or_404(FollowUp, followup_id)
    if followup.owner_id != current_user.id:
        abort(404)  # someone else's: as if it did not exist
    return followup


@bp.post("/reminders/<int:followup_id>/cancel")
@login_required
def cancel_POST(followup_id: int):
    reminders.cancel(_own(followup_id), _me())
    return redirect(url_for("reminders.index"), code=303)


@bp.post("/reminders/<int:followup_id>/done")
@login_required
def done_POST(followup_id: int):
    followup = _own(followup_id)
    if followup.fired_at is None:
        reminders.cancel(followup, _me())  # done before it was due: it must not fire any more
    reminders.complete(followup)
    return redirect(url_for("reminders.index"), code=303)
