"""The inbox list and the conversation page, with their actions and live updates."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user

import tasks

from .. import automation, canned, consent, conversations, htmx, listing, outbound, timeline
from ..db import utcnow
from ..i18n import translate
from ..models import LEAD_STATUSES, Attachment, Contact, Conversation, Message, Template, User
from ..web import cursor_arg, get_or_404, int_arg, login_required, sla_policy, to_utc

bp = Blueprint("conversations", __name__)

SNOOZE_PRESETS = {
    "1h": dt.timedelta(hours=1),
    "3h": dt.timedelta(hours=3),
    "1d": dt.timedelta(days=1),
    "1w": dt.timedelta(weeks=1),
}


def _me() -> User:
    return current_user._get_current_object()


# Inline in the browser; everything else (SVG, HTML, PDF...) is a download.
RASTER_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"}


def _filter() -> listing.InboxFilter:
    int_arg("assignee", source=request.args)  # a non-number is a 400, not a 500
    cursor_arg("cursor")
    f = listing.InboxFilter.from_args(request.args, default_folder="open")
    if f.assignee is not None and not current_user.can("manager"):
        f.assignee = None  # looking at one colleague's queue is a manager view
    return f


@bp.get("/")
@login_required
def home():
    return redirect(url_for("conversations.index"))


@bp.get("/inbox")
@login_required
def index():
    f = _filter()
    page = listing.conversations(_me(), f, policy=sla_policy())  # the policy also colours the badges
    context = dict(
        f=f, page=page, counts=listing.folder_counts(_me()), since=listing.now_token(),
        agents=User.select().where(User.active).order_by(User.name), lead_statuses=LEAD_STATUSES,
    )  # fmt: skip
    if htmx and request.args.get("fragment") == "rows":
        return render_template("conversations/_rows.html", **context)
    if htmx and htmx.target == "inbox-list":
        return render_template("conversations/_list.html", **context)
    return render_template("conversations/index.html", **context)


@bp.get("/inbox/updates")
@login_required
def updates():
    """Rows changed since the list was drawn; the page moves or replaces them."""
    f = _filter()
    f.cursor = None
    page = listing.conversations(
        _me(), f, limit=50, updated_since=_since(), policy=sla_policy() if f.breached else None
    )
    if page.rows:
        sla_policy()  # read once for every badge, not per row
    return render_template("conversations/_updates.html", page=page, f=f, since=listing.now_token())


def _since() -> dt.datetime:
    """The ``since`` token of a live update as naive UTC, less two seconds of slack."""
    try:
        since = dt.datetime.fromisoformat(request.args.get("since", ""))
        if since.tzinfo is not None:
            since = since.astimezone(dt.UTC).replace(tzinfo=None)
        return since - dt.timedelta(seconds=2)
    except (ValueError, OverflowError):
        abort(400, description=gettext("since must be a timestamp."))


def _conversation(conversation_id: int) -> Conversation:
    return get_or_404(Conversation, conversation_id)


def conversation_context(conv: Conversation) -> dict:
    from .. import contacts

    tl = timeline.page(conv)
    last_message, last_event = timeline.last_ids(conv)
    sla_policy()  # for the waiting badge
    return dict(
        **composer_context(conv),
        conv=conv,
        contact=conv.contact,
        timeline=tl,
        identities=contacts.identities_of([conv.contact_id])[conv.contact_id],
        tags=contacts.tags_of([conv.contact_id])[conv.contact_id],
        agents=list(User.select().where(User.active).order_by(User.name)),
        lead_statuses=LEAD_STATUSES,
        last_message=last_message,
        last_event=last_event,
        since=listing.now_token(),
        presets=SNOOZE_PRESETS,
    )


@bp.get("/c/<int:conversation_id>")
@login_required
def show(conversation_id: int):
    conv = _conversation(conversation_id)
    return render_template("conversations/show.html", **conversation_context(conv))


@bp.get("/c/<int:conversation_id>/timeline")
@login_required
def older(conversation_id: int):
    conv = _conversation(conversation_id)
    tl = timeline.page(conv, before=cursor_arg("before"))
    return render_template("conversations/_older.html", conv=conv, timeline=tl)


@bp.get("/c/<int:conversation_id>/updates")
@login_required
def conversation_updates(conversation_id: int):
    conv = _conversation(conversation_id)
    after_message = int_arg("after_message", 0)
    after_event = int_arg("after_event", 0)
    since = _since()
    changes = timeline.changes(conv, after_message, after_event, since)
    header_changed = conv.updated_at > since
    if header_changed:
        sla_policy()  # for the waiting badge
    return render_template(
        "conversations/_conversation_updates.html",
        conv=conv, changes=changes, since=listing.now_token(), header_changed=header_changed,
        agents=list(User.select().where(User.active).order_by(User.name)), presets=SNOOZE_PRESETS,
    )  # fmt: skip


def _after_action(conv: Conversation, error: str | None = None, status: int = 200, notice: str | None = None):
    """Answer an action: the fresh header (HTMX) or a redirect back (plain form)."""
    if not htmx:
        if error:
            abort(400, description=error)
        if notice:
            flash(notice)
        return redirect(url_for("conversations.show", conversation_id=conv.id), code=303)
    conv = Conversation.get_by_id(conv.id)
    sla_policy()  # for the waiting badge
    html = render_template(
        "conversations/_header.html", conv=conv, contact=conv.contact, error=error, notice=notice,
        agents=list(User.select().where(User.active).order_by(User.name)), presets=SNOOZE_PRESETS,
    )  # fmt: skip
    response = make_response(html, status if not error else 200)
    response.headers["HX-Trigger"] = "timeline-refresh"
    return response


@bp.post("/c/<int:conversation_id>/assign")
@login_required
def assign_POST(conversation_id: int):
    conv = _conversation(conversation_id)
    assignee_id = int_arg("assignee_id")
    assignee = None
    if assignee_id:
        assignee = User.get_or_none(User.id == assignee_id)
        if assignee is None:
            abort(404)
    try:
        conversations.assign(conv, _me(), assignee)
    except conversations.ConversationError as exc:
        return _after_action(conv, translate(exc))
    return _after_action(conv)


@bp.post("/c/<int:conversation_id>/close")
@login_required
def close_POST(conversation_id: int):
    conv = _conversation(conversation_id)
    conversations.close(conv, _me())
    return _after_action(conv)


@bp.post("/c/<int:conversation_id>/reopen")
@login_required
def reopen_POST(conversation_id: int):
    conv = _conversation(conversation_id)
    conversations.reopen(conv, _me())
    return _after_action(conv)


@bp.post("/c/<int:conversation_id>/snooze")
@login_required
def snooze_POST(conversation_id: int):
    conv = _conversation(conversation_id)
    preset = request.form.get("preset", "")
    if preset in SNOOZE_PRESETS:
        until = utcnow() + SNOOZE_PRESETS[preset]
    else:
        raw = request.form.get("until", "")
        try:
            until = to_utc(dt.datetime.fromisoformat(raw))
        except ValueError:
            return _after_action(conv, gettext("Pick a date and time to snooze until."))
    try:
        conversations.snooze(conv, _me(), until)
    except conversations.ConversationError as exc:
        return _after_action(conv, translate(exc))
    return _after_action(conv)


def composer_context(conv: Conversation) -> dict:
    """What the composer needs besides the conversation: the channels the contact can be
    reached on, why some are blocked (opt-outs, consent), and the WhatsApp window."""
    contact = Contact.get_by_id(conv.contact_id)
    kinds = outbound.reachable_kinds(conv)
    return dict(
        kinds=kinds,
        blocked={k: consent.blocked_reason(contact, k) for k in kinds},
        wa_left=consent.window_left(conv.id) if "whatsapp" in kinds else None,
    )


def _composer(conv: Conversation, *, error: str | None = None, text: str = "", kind: str | None = None, status=200):
    html = render_template(
        "conversations/_composer.html", conv=conv, error=error, text=text, selected_kind=kind,
        **composer_context(conv),
    )  # fmt: skip
    response = make_response(html, status)
    if error is None:
        response.headers["HX-Trigger"] = "timeline-refresh"
    return response


@bp.post("/c/<int:conversation_id>/reply")
@login_required
def reply_POST(conversation_id: int):
    conv = _conversation(conversation_id)
    kind = request.form.get("kind", "")
    text = request.form.get("text", "")
    mode = request.form.get("mode", "reply")
    try:
        if mode == "note":
            conversations.add_note(conv, _me(), text)
        else:
            subject = request.form.get("subject", "")
            files = [
                (f.filename or "attachment", f.mimetype or "application/octet-stream", f.read())
                for f in request.files.getlist("attachments")
                if f and f.filename
            ]
            template_id = int_arg("template_id")
            template = Template.get_or_none(Template.id == template_id) if template_id else None
            if template is not None and not (kind == "whatsapp" and template.content_sid):
                template = None  # an ordinary canned reply was inserted as text
            message = automation.reply(
                conv, kind=kind, text=text, author=_me(), subject=subject, attachments=files, template=template
            )
            tasks.deliver(message.id)
    except (outbound.SendError, conversations.ConversationError) as exc:
        if not htmx:
            abort(400, description=translate(exc))
        return _composer(conv, error=translate(exc), text=text, kind=kind)
    if not htmx:
        return redirect(url_for("conversations.show", conversation_id=conv.id), code=303)
    return _composer(conv, kind=kind)


@bp.post("/c/<int:conversation_id>/messages/<int:message_id>/retry")
@login_required
def retry_POST(conversation_id: int, message_id: int):
    conv = _conversation(conversation_id)
    message = Message.get_or_none((Message.id == message_id) & (Message.conversation == conv))
    if message is None:
        abort(404)
    if automation.retry(message):
        tasks.deliver(message.id)
    return _after_action(conv)


@bp.get("/c/<int:conversation_id>/templates")
@login_required
def template_picker(conversation_id: int):
    conv = _conversation(conversation_id)
    kind = request.args.get("kind") or None
    found = canned.search(request.args.get("q", "")[:60], kind=kind)
    if kind == "whatsapp" and consent.window_left(conv.id) is None:
        found = [t for t in found if t.content_sid]  # outside the window only approved templates can go
    return render_template("conversations/_template_picker.html", conv=conv, templates=found)


@bp.get("/c/<int:conversation_id>/templates/render")
@login_required
def template_render(conversation_id: int):
    conv = _conversation(conversation_id)
    shortcut = request.args.get("shortcut", "").lstrip("/").lower()[:40]
    template_id = int_arg("template_id")
    template = (
        Template.get_or_none(Template.id == template_id)
        if template_id
        else Template.get_or_none(Template.shortcut == shortcut)
    )
    if template is None:
        abort(404)
    try:
        text = canned.render(template.body, conv.contact, _me(), conv)
    except canned.TemplateProblem as exc:
        abort(400, description=translate(exc))
    response = make_response(text)
    response.mimetype = "text/plain"
    return response


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    att = get_or_404(Attachment, attachment_id)
    if att.data is None:
        abort(404, description=gettext("This file was not kept: %(note)s", note=att.note or ""))
    content_type = att.content_type.split(";")[0].strip().lower()
    inline = content_type in RASTER_IMAGES
    response = send_file(
        BytesIO(bytes(att.data)),
        mimetype=content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=" ".join(att.filename.split()) or "attachment",  # no line breaks in a header
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
