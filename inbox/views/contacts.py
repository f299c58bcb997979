"""Contacts: list and search, create, edit (page and the panel beside a conversation),
addresses, duplicates and merging."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import consent, contacts, htmx, team
from ..i18n import N_, translate
from ..leads import plan
from ..models import LEAD_STATUSES, Contact, Conversation, User
from ..web import get_or_404, int_arg, login_required, to_utc

bp = Blueprint("contacts", __name__)


def _me() -> User:
    return current_user._get_current_object()


def _live_contact(contact_id: int) -> Contact:
    contact = get_or_404(Contact, contact_id)
    if contact.merged_into_id:
        abort(404, description=gettext("This contact was merged into another one."))
    return contact


def _fields_from_form(form) -> dict:
    fields = {k: form[k] for k in contacts.EDITABLE if k in form}
    if "owner_id" in form:
        owner = form.get("owner_id")
        if owner and not (owner.isascii() and owner.isdigit() and len(owner) < 12):
            raise contacts.ContactError(N_("Unknown owner."), field="owner")
        fields["owner_id"] = int(owner) if owner else None
    if "next_action_at" in form:
        raw = form.get("next_action_at", "").strip()
        try:
            fields["next_action_at"] = to_utc(dt.datetime.fromisoformat(raw)) if raw else None
        except ValueError:
            raise contacts.ContactError(N_("Next action date is not a date."), field="next_action_at") from None
    return fields


def panel_context(contact: Contact, panel_error: str | None = None) -> dict:
    return dict(
        contact=contact,
        identities=contacts.identities_of([contact.id])[contact.id],
        tags=contacts.tags_of([contact.id])[contact.id],
        agents=list(User.select().where(User.active).order_by(User.name)),
        lead_statuses=LEAD_STATUSES,
        panel_error=panel_error,
    )


@bp.app_context_processor
def _cadence_helpers() -> dict:
    return {"cadence_plan": cadence_plan}


def cadence_plan(contact: Contact) -> dict:
    """The contact panel's cadence field and next step; a template helper, so the panel
    shows it wherever it is included (contact page, conversation page)."""
    return {
        "days": plan.as_text(contact.cadence),
        "team_days": plan.as_text(team.get("cadence_days")),
        "next": plan.next_step(contact),
    }


def _panel_or_redirect(contact: Contact, error: str | None = None):
    if htmx:
        return render_template("contacts/_panel.html", **panel_context(Contact.get_by_id(contact.id), error))
    if error:
        flash(error, "error")
    back = request.form.get("next") or url_for("contacts.show", contact_id=contact.id)
    if not back.startswith("/") or back.startswith("//") or "\\" in back or not back.isprintable():
        back = url_for("contacts.show", contact_id=contact.id)
    return redirect(back, code=303)


@bp.get("/contacts")
@login_required
def index():
    q = request.args.get("q", "").strip()[:200]
    after = int_arg("after", source=request.args)
    rows = contacts.listing(q, after_id=after, limit=50)
    ids = [c.id for c in rows]
    context = dict(
        rows=rows, q=q, identities=contacts.identities_of(ids), tags=contacts.tags_of(ids),
        next_after=rows[-1].id if len(rows) == 50 else None,
        conversations={c.contact_id: c.id for c in Conversation.select(Conversation.id, Conversation.contact).where(Conversation.contact.in_(ids or [0]))},
    )  # fmt: skip
    if htmx:
        return render_template("contacts/_rows.html", **context)
    return render_template("contacts/index.html", **context)


@bp.get("/contacts/new")
@login_required
def new_GET():
    return render_template("contacts/new.html", values={}, error=None, lead_statuses=LEAD_STATUSES)


@bp.post("/contacts/new")
@login_required
def new_POST():
    form = request.form
    emails = [e for e in form.get("emails", "").replace(",", "\n").splitlines() if e.strip()]
    phones = [p for p in form.get("phones", "").replace(",", "\n").splitlines() if p.strip()]
    try:
        contact = contacts.create(
            _me(), emails=emails, phones=phones, tags=form.get("tags", ""), **_fields_from_form(form)
        )
    except contacts.ContactError as exc:
        return render_template("contacts/new.html", values=form, error=translate(exc), lead_statuses=LEAD_STATUSES), 400
    return redirect(url_for("contacts.show", contact_id=contact.id), code=303)


@bp.get("/contacts/<int:contact_id>")
@login_required
def show(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    if contact.merged_into_id:
        return redirect(url_for("contacts.show", contact_id=contact.merged_into_id))
    conv = Conversation.get_or_none(Conversation.contact == contact)
    return render_template("contacts/show.html", conv=conv, **panel_context(contact))


@bp.post("/contacts/<int:contact_id>/panel")
@login_required
def panel_POST(contact_id: int):
    contact = _live_contact(contact_id)
    try:
        contacts.update(contact, _me(), **_fields_from_form(request.form))
        if "tags" in request.form:
            contacts.set_tags(contact, request.form.get("tags", ""), actor=_me())
    except contacts.ContactError as exc:
        return _panel_or_redirect(contact, translate(exc))
    return _panel_or_redirect(contact)


@bp.post("/contacts/<int:contact_id>/cadence")
@login_required
def cadence_POST(contact_id: int):
    """The contact's own follow-up cadence ("14 21"); empty goes back to the team's."""
    contact = _live_contact(contact_id)
    try:
        plan.set_cadence(contact, _me(), request.form.get("cadence", ""))
    except plan.CadenceError as exc:
        return _panel_or_redirect(contact, translate(exc))
    return _panel_or_redirect(contact)


@bp.post("/contacts/<int:contact_id>/identities")
@login_required
def identity_POST(contact_id: int):
    contact = _live_contact(contact_id)
    kind = request.form.get("kind")
    if kind not in ("email", "phone"):
        abort(400, description=gettext("kind must be email or phone."))
    try:
        contacts.add_identity(contact, _me(), kind, request.form.get("value", ""))
    except contacts.ContactError as exc:
        return _panel_or_redirect(contact, translate(exc))
    return _panel_or_redirect(contact)


@bp.post("/contacts/<int:contact_id>/identities/<int:identity_id>/delete")
@login_required
def identity_delete_POST(contact_id: int, identity_id: int):
    contact = _live_contact(contact_id)
    try:
        contacts.remove_identity(contact, _me(), identity_id)
    except contacts.ContactError as exc:
        return _panel_or_redirect(contact, translate(exc))
    return _panel_or_redirect(contact)


@bp.post("/contacts/<int:contact_id>/consent")
@login_required
def consent_POST(contact_id: int):
    """Record or withdraw the contact's WhatsApp opt-in (audited)."""
    contact = _live_contact(contact_id)
    granted = request.form.get("whatsapp_opt_in") == "1"
    consent.set_whatsapp_consent(contact, granted, _me(), reason="recorded by an agent")
    return _panel_or_redirect(contact)


@bp.get("/contacts/duplicates")
@login_required
def duplicates():
    return render_template("contacts/duplicates.html", pairs=contacts.duplicates())


@bp.post("/contacts/merge")
@login_required
def merge_POST():
    keep_id = int_arg("keep_id")
    other_id = int_arg("other_id")
    if not keep_id or not other_id:
        abort(400, description=gettext("Choose the two contacts to merge."))
    keep, other = _live_contact(keep_id), _live_contact(other_id)
    try:
        contacts.merge(keep, other, _me())
    except contacts.ContactError as exc:
        abort(400, description=translate(exc))
    flash(gettext("Merged: every message and note is now on this contact."), "ok")
    return redirect(url_for("contacts.show", contact_id=keep.id), code=303)
