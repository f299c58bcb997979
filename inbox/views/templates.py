"""Canned templates: everyone can list and preview them; managers create, edit, delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import audit, canned, htmx
from ..i18n import translate
from ..models import Contact, Conversation, Template
from ..web import get_or_404, int_arg, login_required, role_required

bp = Blueprint("templates", __name__)


@bp.get("/templates")
@login_required
def index():
    return render_template("templates/index.html", templates=canned.search("", limit=500))


def _form(template: Template | None, error: str | None = None, values=None, status: int = 200):
    return render_template(
        "templates/form.html",
        template=template,
        error=error,
        values=values or {},
        variables=canned.VARIABLES,
        preview_contacts=Contact.select()
        .where(Contact.merged_into.is_null() & (Contact.name != ""))
        .order_by(Contact.id.desc())
        .limit(30),
    ), status


@bp.get("/templates/new")
@role_required("manager")
def new_GET():
    return _form(None)


@bp.get("/templates/<int:template_id>")
@role_required("manager")
def edit_GET(template_id: int):
    return _form(get_or_404(Template, template_id))


@bp.post("/templates/new")
@role_required("manager")
def new_POST():
    return _save(None)


@bp.post("/templates/<int:template_id>")
@role_required("manager")
def edit_POST(template_id: int):
    return _save(get_or_404(Template, template_id))


def _save(template: Template | None):
    form = request.form
    try:
        canned.save(
            template,
            current_user._get_current_object(),
            name=form.get("name", ""),
            shortcut=form.get("shortcut", ""),
            body=form.get("body", ""),
            channels=" ".join(form.getlist("channels")),
            content_sid=form.get("content_sid", ""),
            content_variables=form.get("content_variables", ""),
        )
    except canned.TemplateProblem as exc:
        return _form(template, translate(exc), form, 400)
    flash(gettext("Template saved."), "ok")
    return redirect(url_for("templates.index"), code=303)


@bp.post("/templates/<int:template_id>/delete")
@role_required("manager")
def delete_POST(template_id: int):
    template = get_or_404(Template, template_id)
    audit.record(current_user._get_current_object(), "template_deleted", template, before={"name": template.name})
    template.delete_instance()
    flash(gettext("Template deleted."), "ok")
    return redirect(url_for("templates.index"), code=303)


@bp.post("/templates/preview")
@login_required
def preview_POST():
    """Render a body (saved or being edited) against a contact, in the sandbox."""
    contact_id = int_arg("contact_id")
    contact = Contact.get_or_none(Contact.id == contact_id) if contact_id else None
    if contact_id and contact is None:
        abort(404)
    if contact is None:
        contact = Contact.select().where(Contact.merged_into.is_null()).order_by(Contact.id.desc()).first()
    conv = Conversation.get_or_none(Conversation.contact == contact) if contact else None
    try:
        text = canned.render(request.form.get("body", "")[:20_000], contact, current_user._get_current_object(), conv)
        error = None
    except canned.TemplateProblem as exc:
        text, error = "", translate(exc)
    html = render_template("templates/_preview.html", text=text, error=error, contact=contact)
    return html if htmx else render_template("templates/preview_page.html", preview=html)
