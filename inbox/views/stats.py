"""The manager dashboard: right now, response times, the lead funnel and the channel
comparison, each with its charts and CSV exports. Managers and admins only; every view
is a permalink (its filters are URL arguments) and every table downloads as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request, stream_with_context, url_for
from flask_babel import gettext, lazy_gettext

from .. import charts
from ..labels import CHANNEL_NAMES
from ..models import CHANNEL_KINDS, Contact, User
from ..stats import channels, export, funnel, now, replies, tables
from ..stats.period import PRESETS, Filters
from ..web import role_required

bp = Blueprint("stats", __name__, url_prefix="/stats")
manager_required = role_required("manager")

VIEWS = {
    "now": lazy_gettext("Right now"),
    "responses": lazy_gettext("Response times"),
    "funnel": lazy_gettext("Lead funnel"),
    "channels": lazy_gettext("Channels"),
}


def _filters() -> Filters:
    return Filters.from_args(request.args)


def _choices() -> dict:
    pairs = list(
        Contact.select(Contact.source, Contact.campaign)
        .where((Contact.source != "") | (Contact.campaign != ""))
        .distinct()
        .tuples()
    )  # one reading of the contacts for both menus
    sources = {s for s, _ in pairs if s}
    campaigns = {c for _, c in pairs if c}
    return {
        "agents": list(User.select(User.id, User.name).order_by(User.name).tuples()),
        "channels": [(k, str(CHANNEL_NAMES[k])) for k in CHANNEL_KINDS],
        "sources": sorted(sources)[:200],
        "campaigns": sorted(campaigns)[:200],
        "presets": PRESETS,
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _view(name: str, f: Filters, tables_: list, **context):
    csv_links = {
        t.name: url_for("stats.export_csv", view=name, **f.args(table=t.name)) for t in tables_
    }  # fmt: skip
    return render_template(
        f"stats/{name}.html", view=name, views=VIEWS, f=f, tables=tables_, csv_links=csv_links,
        permalink=stats_url(name, f), export_conversations=url_for(
            "stats.conversations_csv", **f.args()), **_choices(), **context,
    )  # fmt: skip


def _now_tables():
    snapshot = now.snapshot()
    return snapshot, tables.now_tables(snapshot)


@bp.get("")
@manager_required
def now_page():
    snapshot, tables_ = _now_tables()
    agents = [a for a in snapshot.agents if a.open or a.waiting]
    chart = charts.bars(
        gettext("Per agent"), [a.name for a in agents],
        {gettext("Open, assigned"): [a.open for a in agents], gettext("Waiting on them"): [a.waiting for a in agents],
         gettext("Past target"): [a.breached for a in agents]},
        no_data=gettext("Nothing open"), decimals=0,
    )  # fmt: skip
    if request.headers.get("HX-Request") and request.args.get("part") == "live":
        return render_template("stats/_now.html", snapshot=snapshot, tables=tables_, chart=chart)
    return _view("now", _filters(), tables_, snapshot=snapshot, chart=chart)


@bp.get("/responses")
@manager_required
def responses_page():
    f = _filters()
    report = replies.report(f)
    weekly = report.weekly
    trend = charts.line(
        gettext("Weekly trend (hours)"), [g.key.strftime("%m-%d") for g in weekly],
        {gettext("First response, median"): [_hours(g.stats.first.median) for g in weekly],
         gettext("Response, median"): [_hours(g.stats.all.median) for g in weekly],
         gettext("Response, p90"): [_hours(g.stats.all.p90) for g in weekly]},
        unit=" h", no_data=gettext("No replies in this period"),
    )  # fmt: skip
    attainment = charts.line(
        gettext("Within target by week (%)"), [g.key.strftime("%m-%d") for g in weekly],
        {gettext("Within target"): [g.stats.attainment for g in weekly]}, unit=" %",
        no_data=gettext("No replies in this period"),
    )  # fmt: skip
    agents = [g for g in report.by_agent if g.stats.all.count]
    by_agent = charts.bars(
        gettext("Response time by agent (hours)"), [g.label for g in agents],
        {gettext("First response, median"): [_hours(g.stats.first.median) for g in agents],
         gettext("Response, median"): [_hours(g.stats.all.median) for g in agents]},
        unit=" h", no_data=gettext("No replies in this period"),
    )  # fmt: skip
    return _view("responses", f, tables.response_tables(report), report=report, charts_=[trend, attainment, by_agent])


@bp.get("/funnel")
@manager_required
def funnel_page():
    f = _filters()
    report = funnel.report(f)
    o = report.overall
    stages = [
        (gettext("Leads"), o.leads), (gettext("Contacted"), o.contacted), (gettext("Responded"), o.responded),
        (gettext("Interested"), o.interested), (gettext("Won"), o.won),
    ]  # fmt: skip
    chart = charts.funnel(gettext("Lead funnel"), stages, no_data=gettext("No leads in this period"))
    return _view("funnel", f, tables.funnel_tables(report), report=report, charts_=[chart])


@bp.get("/channels")
@manager_required
def channels_page():
    f = _filters()
    report = channels.report(f)
    grid = report.heatmap
    names = [str(CHANNEL_NAMES[r.channel]) for r in report.rows]
    volume = charts.bars(
        gettext("Volume by channel"), names,
        {gettext("Customer messages"): [r.inbound for r in report.rows],
         gettext("Our replies"): [r.replies for r in report.rows],
         gettext("Automatic messages"): [r.automatic for r in report.rows]},
        horizontal=False, no_data=gettext("No messages in this period"), decimals=0,
    )  # fmt: skip
    speed = charts.bars(
        gettext("Response and reply times by channel (hours)"), names,
        {gettext("Our response median"): [_hours(r.response.median) for r in report.rows],
         gettext("Customer reply time median"): [_hours(r.reply_time.median) for r in report.rows]},
        unit=" h", horizontal=False, no_data=gettext("No messages in this period"),
    )  # fmt: skip
    peak = max((max(row) for row in grid), default=0)
    return _view("channels", f, tables.channel_tables(report, grid), report=report, grid=grid, peak=peak,
                 charts_=[volume, speed])  # fmt: skip


def _tables_for(view: str, f: Filters) -> list[tables.Table]:
    if view == "now":
        return _now_tables()[1]
    if view == "responses":
        return tables.response_tables(replies.report(f))
    if view == "funnel":
        return tables.funnel_tables(funnel.report(f))
    if view == "channels":
        report = channels.report(f)
        return tables.channel_tables(report, report.heatmap)
    abort(404)


def _csv(rows, filename: str) -> Response:
    return Response(
        stream_with_context(export.csv_stream(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@bp.get("/<any(now, responses, funnel, channels):view>.csv")
@manager_required
def export_csv(view: str):
    f = _filters()
    name = request.args.get("table", "")
    table = tables.find(_tables_for(view, f), name)
    if table is None:
        abort(404, description=gettext("There is no table called %(name)s here.", name=name[:40]))
    return _csv(tables.csv_rows(table), f"{view}-{name}-{f.start}-{f.end}.csv")


@bp.get("/conversations.csv")
@manager_required
def conversations_csv():
    f = _filters()
    return _csv(export.conversation_rows(f), f"conversations-{f.start}-{f.end}.csv")


@bp.app_template_global()
def stats_url(view: str, f: Filters, **override) -> str:
    return url_for(f"stats.{view}_page", **f.args(**override))


def _duration_patterns() -> dict[str, str]:
    """The translated patterns of durations, looked up once per request: a table of a
    period has thousands of cells."""
    if "stat_patterns" not in g:
        g.stat_patterns = {
            "s": gettext("%(s)s s"), "m": gettext("%(m)s min"), "hm": gettext("%(h)s h %(m)s min"),
            "dh": gettext("%(d)s d %(h)s h"), "minutes": gettext("%(n)s minutes"),
        }  # fmt: skip
    return g.stat_patterns


@bp.app_template_global()
def stat_title(value, kind: str) -> str:
    """The exact figure behind a rounded cell (minutes), for its tooltip; "" otherwise."""
    return _duration_patterns()["minutes"] % {"n": value} if kind == "minutes" and value is not None else ""


@bp.app_template_global()
def stat_value(value, kind: str) -> str:
    """A table cell as the page shows it; the CSV has the plain number."""
    if value is None:
        return "–"
    if kind == "minutes":
        patterns = _duration_patterns()
        minutes = round(value)
        if minutes < 60:
            return patterns["m"] % {"m": minutes} if minutes >= 1 else patterns["s"] % {"s": round(value * 60)}
        hours, minutes = divmod(minutes, 60)
        if hours < 48:
            return patterns["hm"] % {"h": hours, "m": minutes}
        return patterns["dh"] % {"d": hours // 24, "h": hours % 24}
    if kind == "percent":
        return f"{value:.1f} %"
    if kind == "number":
        return f"{value:.1f}"
    return str(value)
