"""Measure the manager dashboard on a generated dataset: the statistics reports, the
/stats pages and their CSV exports.

Reports: inbox.stats called directly for one period (--days, default 90, ending on the
last day of the dataset), each timed over --runs rounds (median, p95, CPU time of this
thread), with the SQL statements each call issues (peewee execute_sql calls) and the
process's peak resident memory while they run:
  now             now.snapshot()
  responses       replies.report(f)
  funnel          funnel.report(f)
  channels        channels.report(f)
  channels split  channels.report(f) with a split date halfway (three periods)
  heatmap         channels.heatmap(f)
  filtered        the same reports with an agent / a channel / a source filter

Pages (--kinds http): through the Flask app in this process (create_app + test client,
logged in as a manager), as bench/run.py does: GET /stats, /stats/responses,
/stats/funnel, /stats/channels (and channels with split=) with from=&to=; server time is
the WSGI call to the last byte of the body. A route that answers 404 is skipped and
listed as such.

Exports (--kinds export): every CSV link the pages offer (/stats/<view>.csv?table=...)
and /stats/conversations.csv, for the period and for --long-days (default 365) to show
that memory does not grow with the size of the export. The body is read chunk by chunk
and dropped, as a server sends it; per export: time to the first and the last byte,
size, rows, queries, and the peak resident memory of this process while it streamed
(VmHWM, reset before each export).

Targets (100k contacts / 1M messages / 20 agents over a year, SQLite): every report and
page under 300 ms for 90 days; exports streamed with flat memory, the web process under
150 MB. Pending migrations are applied to the dataset first.

Examples:
    .venv/bin/python bench/generate.py --dir /tmp/inbox-bench
    .venv/bin/python bench/dashboard.py --dir /tmp/inbox-bench --runs 20
    .venv/bin/python bench/dashboard.py --kinds domain --runs 1 --explain     # queries and plans
    .venv/bin/python bench/dashboard.py --kinds domain --profile funnel       # where the time goes
"""

from __future__ import annotations

import cProfile
import datetime as dt
import html
import json
import os
import pstats
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DB_FILE, PASSWORD, dataset_parser, open_dataset, rss_kib
from bench.run import QueryLog, percentile

KINDS = ("domain", "http", "export")
TARGET_MS = 300.0
TARGET_RSS_MB = 150.0


def reset_peak() -> bool:
    """Start a new VmHWM measurement (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Server:
    """The WSGI side of a request, as a server does it: the body is read chunk by chunk
    (and dropped for CSV files, keeping its first bytes), timed from the call to the first
    and to the last byte, as wall time and as CPU time of this thread."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.keep_body = True
        self.last = self.last_cpu = self.first_byte = 0.0
        self.bytes = self.lines = 0

    def __call__(self, environ, start_response):
        started, started_cpu = time.perf_counter(), time.thread_time()
        body = self.wsgi_app(environ, start_response)
        kept: list[bytes] = []
        size = lines = 0
        self.first_byte = 0.0
        try:
            for chunk in body:
                if not chunk:
                    continue
                if not size:
                    self.first_byte = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
                if self.keep_body or size <= 4096:
                    kept.append(chunk)
        finally:
            if hasattr(body, "close"):
                body.close()
        self.last = time.perf_counter() - started
        self.last_cpu = time.thread_time() - started_cpu
        self.bytes, self.lines = size, lines
        return kept


