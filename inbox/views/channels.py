"""Settings > Channels (admins): connect a mailbox or a Twilio account (SMS and WhatsApp),
change it, test the connection, sync (poll) now, and watch each channel's health and sync
progress. Edit, test and sync switch on the channel's kind.

Passwords, auth tokens and API secrets go from the form straight into ``channel_config``
(which encrypts them) and are never put back into a page: an empty field keeps the stored
one."""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

import tasks

from .. import channel_config, intake
from ..channels import ChannelError
from ..channels.email import SECURITY, EmailSettings
from ..channels.twilio import TwilioSettings
from ..db import write_transaction
from ..i18n import translate
from ..models import Channel, Message
from ..web import get_or_404, int_arg, role_required

bp = Blueprint("channels", __name__, url_prefix="/settings/channels")

PASSWORDS = ("imap_password", "smtp_password")
TWILIO_FIELDS = (
    "account_sid", "auth_token", "api_key_sid", "api_key_secret", "sms_from", "whatsapp_from",
    "messaging_service_sid", "api_base_url",
)  # fmt: skip
TWILIO_SECRETS = ("auth_token", "api_key_secret")
KINDS = ("email", "twilio")  # the kinds these pages can set up
NEW_DEFAULTS = {
    "imap_port": 993, "imap_security": "ssl", "smtp_port": 465, "smtp_security": "ssl",
    "folders": "INBOX", "poll_seconds": 60,
}  # fmt: skip
UNPARSED_SHOWN = 100
STATUS_WAIT_POLLS = 30  # after "Sync now": look for the worker's progress for up to a minute


def _me():
    return current_user._get_current_object()


def _channel_or_404(channel_id: int) -> Channel:
    channel = get_or_404(Channel, channel_id)
    if channel.kind not in KINDS:
        abort(404)
    return channel


def _form_values(source) -> dict:
    """What the form shows: submitted or stored values, never a password."""
    values = {name: source.get(name) for name in ("name", *channel_config.EMAIL_FIELDS) if name not in PASSWORDS}
    folders = values.get("folders")
    if isinstance(folders, list | tuple):
        values["folders"] = ", ".join(folders)
    return values


def _twilio_values(source) -> dict:
    """What the Twilio form shows: submitted or stored values, never a token or secret."""
    return {name: source.get(name) for name in ("name", *TWILIO_FIELDS) if name not in TWILIO_SECRETS}


def _unparsed(channel: Channel):
    return (
        Message.select(Message.id, Message.conversation, Message.subject, Message.sent_at, Message.parse_error)
        .where((Message.channel == channel) & Message.parse_error.is_null(False))
        .order_by(Message.id.desc())
    )


def _marker(channel: Channel) -> str:
    """Changes when a poll ends, well or badly: how the status knows a sync has finished."""
    last = channel.last_poll_at.isoformat() if channel.last_poll_at else ""
    return f"{last}/{channel.error_count}"


def _status_context(channel: Channel, since: str | None = None, wait: int = 0, note: str | None = None) -> dict:
    """What the status partial shows. It asks for itself again in 2 s while a sync is
    running, or while a requested sync has not finished yet (at most ``wait`` more times)."""
    progress = (channel.cursor or {}).get("progress")
    since = since if since is not None else _marker(channel)
    waiting = not progress and wait > 0 and since == _marker(channel)
    refresh = None
    if progress or waiting:
        refresh = url_for(
            "channels.status", channel_id=channel.id, since=since, wait=max(wait - 1, 0) if waiting else wait
        )
    retry_at = None
    if channel.error_count and (channel.cursor or {}).get("retry_at"):
        try:
            retry_at = dt.datetime.fromisoformat(channel.cursor["retry_at"])
        except (TypeError, ValueError):
            retry_at = None
    return {
        "channel": channel, "progress": progress, "waiting": waiting, "refresh": refresh, "note": note,
        "retry_at": retry_at,
    }  # fmt: skip


