"""Settings > Lead routing (managers and admins): the acknowledgement template per channel
kind and the routing rules that choose which agents take a new lead. The values are
checked and stored by ``inbox.leads.settings``; nothing is saved when a field is wrong,
and the form comes back with the typed values and an error under each wrong field.

One form, as a page or (an htmx request) as the form alone, swapped in place."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user

from .. import htmx
from ..i18n import translate
from ..leads import settings as lead_settings
from ..leads.routing import LANGUAGES
from ..leads.settings import RuleRow
from ..models import CHANNEL_KINDS
from ..web import role_required

bp = Blueprint("lead_settings", __name__, url_prefix="/settings/leads")

LANGUAGE_NAMES = {"ko": lazy_gettext("Korean"), "en": lazy_gettext("English")}
MAX_ROWS = 2 * lead_settings.MAX_RULES  # read no further: the form never has this many rows


def _at(values: list[str], i: int, limit: int) -> str:
    return values[i][:limit] if i < len(values) else ""


def _submitted() -> tuple[dict[str, str], list[RuleRow]]:
    """The typed acknowledgement templates and rule rows (removed and empty rows left out)."""
    form = request.form
    ack = {kind: form.get(f"ack_template_{kind}", "")[:200] for kind in CHANNEL_KINDS}
    channels, sources, languages = (
        form.getlist(n)[:MAX_ROWS] for n in ("rule_channel", "rule_source", "rule_language")
    )
    removed = set(form.getlist("rule_remove"))
    rows = []
    for i in range(max(len(channels), len(sources), len(languages))):
        row = RuleRow(
            channel=_at(channels, i, 20), source=_at(sources, i, 200), language=_at(languages, i, 10),
            agents=tuple(a[:20] for a in form.getlist(f"rule_agents_{i}")[:200]),
        )  # fmt: skip
        if str(i) not in removed and not row.is_empty():
            rows.append(row)
    return ack, rows


def _page(ack: dict, rules: list[RuleRow], errors: dict | None = None, *, blanks: int = 1, status: int = 200,
          saved: bool = False):  # fmt: skip
    context = dict(
        ack=ack, rules=rules, blanks=[RuleRow() for _ in range(blanks)], errors=errors or {}, failed=bool(errors),
        saved=saved, channels=CHANNEL_KINDS, languages={k: LANGUAGE_NAMES.get(k, k) for k in LANGUAGES},
        templates=lead_settings.template_choices(), fallbacks={k: lead_settings.fallback(k) for k in CHANNEL_KINDS},
        agents=lead_settings.agent_choices(rules), sources=lead_settings.source_suggestions(),
        max_rules=lead_settings.MAX_RULES,
    )  # fmt: skip
    if htmx and not htmx.boosted:
        return render_template("settings/_leads_form.html", **context)  # htmx swaps 2xx answers only
    return render_template("settings/leads.html", **context), status


@bp.get("")
@role_required("manager")
def edit_GET():
    return _page(lead_settings.stored_ack_templates(), lead_settings.stored_rules())


@bp.post("")
@role_required("manager")
def edit_POST():
    ack, rules = _submitted()
    if request.form.get("add_rule"):
        return _page(ack, rules, blanks=2)  # one more row to fill; nothing saved yet
    try:
        lead_settings.save(current_user._get_current_object(), ack_templates=ack, rules=rules)
    except lead_settings.Invalid as exc:
        errors = {name: translate(error) for name, error in exc.errors.items()}
        return _page(ack, rules, errors, status=400)
    if htmx and not htmx.boosted:
        return _page(lead_settings.stored_ack_templates(), lead_settings.stored_rules(), saved=True)
    flash(gettext("Lead routing saved."), "ok")
    return redirect(url_for("lead_settings.edit_GET"), code=303)