def _parse(argv):
    parser = dataset_parser("bench/dashboard.py", __doc__)
    parser.add_argument("--runs", type=int, default=20, help="measured rounds of every report and page (default 20)")
    parser.add_argument("--export-runs", type=int, default=3, help="measured rounds of every export (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    parser.add_argument("--days", type=int, default=90, help="period length in days (default 90)")
    parser.add_argument(
        "--long-days", type=int, default=365, help="the longer period the exports are also timed for (default 365)"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="what to run, comma-separated (default all)")
    parser.add_argument(
        "--reports", metavar="LABELS", help="only these reports, comma-separated labels (e.g. 'funnel,channels split')"
    )
    parser.add_argument("--explain", action="store_true", help="print every query of each report with its plan")
    parser.add_argument("--profile", metavar="REPORT", help="cProfile the measured rounds of one report (its label)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in args.kinds):
        parser.error(f"--kinds takes {', '.join(KINDS)}")
    return args


def _period(meta: dict, days: int, **extra) -> dict:
    """URL arguments of the ``days`` ending on the dataset's last day (in the team time zone)."""
    from zoneinfo import ZoneInfo

    from inbox import team

    end_utc = dt.datetime.fromisoformat(meta["generated_at"]).replace(tzinfo=dt.UTC)
    end = end_utc.astimezone(ZoneInfo(team.get("timezone"))).date()
    start = end - dt.timedelta(days=days - 1)
    return {"from": start.isoformat(), "to": end.isoformat(), **extra}


def _reports(db, meta: dict, days: int) -> list[tuple[str, object]]:
    """(label, call) for every report to time."""
    from inbox.models import Contact, User
    from inbox.stats import channels, funnel, now, replies
    from inbox.stats.period import Filters

    period = _period(meta, days)
    f = Filters.from_args(period)
    split = f.start + dt.timedelta(days=f.days // 2)
    fs = Filters.from_args({**period, "split": split.isoformat()})
    agent = User.get(User.email == meta["login"]["email"]).id
    source = (
        Contact.select(Contact.source).where(Contact.source != "").group_by(Contact.source).limit(1).scalar() or "x"
    )
    fa = Filters.from_args({**period, "agent": agent})
    fc = Filters.from_args({**period, "channel": "whatsapp"})
    fo = Filters.from_args({**period, "source": source})
    return [
        ("now", now.snapshot),
        ("responses", lambda: replies.report(f)),
        ("funnel", lambda: funnel.report(f)),
        ("channels", lambda: channels.report(f)),
        ("channels split", lambda: channels.report(fs)),
        ("heatmap", lambda: channels.heatmap(f)),
        ("responses agent", lambda: replies.report(fa)),
        ("funnel agent", lambda: funnel.report(fa)),
        ("funnel source", lambda: funnel.report(fo)),
        ("channels whatsapp", lambda: channels.report(fc)),
    ]


def _explain(db, statements) -> None:
    for sql, params in statements:
        print(f"    SQL: {sql}")
        if params:
            print(f"         params: {list(params)[:12]}{' ...' if len(params) > 12 else ''}")
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params or ()).fetchall():
                print(f"         plan: {row[-1]}")


def _summary(result) -> str:
    """A few figures of a report, to see that it found what the dataset holds."""
    from inbox.stats import channels, funnel, now, replies

    if isinstance(result, now.RightNow):
        return f"waiting {result.waiting}, breached {result.breached}, overdue {result.followups_overdue}"
    if isinstance(result, replies.ResponseReport):
        o = result.overall
        return f"{o.all.count} replies, {o.first.count} first, SLA {o.sla_met}/{o.sla_total}"
    if isinstance(result, funnel.FunnelReport):
        o = result.overall
        return (
            f"{o.leads} leads, {o.contacted} contacted, {o.responded} responded, {o.interested} interested, "
            f"react. {result.reactivation.part}/{result.reactivation.whole}, "
            f"follow-ups {result.followups.part}/{result.followups.whole}"
        )
    if isinstance(result, channels.ChannelReport):
        rows = result.rows
        return ", ".join(f"{r.channel} {r.inbound}/{r.replies}/{r.wrote_to}" for r in rows)
    if isinstance(result, list):
        return f"{sum(map(sum, result))} customer messages"
    return ""


def run_domain(args, db, meta, queries) -> dict:
    reports = _reports(db, meta, args.days)
    if args.reports:
        wanted = {label.strip() for label in args.reports.split(",")}
        reports = [(label, call) for label, call in reports if label in wanted]
    results: dict[str, dict] = {}
    for label, call in reports:
        queries.count = 0
        queries.statements = [] if args.explain else None
        result = call()
        results[label] = {"queries": queries.count, "summary": _summary(result)}
        if args.explain:
            statements, queries.statements = queries.statements, None
            print(f"\n[{label}] ({len(statements)} queries)")
            _explain(db, statements)
    for _ in range(args.warmup):
        for _label, call in reports:
            call()
    hwm_reset = reset_peak()
    profiler = cProfile.Profile() if args.profile else None
    samples = {label: [] for label, _ in reports}
    cpu = {label: [] for label, _ in reports}
    for _ in range(args.runs):
        for label, call in reports:
            if profiler and label == args.profile:
                profiler.enable()
            started, started_cpu = time.perf_counter(), time.thread_time()
            call()
            samples[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((time.thread_time() - started_cpu) * 1000)
            if profiler and label == args.profile:
                profiler.disable()
    rss = rss_kib()
    for label, _ in reports:
        s, c = samples[label], cpu[label]
        results[label].update(
            median_ms=round(statistics.median(s), 1), p95_ms=round(percentile(s, 95), 1),
            cpu_median_ms=round(statistics.median(c), 1), cpu_p95_ms=round(percentile(c, 95), 1),
        )  # fmt: skip
    if profiler:
        print()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return {"reports": results, "rss_mb": rss["VmRSS"] / 1024, "hwm_mb": rss["VmHWM"] / 1024, "hwm_reset": hwm_reset}


def _login(client, email: str) -> bool:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    return response.status_code == 303


def run_http(args, db, meta, client, server, queries) -> dict:
    """The pages, and (collected from them) the CSV links."""
    period = _period(meta, args.days)
    split = dt.date.fromisoformat(period["from"]) + dt.timedelta(days=args.days // 2)
    pages = [
        ("now", "/stats?" + urlencode(period)),
        ("responses", "/stats/responses?" + urlencode(period)),
        ("funnel", "/stats/funnel?" + urlencode(period)),
        ("channels", "/stats/channels?" + urlencode(period)),
        ("channels split", "/stats/channels?" + urlencode({**period, "split": split.isoformat()})),
    ]
    skipped, found, csv_links = [], [], []
    info = {}
    for label, url in pages:
        queries.count = 0
        response = client.get(url)
        if response.status_code == 404:
            skipped.append(f"{url}: 404")
            continue
        if response.status_code != 200:
            skipped.append(f"{url}: HTTP {response.status_code}")
            continue
        body = response.get_data(as_text=True)
        info[label] = {"queries": queries.count, "bytes": len(response.data), "url": url}
        found.append((label, url))
        for link in re.findall(r'href="(/stats/[a-z_]+\.csv\?[^"]*)"', body):
            link = html.unescape(link)
            if link not in csv_links:
                csv_links.append(link)
    for _ in range(args.warmup):
        for _label, url in found:
            client.get(url)
    samples = {label: [] for label, _ in found}
    cpu = {label: [] for label, _ in found}
    counts = {label: set() for label, _ in found}
    hwm_reset = reset_peak()
    for _ in range(args.runs if "http" in args.kinds else 0):
        for label, url in found:
            queries.count = 0
            client.get(url)
            samples[label].append(server.last * 1000)
            cpu[label].append(server.last_cpu * 1000)
            counts[label].add(queries.count)
    rss = rss_kib()
    for label, _ in found:
        if samples[label]:
            s, c = samples[label], cpu[label]
            info[label].update(
                median_ms=round(statistics.median(s), 1), p95_ms=round(percentile(s, 95), 1),
                cpu_median_ms=round(statistics.median(c), 1), cpu_p95_ms=round(percentile(c, 95), 1),
                queries=sorted(counts[label]),
            )  # fmt: skip
    return {
        "pages": info, "skipped": skipped, "csv_links": csv_links,
        "rss_mb": rss["VmRSS"] / 1024, "hwm_mb": rss["VmHWM"] / 1024, "hwm_reset": hwm_reset,
    }  # fmt: skip


def run_exports(args, meta, client, server, queries, csv_links: list[str]) -> dict:
    period = _period(meta, args.days)
    long_period = _period(meta, args.long_days)
    exports = []
    for link in csv_links:
        path, _, query = link.partition("?")
        if path == "/stats/conversations.csv":
            continue
        table = re.search(r"(?:^|&)table=([^&]*)", query)
        name = f"{path.rsplit('/', 1)[1][:-4]}:{table.group(1) if table else '?'}"
        exports.append((name, link))
    exports.append(("conversations", "/stats/conversations.csv?" + urlencode(period)))
    exports.append((f"conversations {args.long_days} d", "/stats/conversations.csv?" + urlencode(long_period)))
    server.keep_body = False
    results, skipped = {}, []
    try:
        for name, url in exports:
            first = client.get(url)
            if first.status_code != 200:
                skipped.append(f"{url}: HTTP {first.status_code}")
                continue
            samples, ttfb, cpu, peaks, qs = [], [], [], [], set()
            rss_before = rss_kib()["VmRSS"] / 1024
            for _ in range(args.export_runs):
                reset_peak()
                queries.count = 0
                response = client.get(url)
                response.close()
                samples.append(server.last * 1000)
                ttfb.append(server.first_byte * 1000)
                cpu.append(server.last_cpu * 1000)
                peaks.append(rss_kib()["VmHWM"] / 1024)
                qs.add(queries.count)
            results[name] = {
                "url": url, "median_ms": round(statistics.median(samples), 1),
                "p95_ms": round(percentile(samples, 95), 1), "first_byte_ms": round(statistics.median(ttfb), 1),
                "cpu_median_ms": round(statistics.median(cpu), 1), "bytes": server.bytes, "lines": server.lines,
                "queries": sorted(qs), "rss_before_mb": round(rss_before, 1), "peak_mb": round(max(peaks), 1),
            }  # fmt: skip
    finally:
        server.keep_body = True
    return {"exports": results, "skipped": skipped}


def _verdict(p95: float, cpu_p95: float) -> str:
    if p95 < TARGET_MS:
        return "ok"
    return "MISSED" + (" (cpu time ok)" if cpu_p95 < TARGET_MS else "")


def main(argv=None) -> int:
    args = _parse(argv)
    dataset = open_dataset(args.dir)
    if dataset is None:
        return 2
    path, meta = dataset
    rss_start = rss_kib()

    import tasks  # noqa: F401  (the views import it; settings are read at import)
    from inbox import create_app, schema
    from inbox.db import db

    app = create_app()
    with db.connection_context():
        started = time.time()
        applied = schema.upgrade(db.obj)
        period = _period_text(meta, args.days)
    if applied:
        print(f"applied pending migrations to the dataset in {time.time() - started:.1f} s: {', '.join(applied)}")
    queries = QueryLog(db.obj)
    load_before = os.getloadavg()
    figures: dict = {}

    if "domain" in args.kinds:
        with db.connection_context():
            figures["domain"] = run_domain(args, db.obj, meta, queries)

    if "http" in args.kinds or "export" in args.kinds:
        server = Server(app.wsgi_app)
        app.wsgi_app = server
        client = app.test_client()
        with db.connection_context():
            manager = db.obj.execute_sql(
                "SELECT email FROM user WHERE role = 'manager' AND active ORDER BY id LIMIT 1"
            ).fetchone()[0]
        if not _login(client, manager):
            print(f"login as {manager} failed", file=sys.stderr)
            return 1
        figures["http"] = run_http(args, db.obj, meta, client, server, queries)
        if "export" in args.kinds:
            figures["export"] = run_exports(args, meta, client, server, queries, figures["http"]["csv_links"])
    load_after = os.getloadavg()

    # --- report -------------------------------------------------------------------------
    print()
    print(
        f"dataset: {meta['contacts']:,} contacts, {meta['messages']:,} messages, {meta['agents']} team members, "
        f"{meta['days']} days; database {meta.get('database_bytes', 0) / 2**20:.0f} MiB ({path / DB_FILE})"
    )
    print(f"period: {period}; runs: {args.runs} after {args.warmup} warm-up; times in ms (cpu = this thread)")
    print(f"machine: {os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    if "domain" in figures:
        d = figures["domain"]
        print()
        header = f"{'report':<20}{'median':>8}{'p95':>8}{'cpu med':>8}{'cpu p95':>8}{'queries':>8}  result  figures"
        print(header)
        print("-" * len(header))
        for label, r in d["reports"].items():
            print(
                f"{label:<20}{r['median_ms']:>8.1f}{r['p95_ms']:>8.1f}{r['cpu_median_ms']:>8.1f}"
                f"{r['cpu_p95_ms']:>8.1f}{r['queries']:>8}  {_verdict(r['p95_ms'], r['cpu_p95_ms']):<7} "
                f"{r['summary']}"
            )
        print(
            f"memory while computing the reports: VmRSS {d['rss_mb']:.1f} MB, peak {d['hwm_mb']:.1f} MB"
            f"{'' if d['hwm_reset'] else ' (peak since start-up)'}"
        )
    if "http" in figures:
        h = figures["http"]
        print()
        header = f"{'page':<20}{'median':>8}{'p95':>8}{'cpu med':>8}{'cpu p95':>8}{'queries':>8}{'KiB':>6}  result"
        print(header)
        print("-" * len(header))
        for label, r in h["pages"].items():
            if "median_ms" not in r:
                continue
            q = r["queries"]
            qtext = str(q[0]) if len(q) == 1 else f"{q[0]}-{q[-1]}"
            print(
                f"{label:<20}{r['median_ms']:>8.1f}{r['p95_ms']:>8.1f}{r['cpu_median_ms']:>8.1f}{r['cpu_p95_ms']:>8.1f}"
                f"{qtext:>8}{r['bytes'] / 1024:>6.0f}  {_verdict(r['p95_ms'], r['cpu_p95_ms'])}"
            )
        for line in h["skipped"]:
            print(f"skipped {line}")
        if h["pages"]:
            print(f"memory while serving the pages: VmRSS {h['rss_mb']:.1f} MB, peak {h['hwm_mb']:.1f} MB")
    if "export" in figures:
        e = figures["export"]
        print()
        header = (
            f"{'export':<28}{'median':>8}{'p95':>8}{'1st byte':>9}{'cpu med':>8}{'queries':>8}{'rows':>8}"
            f"{'KiB':>7}{'RSS':>7}{'peak':>7}  result"
        )
        print(header)
        print("-" * len(header))
        for name, r in e["exports"].items():
            q = r["queries"]
            qtext = str(q[0]) if len(q) == 1 else f"{q[0]}-{q[-1]}"
            ok = "ok" if r["peak_mb"] < TARGET_RSS_MB else "MISSED"
            print(
                f"{name[:27]:<28}{r['median_ms']:>8.1f}{r['p95_ms']:>8.1f}{r['first_byte_ms']:>9.1f}"
                f"{r['cpu_median_ms']:>8.1f}{qtext:>8}{r['lines']:>8}{r['bytes'] / 1024:>7.0f}"
                f"{r['rss_before_mb']:>7.1f}{r['peak_mb']:>7.1f}  {ok}"
            )
        for line in e["skipped"]:
            print(f"skipped {line}")
        print(
            f"RSS = this process before the export, peak = VmHWM while it streamed (MB); "
            f"target < {TARGET_RSS_MB:.0f} MB and not growing with the export's size"
        )
    print()
    print(f"start-up: VmRSS {rss_start['VmRSS'] / 1024:.1f} MB before the app was loaded")
    print("command:   " + shlex.join([sys.executable, *sys.argv]))
    if meta.get("command"):
        print("generated: " + meta["command"])
    if args.json:
        figures["command"] = shlex.join([sys.executable, *sys.argv])
        figures["period"] = period
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
    return 0


def _period_text(meta: dict, days: int) -> str:
    p = _period(meta, days)
    return f"{p['from']} .. {p['to']} ({days} days)"


if __name__ == "__main__":
    sys.exit(main())
