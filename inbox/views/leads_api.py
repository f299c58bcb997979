"""``POST /api/leads``: web forms and ad platforms post new leads here.

No login and no CSRF token: every request carries its lead source's token instead
(``Authorization: Bearer TOKEN``). The body is a JSON object or a form. Answers are JSON:
201 with what was done, 200 for a submission already stored, 400 with a reason per
field, 401 without a valid token."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext

from .. import leads
from ..i18n import translate

bp = Blueprint("leads_api", __name__, url_prefix="/api")

MAX_LEAD_BYTES = 64 * 1024


def _reason(msgid: str | None, params: dict | None = None) -> str | None:
    return gettext(msgid, **(params or {})) if msgid else None


@bp.post("/leads")
def create():
    try:
        source = leads.authenticate(request.headers.get("Authorization"))
    except leads.Unauthorized as exc:
        response = jsonify(error=translate(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="leads"'
        return response, 401
    if (request.content_length or 0) > MAX_LEAD_BYTES:
        return jsonify(error=gettext("The lead is larger than %(kb)s KB.", kb=MAX_LEAD_BYTES // 1024)), 413
    if request.is_json:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the JSON parser goes: not a lead
            data = None
        if not isinstance(data, dict):
            return jsonify(errors={"body": gettext("Send one JSON object or a form.")}), 400
    else:
        data = request.form
    try:
        form = leads.parse(data, default_source=source.name)
    except leads.InvalidLead as exc:
        return jsonify(errors={name: translate(error) for name, error in exc.errors.items()}), 400
    result = leads.capture(source, form)
    ack = dict(result.ack)
    if ack.get("reason"):
        ack["reason"] = _reason(ack["reason"], ack.pop("reason_params", None))
    ack.pop("reason_params", None)
    body = {
        "duplicate": result.duplicate,
        "contact_id": result.contact.id,
        "conversation_id": result.conversation_id,
        "message_id": result.message.id,
        "created_contact": result.created_contact,
        "owner": {"id": result.owner.id, "name": result.owner.name} if result.owner else None,
        "acknowledgement": ack,
    }
    if result.conflict:
        body["conflicts"] = {
            "phone": gettext(
                "%(phone)s belongs to another contact (#%(id)s); the lead was filed under the contact of the email address.",
                phone=result.conflict.get("phone"),
                id=result.conflict.get("contact_id"),
            )
        }
        body["conflicting_contact_id"] = result.conflict.get("contact_id")
    return jsonify(body), 200 if result.duplicate else 201