def _status(channel: Channel, since: str | None = None, wait: int = 0, note: str | None = None) -> str:
    return render_template("channels/_status.html", s=_status_context(channel, since, wait, note))


def _form_page(channel: Channel | None, values: dict, error=None, status: int = 200, kind: str = "email"):
    errors = {}
    if isinstance(error, channel_config.ChannelConfigError):
        errors[error.field or "form"] = translate(error)
    elif isinstance(error, dict):
        errors = error
    elif error:
        errors["form"] = str(error)
    stored = channel_config.public_settings(channel) if channel else {}
    if (channel.kind if channel else kind) == "twilio":
        return render_template(
            "channels/twilio_form.html", channel=channel, values=values, errors=errors, stored=stored,
            webhooks=channel_config.webhook_urls(channel) if channel else None,
            s=_status_context(channel) if channel else None,
        ), status  # fmt: skip
    unparsed = list(_unparsed(channel).limit(UNPARSED_SHOWN)) if channel else []
    return render_template(
        "channels/form.html", channel=channel, values=values, errors=errors, stored=stored, security=SECURITY,
        unparsed=unparsed, unparsed_count=_unparsed(channel).count() if channel else 0,
    ), status  # fmt: skip


# --- pages ---------------------------------------------------------------------------


@bp.get("")
@role_required("admin")
def index():
    # The internal "Lead forms" channel has nothing to set up: lead sources have their own page.
    channels = list(Channel.select().where(Channel.kind != "webform").order_by(Channel.name))
    unparsed = {c.id: _unparsed(c).count() for c in channels if c.kind == "email"}
    statuses = {c.id: _status_context(c) for c in channels}
    return render_template(
        "channels/index.html", channels=channels, unparsed=unparsed, statuses=statuses,
        failed_webhooks=intake.failed(), pending_webhooks=intake.pending_count(),
    )  # fmt: skip


@bp.post("/webhooks/<int:intake_id>/retry")
@role_required("admin")
def webhook_retry_POST(intake_id: int):
    """A webhook that could not be stored, tried again now (after the admin fixed the cause)."""
    if not intake.retry_failed(intake_id):
        abort(404)
    tasks.process_intake(intake_id)
    flash(gettext("The webhook is being stored again."), "ok")
    return redirect(url_for("channels.index") + "#failed-webhooks", code=303)


@bp.get("/new")
@role_required("admin")
def new_GET():
    return _form_page(None, dict(NEW_DEFAULTS))


@bp.post("/new")
@role_required("admin")
def new_POST():
    form = request.form
    try:
        channel = channel_config.add_email_channel(form.get("name", ""), form.to_dict(), actor=_me())
    except channel_config.ChannelConfigError as exc:
        return _form_page(None, _form_values(form), exc, 400)
    flash(gettext("%(name)s is connected. Test the connection, then sync.", name=channel.name), "ok")
    return redirect(url_for("channels.index"), code=303)


@bp.get("/new/twilio")
@role_required("admin")
def new_twilio_GET():
    return _form_page(None, {}, kind="twilio")


@bp.post("/new/twilio")
@role_required("admin")
def new_twilio_POST():
    form = request.form
    try:
        channel = channel_config.add_twilio_channel(form.get("name", ""), form.to_dict(), actor=_me())
    except channel_config.ChannelConfigError as exc:
        return _form_page(None, _twilio_values(form), exc, 400, kind="twilio")
    flash(
        gettext(
            "%(name)s is connected. Paste the webhook URLs below into Twilio's console, then test the connection.",
            name=channel.name,
        ),
        "ok",
    )
    return redirect(url_for("channels.edit_GET", channel_id=channel.id), code=303)


@bp.get("/<int:channel_id>")
@role_required("admin")
def edit_GET(channel_id: int):
    channel = _channel_or_404(channel_id)
    stored = {**channel_config.public_settings(channel), "name": channel.name}
    return _form_page(channel, _twilio_values(stored) if channel.kind == "twilio" else _form_values(stored))


