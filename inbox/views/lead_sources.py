"""Settings > Lead sources (admins): the web forms and ad platforms allowed to post leads
to ``/api/leads``. A new source's token is shown once, on the page that answers the
creation, and never again (only its hash is stored); a source can be deactivated."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import leads, settings
from ..i18n import translate
from ..models import LeadSource
from ..web import get_or_404, role_required

bp = Blueprint("lead_sources", __name__, url_prefix="/settings/lead-sources")


def _page(*, created: LeadSource | None = None, token: str | None = None, error: str | None = None,
          name: str = "", status: int = 200):  # fmt: skip
    return render_template(
        "lead_sources/index.html", sources=leads.sources(), created=created, token=token, error=error, name=name,
        endpoint=settings.get("base_url").rstrip("/") + url_for("leads_api.create"), fields=leads.LIMITS,
        utm_fields=leads.UTM_FIELDS,
    ), status  # fmt: skip


@bp.get("")
@role_required("admin")
def index():
    return _page()


@bp.post("")
@role_required("admin")
def create_POST():
    name = request.form.get("name", "")
    try:
        source, token = leads.add_source(name, current_user._get_current_object())
    except leads.LeadError as exc:
        return _page(error=translate(exc), name=name[:200], status=400)
    # Answered with the page itself, not a redirect: the token must not travel in the
    # session cookie, and the page must not stay in a cache.
    body, status = _page(created=source, token=token)
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/<int:source_id>/deactivate")
@role_required("admin")
def deactivate_POST(source_id: int):
    source = get_or_404(LeadSource, source_id)
    if leads.deactivate_source(source, current_user._get_current_object()):
        flash(gettext("%(name)s is deactivated: its token no longer works.", name=source.name), "ok")
    return redirect(url_for("lead_sources.index"), code=303)
