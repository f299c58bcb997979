"""Provider webhooks: no login, but every request must carry a valid provider signature.

A webhook is answered at once (empty TwiML, so Twilio sends no auto-reply) and its work
is queued; the poller backfills anything a webhook missed."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request

import tasks

from .. import settings
from ..channels import ChannelError
from ..channels import twilio as twilio_adapter
from ..models import Channel

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


# Decrypting the auth token (key derivation + Fernet) cost more than the rest of a
# webhook; the result is kept per stored settings, so an edited channel is read afresh.
_decrypted: dict[tuple, twilio_adapter.TwilioSettings] = {}


def _settings_of(channel: Channel) -> twilio_adapter.TwilioSettings:
    key = (channel.id, json.dumps(channel.settings, sort_keys=True, default=str), settings.secret_key())
    found = _decrypted.get(key)
    if found is None:
        found = twilio_adapter.TwilioSettings.from_channel(channel.settings)
        if len(_decrypted) >= 64:
            _decrypted.clear()
        _decrypted[key] = found
    return found


def _verified_channel(channel_id: int) -> Channel:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        abort(413, description="Webhook body too large.")
    channel = Channel.get_or_none((Channel.id == channel_id) & (Channel.kind == "twilio"))
    if channel is None:
        abort(404, description="No such Twilio channel.")
    try:
        twilio_settings = _settings_of(channel)
    except ChannelError:
        abort(404, description="This Twilio channel is not set up.")
    # Twilio signs the public URL it called; behind a proxy request.url is not that URL.
    url = settings.get("base_url").rstrip("/") + request.full_path.rstrip("?")
    if not twilio_adapter.valid_signature(
        twilio_settings, url, request.form, request.headers.get("X-Twilio-Signature", "")
    ):
        abort(403, description="Invalid or missing X-Twilio-Signature.")
    return channel


def _twiml() -> Response:
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/twilio/<int:channel_id>/inbound")
def twilio_inbound(channel_id: int):
    channel = _verified_channel(channel_id)
    form = request.form.to_dict(flat=True)
    if twilio_adapter.is_status_callback(form):
        tasks.twilio_status(channel.id, form)
        return _twiml()
    for field in ("MessageSid", "From"):
        if not form.get(field):
            abort(400, description=f"{field} is missing.")
    tasks.twilio_inbound(channel.id, form)
    return _twiml()


@bp.post("/twilio/<int:channel_id>/status")
def twilio_status(channel_id: int):
    channel = _verified_channel(channel_id)
    form = request.form.to_dict(flat=True)
    for field in ("MessageSid", "MessageStatus"):
        if not form.get(field):
            abort(400, description=f"{field} is missing.")
    tasks.twilio_status(channel.id, form)
    return _twiml()