def _edit_twilio(channel: Channel, form):
    values = _twilio_values(form)
    name = (form.get("name") or "").strip()
    if not name or len(name) > 120:
        return _form_page(channel, values, {"name": gettext("Give the account a name.")}, 400)
    if Channel.select().where((Channel.name == name) & (Channel.id != channel.id)).exists():
        return _form_page(channel, values, {"name": gettext("A channel with this name already exists.")}, 400)
    try:
        try:
            TwilioSettings.from_channel(channel.settings)
        except (ChannelError, ValueError):
            # Never fully set up, or secrets encrypted with another key: the form replaces
            # the stored settings, so it must carry the auth token (and API secret) again.
            channel.settings = channel_config.twilio_settings(form).to_stored()
        channel_config.update_twilio_channel(channel, {**form.to_dict(), "name": name}, actor=_me())
    except channel_config.ChannelConfigError as exc:
        return _form_page(get_or_404(Channel, channel.id), values, exc, 400)
    flash(gettext("Saved."), "ok")
    return redirect(url_for("channels.edit_GET", channel_id=channel.id), code=303)


@bp.post("/<int:channel_id>")
@role_required("admin")
def edit_POST(channel_id: int):
    channel = _channel_or_404(channel_id)
    form = request.form
    if channel.kind == "twilio":
        return _edit_twilio(channel, form)
    values = _form_values(form)
    name = (form.get("name") or "").strip()
    if not name or len(name) > 120:
        return _form_page(channel, values, {"name": gettext("Give the mailbox a name.")}, 400)
    if Channel.select().where((Channel.name == name) & (Channel.id != channel.id)).exists():
        return _form_page(channel, values, {"name": gettext("A channel with this name already exists.")}, 400)
    try:
        try:
            EmailSettings.from_channel(channel.settings)
        except ChannelError:
            # Stored settings are incomplete (never fully set up): the form replaces them,
            # so it must carry the passwords too.
            channel.settings = channel_config.email_settings(form).to_stored()
        channel_config.update_email_channel(channel, {**form.to_dict(), "name": name}, actor=_me())
    except channel_config.ChannelConfigError as exc:
        return _form_page(get_or_404(Channel, channel_id), values, exc, 400)
    flash(gettext("Saved."), "ok")
    return redirect(url_for("channels.index"), code=303)


@bp.post("/<int:channel_id>/enabled")
@role_required("admin")
def enabled_POST(channel_id: int):
    channel = get_or_404(Channel, channel_id)
    enabled = bool(int_arg("enabled", 0))
    with write_transaction():
        Channel.update(enabled=enabled).where(Channel.id == channel.id).execute()
    if channel.kind == "twilio" and enabled:
        flash(gettext("%(name)s is enabled: messages are sent and polled through it.", name=channel.name), "ok")
    elif channel.kind == "twilio":
        flash(
            gettext(
                "%(name)s is disabled: nothing is sent or polled through it until you enable it.", name=channel.name
            ),
            "ok",
        )
    elif enabled:
        flash(gettext("%(name)s is enabled: new mail is fetched.", name=channel.name), "ok")
    else:
        flash(gettext("%(name)s is disabled: no mail is fetched until you enable it.", name=channel.name), "ok")
    return redirect(url_for("channels.index"), code=303)


@bp.post("/<int:channel_id>/test")
@role_required("admin")
def test_POST(channel_id: int):
    channel = _channel_or_404(channel_id)
    try:
        results = channel_config.test_channel(channel)
    except ChannelError as exc:  # e.g. settings never completed
        results = [("Settings", False, str(exc))]
    except ValueError as exc:  # a password encrypted with another secret key
        results = [("Settings", False, str(exc))]
    steps = [(_step_label(step), ok, _step_detail(detail)) for step, ok, detail in results]
    template = "channels/_test_result.html" if request.headers.get("HX-Request") else "channels/test.html"
    return render_template(template, channel=channel, steps=steps, all_ok=all(ok for _, ok, _ in steps))


