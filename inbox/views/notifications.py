"""The notification centre: the bell with the unread count in the header (polled), the
list of recent notifications, opening one, and marking all read."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, render_template, url_for
from flask_login import current_user
from peewee import JOIN

from .. import htmx, labels, notifications
from ..models import Contact, Conversation, Notification
from ..web import get_or_404, login_manager, login_required

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

SHOWN = 50
POLL_STOP = 286  # htmx stops polling on this status


def _me():
    return current_user._get_current_object()


@bp.get("")
@login_required
def index():
    rows = (
        Notification.select(Notification, Conversation, Contact)
        .join(Conversation, JOIN.LEFT_OUTER)
        .join(Contact, JOIN.LEFT_OUTER)
        .where(Notification.user == _me())
        .order_by(Notification.id.desc())
        .limit(SHOWN)
    )
    items = []
    for n in rows:
        contact_name = n.conversation.contact.display_name if n.conversation_id else ""
        items.append({"n": n, "text": labels.notification_text(n.kind, n.params, contact_name)})
    return render_template("notifications/index.html", items=items, unread=notifications.unread_count(_me()))


@bp.get("/count")
def count():
    """The bell, polled by every page. After the session ended it answers "stop polling"
    instead of a redirect to the login page that would be swapped into the header."""
    if not current_user.is_authenticated:
        return make_response("", POLL_STOP) if htmx else login_manager.unauthorized()
    return render_template("notifications/_bell.html", unread=notifications.unread_count(_me()))


@bp.get("/<int:notification_id>")
@login_required
def follow(notification_id: int):
    """Follow a notification: mark it read and go to its conversation."""
    n = get_or_404(Notification, notification_id)
    if n.user_id != current_user.id:
        abort(404)  # someone else's: as if it did not exist
    notifications.mark_read(_me(), n.id)
    if n.conversation_id:
        return redirect(url_for("conversations.show", conversation_id=n.conversation_id))
    return redirect(url_for("notifications.index"))


@bp.post("/read")
@login_required
def read_all_POST():
    notifications.mark_read(_me())
    return redirect(url_for("notifications.index"), code=303)
