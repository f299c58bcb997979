"""Provider webhooks: no login, but every request must carry a valid provider signature.

A webhook is kept in the database (``inbox.intake``) and only then answered (empty TwiML,
so Twilio sends no auto-reply); its work is queued. When it cannot be kept the answer is
503 and Twilio sends it again. The poller backfills anything a webhook missed."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, abort, request

import tasks

from .. import intake, settings
from ..channels import ChannelError
from ..channels import twilio as twilio_adapter
from ..models import Channel

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


# A channel's settings (with its decrypted auth token) are kept for a few seconds, so a
# webhook needs no database connection: reading and decrypting them cost more than the
# rest of the request. A signature that fails against kept settings is checked again against
# fresh ones, so a new auth token works at once; a deleted channel is refused a few
# seconds late at most.
SETTINGS_CACHE_SECONDS = 5.0
_kept: dict[int, tuple[float, twilio_adapter.TwilioSettings]] = {}


def _channel_settings(channel_id: int, fresh: bool = False) -> tuple[twilio_adapter.TwilioSettings, bool]:
    """The channel's settings, and whether they were just read from the database."""
    now = time.monotonic()
    kept = _kept.get(channel_id)
    if kept is not None and kept[0] > now and not fresh:
        return kept[1], False
    channel = Channel.get_or_none((Channel.id == channel_id) & (Channel.kind == "twilio"))
    if channel is None:
        _kept.pop(channel_id, None)
        abort(404, description="No such Twilio channel.")
    try:
        twilio_settings = twilio_adapter.TwilioSettings.from_channel(channel.settings)
    except ChannelError:
        _kept.pop(channel_id, None)
        abort(404, description="This Twilio channel is not set up.")
    _kept[channel_id] = (now + SETTINGS_CACHE_SECONDS, twilio_settings)
    return twilio_settings, True


def _verified_channel(channel_id: int) -> int:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        abort(413, description="Webhook body too large.")
    twilio_settings, loaded = _channel_settings(channel_id)
    # Twilio signs the public URL it called; behind a proxy request.url is not that URL.
    url = settings.get("base_url").rstrip("/") + request.full_path.rstrip("?")
    signature = request.headers.get("X-Twilio-Signature", "")
    valid = twilio_adapter.valid_signature(twilio_settings, url, request.form, signature)
    if not valid and signature and not loaded:  # the auth token may have just changed
        twilio_settings, _ = _channel_settings(channel_id, fresh=True)
        valid = twilio_adapter.valid_signature(twilio_settings, url, request.form, signature)
    if not valid:
        abort(403, description="Invalid or missing X-Twilio-Signature.")
    return channel_id


def _twiml() -> Response:
    return Response(EMPTY_TWIML, mimetype="text/xml")


def _keep(channel_id: int, kind: str, form: dict) -> Response:
    try:
        intake_id = intake.accept(channel_id, kind, form)
    except Exception:  # a full disk, a database gone: the provider must send it again
        log.exception("webhook for channel %s could not be kept", channel_id)
        abort(503, description="The webhook could not be stored; send it again.")
    tasks.process_intake(intake_id)
    return _twiml()


@bp.post("/twilio/<int:channel_id>/inbound")
def twilio_inbound(channel_id: int):
    channel_id = _verified_channel(channel_id)
    form = request.form.to_dict(flat=True)
    if twilio_adapter.is_status_callback(form):
        return _keep(channel_id, "status", form)
    for field in ("MessageSid", "From"):
        if not form.get(field):
            abort(400, description=f"{field} is missing.")
    return _keep(channel_id, "inbound", form)


@bp.post("/twilio/<int:channel_id>/status")
def twilio_status(channel_id: int):
    channel_id = _verified_channel(channel_id)
    form = request.form.to_dict(flat=True)
    for field in ("MessageSid", "MessageStatus"):
        if not form.get(field):
            abort(400, description=f"{field} is missing.")
    return _keep(channel_id, "status", form)