def _step_label(step: str) -> str:
    """The adapter names its steps in English; these are the ones it uses."""
    if step == "IMAP login":
        return gettext("IMAP login")
    if step == "SMTP login":
        return gettext("SMTP login")
    if step == "Settings":
        return gettext("Settings")
    if step == "Twilio credentials":
        return gettext("Twilio credentials")
    if step.startswith("Folder "):
        return gettext("Folder %(name)s", name=step.removeprefix("Folder "))
    return step


def _step_detail(detail: str) -> str:
    """The adapters' step details in the user's language, where they are known."""
    if match := re.fullmatch(r"(\d+) messages", detail):
        return gettext("%(n)s messages", n=match.group(1))
    if match := re.fullmatch(r"account (.+)", detail):
        return gettext("account %(name)s", name=match.group(1))
    if detail == "Twilio refused the account SID / auth token (or API key).":
        return gettext("Twilio refused the account SID / auth token (or API key).")
    if match := re.fullmatch(r"Twilio answered (\d+): (.*)", detail, re.S):
        return gettext("Twilio answered %(status)s: %(reason)s", status=match.group(1), reason=match.group(2))
    if match := re.fullmatch(r"Twilio API unreachable: (\w+)", detail):
        return gettext("Twilio API unreachable: %(error)s", error=match.group(1))
    if detail.startswith("This Twilio account is not fully set up"):
        return gettext("This Twilio account is not fully set up (account SID and auth token are needed).")
    return detail


def _sync_texts(channel: Channel) -> dict[str, str]:
    """A mailbox is synced; a Twilio account is polled."""
    name = channel.name
    if channel.kind == "twilio":
        return {
            "disabled": gettext("%(name)s is disabled. Enable it to poll.", name=name),
            "started": gettext("Poll started for %(name)s.", name=name),
            "failed": gettext("Poll failed for %(name)s: see the last error.", name=name),
            "finished": gettext("Poll finished for %(name)s.", name=name),
        }
    return {
        "disabled": gettext("%(name)s is disabled. Enable it to sync.", name=name),
        "started": gettext("Sync started for %(name)s.", name=name),
        "failed": gettext("Sync failed for %(name)s: see the last error.", name=name),
        "finished": gettext("Sync finished for %(name)s.", name=name),
    }


@bp.post("/<int:channel_id>/sync")
@role_required("admin")
def sync_POST(channel_id: int):
    channel = _channel_or_404(channel_id)
    twilio = channel.kind == "twilio"
    texts = _sync_texts(channel)
    htmx = bool(request.headers.get("HX-Request"))
    message = None
    if not channel.enabled:
        message = texts["disabled"]
    else:
        try:
            (TwilioSettings if twilio else EmailSettings).from_channel(channel.settings)
        except (ChannelError, ValueError) as exc:  # never fully set up, or a secret to enter again
            if twilio:
                message = gettext("%(name)s cannot poll: %(reason)s", name=channel.name, reason=str(exc))
            else:
                message = gettext("%(name)s cannot sync: %(reason)s", name=channel.name, reason=str(exc))
    if message:
        if htmx:
            return _status(channel, note=message)
        flash(message, "error")
        return redirect(url_for("channels.index"), code=303)
    before = _marker(channel)
    (tasks.poll_twilio_channel if twilio else tasks.poll_email_channel)(channel.id)
    channel = get_or_404(Channel, channel_id)  # when tasks run inline, the sync is already over
    if htmx:
        return _status(channel, since=before, wait=STATUS_WAIT_POLLS)
    if _marker(channel) == before:
        flash(texts["started"], "ok")
    elif channel.error_count:
        flash(texts["failed"], "error")
    else:
        flash(texts["finished"], "ok")
    return redirect(url_for("channels.index"), code=303)


@bp.get("/<int:channel_id>/status")
@role_required("admin")
def status(channel_id: int):
    channel = get_or_404(Channel, channel_id)
    wait = max(0, min(int_arg("wait", 0, source=request.args), STATUS_WAIT_POLLS))
    return _status(channel, since=request.args.get("since", "")[:80] or None, wait=wait)
