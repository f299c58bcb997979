"""Measure the inbox list, the conversation page and search on a generated dataset.

Real requests go through the Flask app (create_app + test client, logged in as the
dataset's first agent) in this process, so the figures include routing, the session,
every SQL query and template rendering. Per page kind it prints the median and p95
server time (WSGI call to the last byte of the body) over --runs rounds, also as CPU
time of the serving thread (other busy processes on the machine inflate wall-time p95,
much less CPU time), the SQL queries each page issues (peewee execute_sql calls), and
the resident memory of this process (VmRSS, and the peak VmHWM while serving the pages,
from /proc/self/status). Pending migrations are applied to the dataset first.

Pages:
  list          /inbox: folders open, mine and unassigned; sort newest and waiting;
                the second keyset page ("Load more", an HTMX rows fragment) and one
                halfway down the closed folder
  conversation  /c/<id>: the longest thread, a few random ones, the newest open one
  search        /inbox?q=: a 2-syllable Korean word, a longer Korean word, an English
                word, a phone number fragment, and one-letter words ("A/S 요청")
  poll          the live-update requests every open page repeats (list every 5 s,
                conversation every 3 s) when nothing changed; no target

Targets (100k contacts / 1M messages, SQLite): p95 < 50 ms for list and conversation,
< 150 ms for search, process RSS < 100 MB.

Examples:
    .venv/bin/python bench/generate.py --dir /tmp/inbox-bench
    .venv/bin/python bench/run.py --dir /tmp/inbox-bench --runs 50
    .venv/bin/python bench/run.py --kinds list --runs 1 --explain     # queries and plans
    .venv/bin/python bench/run.py --kinds search --profile search     # where the time goes
    .venv/bin/python bench/run.py --pragma cache_size=-2000           # try a pragma
"""

from __future__ import annotations

import cProfile
import datetime as dt
import html
import importlib
import json
import math
import os
import pstats
import random
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DB_FILE, dataset_parser, open_dataset, rss_kib

KINDS = ("list", "conversation", "search", "poll")
TARGET_MS = {"list": 50.0, "conversation": 50.0, "search": 150.0}  # poll: no target, shown for information
TARGET_RSS_MB = 100.0


class QueryLog:
    """Counts (and optionally keeps) every statement sent through peewee's execute_sql."""

    def __init__(self, database):
        self.count = 0
        self.statements: list | None = None
        original = database.execute_sql

        def execute_sql(sql, params=None, *args, **kwargs):
            self.count += 1
            if self.statements is not None:
                self.statements.append((sql, params))
            return original(sql, params, *args, **kwargs)

        database.execute_sql = execute_sql


class WsgiTimer:
    """Server time of one request: from the WSGI call to the last byte of the body, as
    wall time and as CPU time of this thread (which other busy processes do not inflate)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.last = self.last_cpu = 0.0

    def __call__(self, environ, start_response):
        started, started_cpu = time.perf_counter(), time.thread_time()
        body = self.wsgi_app(environ, start_response)
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        self.last = time.perf_counter() - started
        self.last_cpu = time.thread_time() - started_cpu
        return chunks


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _parse(argv):
    parser = dataset_parser("bench/run.py", __doc__)
    parser.add_argument("--runs", type=int, default=50, help="measured rounds over every page (default 50)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first (default 2)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="page kinds to run, comma-separated (default all)")
    parser.add_argument(
        "--conversations", type=int, default=4, help="random conversations besides the longest (default 4)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed for picking conversations (default 7)")
    parser.add_argument("--explain", action="store_true", help="print every query of each page with EXPLAIN QUERY PLAN")
    parser.add_argument("--profile", metavar="KIND", choices=KINDS, help="cProfile the measured rounds of one kind")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument(
        "--pragma", action="append", default=[], metavar="NAME=VALUE",
        help="override a SQLite pragma of inbox.db.SQLITE_PRAGMAS for this run (e.g. cache_size=-2000); repeatable",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in args.kinds):
        parser.error(f"--kinds takes {', '.join(KINDS)}")
    return args


def _pick_targets(database, meta: dict, args) -> list[tuple[str, str, str, dict]]:
    """(kind, label, url, headers) for every page to measure; cheap lookups only."""
    rng = random.Random(args.seed)
    pages: list[tuple[str, str, str, dict]] = []
    if "list" in args.kinds:
        for folder, sort in (("open", "newest"), ("mine", "newest"), ("unassigned", "newest"),
                             ("open", "waiting"), ("unassigned", "waiting")):  # fmt: skip
            pages.append(("list", f"{folder}, {sort}", "/inbox?" + urlencode({"folder": folder, "sort": sort}), {}))
    if "conversation" in args.kinds:
        heavy = meta["heavy_conversation"]
        top = database.execute_sql("SELECT MAX(id) FROM conversation").fetchone()[0]
        ids = [heavy]
        while len(ids) < 1 + args.conversations:
            candidate = rng.randint(1, top)
            if candidate not in ids:
                ids.append(candidate)
        newest = database.execute_sql(
            "SELECT id FROM conversation WHERE state = 'open' ORDER BY last_activity_at DESC LIMIT 1"
        ).fetchone()
        if newest and newest[0] not in ids:
            ids.append(newest[0])
        for cid in ids:
            n = database.execute_sql("SELECT COUNT(*) FROM message WHERE conversation_id = ?", (cid,)).fetchone()[0]
            e = database.execute_sql("SELECT COUNT(*) FROM audit_event WHERE conversation_id = ?", (cid,)).fetchone()[0]
            tag = "longest, " if cid == heavy else "newest open, " if newest and cid == newest[0] else ""
            pages.append(("conversation", f"#{cid} ({tag}{n} msgs, {e} events)", f"/c/{cid}", {}))
    if "search" in args.kinds:
        row = database.execute_sql(
            "SELECT value FROM identity WHERE kind = 'phone' AND value LIKE '+8210%' ORDER BY id LIMIT 1 OFFSET ?",
            (rng.randint(0, 500),),
        ).fetchone()
        phone = f"010-{row[0][5:9]}" if row else "010-1234"
        for label, q in (("Korean 2 syllables", "배송"), ("Korean long word", "세금계산서"),
                         ("English word", "refund"), ("phone fragment", phone),
                         ("one-letter words", "A/S 요청")):  # fmt: skip
            pages.append(("search", f"{label}: {q}", "/inbox?" + urlencode({"q": q}), {}))
    if "poll" in args.kinds:
        since = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=10)).isoformat()
        hx = {"HX-Request": "true"}
        for folder in ("open", "mine", "closed"):
            query = urlencode({"folder": folder, "sort": "newest", "since": since})
            pages.append(("poll", f"list updates, {folder}", "/inbox/updates?" + query, hx))
        heavy = meta["heavy_conversation"]
        last_message = database.execute_sql(
            "SELECT MAX(id) FROM message WHERE conversation_id = ?", (heavy,)
        ).fetchone()[0]
        last_event = database.execute_sql(
            "SELECT MAX(id) FROM audit_event WHERE conversation_id = ?", (heavy,)
        ).fetchone()[0]
        query = urlencode({"after_message": last_message or 0, "after_event": last_event or 0, "since": since})
        pages.append(("poll", f"conversation updates #{heavy}", f"/c/{heavy}/updates?" + query, hx))
    return pages


def _second_page(client, kind_label: str, url: str) -> tuple[str, str, str, dict] | None:
    """The "Load more" request of a list page, as the browser sends it."""
    body = client.get(url).get_data(as_text=True)
    match = re.search(r'<li class="more"[^>]*>\s*<a href="[^"]*"\s+hx-get="([^"]+)"', body)
    if not match:
        return None
    return ("list", f"{kind_label}, page 2", html.unescape(match.group(1)), {"HX-Request": "true"})


def _deep_page(database) -> tuple[str, str, str, dict] | None:
    """A keyset page halfway down the closed folder (the biggest one)."""
    total = database.execute_sql("SELECT COUNT(*) FROM conversation WHERE state = 'closed'").fetchone()[0]
    row = database.execute_sql(
        "SELECT last_activity_at, id FROM conversation WHERE state = 'closed' "
        "ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET ?",
        (total // 2,),
    ).fetchone()
    if not row:
        return None
    stamp = row[0].replace(" ", "T")
    query = urlencode({"folder": "closed", "sort": "newest", "cursor": f"{stamp}|{row[1]}", "fragment": "rows"})
    return ("list", f"closed, newest, page {total // 2 // 50 + 2}", "/inbox?" + query, {"HX-Request": "true"})


def _explain(database, statements) -> None:
    for sql, params in statements:
        print(f"    SQL: {sql}")
        if params:
            print(f"         params: {list(params)[:12]}{' ...' if len(params) > 12 else ''}")
        if sql.lstrip().upper().startswith("SELECT"):
            for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params or ()).fetchall():
                print(f"         plan: {row[-1]}")


def main(argv=None) -> int:
    args = _parse(argv)
    dataset = open_dataset(args.dir)
    if dataset is None:
        return 2
    path, meta = dataset
    rss_start = rss_kib()

    db_module = importlib.import_module("inbox.db")

    for item in args.pragma:
        name, _, value = item.partition("=")
        db_module.SQLITE_PRAGMAS[name.strip()] = int(value) if value.lstrip("-").isdigit() else value

    import tasks  # noqa: F401  (the views import it; settings are read at import)
    from inbox import create_app, schema
    from inbox.db import db

    app = create_app()
    with db.connection_context():
        # A dataset made before a new migration: bring it up to date, as a deploy would.
        applied = schema.upgrade(db.obj)
    if applied:
        print(f"applied pending migrations to the dataset: {', '.join(applied)}")
    queries = QueryLog(db.obj)
    timer = WsgiTimer(app.wsgi_app)
    app.wsgi_app = timer
    client = app.test_client()

    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    response = client.post(
        "/login", data={"email": meta["login"]["email"], "password": meta["login"]["password"], "csrf_token": token}
    )
    if response.status_code != 303:
        print(f"login failed: {response.status_code}", file=sys.stderr)
        return 1

    with db.connection_context():
        pages = _pick_targets(db.obj, meta, args)
        deep = _deep_page(db.obj) if "list" in args.kinds else None
    if "list" in args.kinds:
        for label, url in (("open, newest", "/inbox?folder=open&sort=newest"),
                           ("open, waiting", "/inbox?folder=open&sort=waiting")):  # fmt: skip
            second = _second_page(client, label, url)
            if second:
                pages.append(second)
        if deep:
            pages.append(deep)
        pages.sort(key=lambda page: KINDS.index(page[0]))  # stable: keeps the order within a kind
    rss_ready = rss_kib()
    # Logging in hashes a password with scrypt (~32 MB for a moment); reset the peak so
    # VmHWM below is the peak while serving the measured pages.
    login_hwm = rss_ready["VmHWM"]
    try:
        Path("/proc/self/clear_refs").write_text("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    load_before = os.getloadavg()

    # Every page once, checked, with its query count (and plans with --explain).
    info: dict[str, dict] = {}
    for kind, label, url, headers in pages:
        queries.count = 0
        queries.statements = [] if args.explain else None
        response = client.get(url, headers=headers)
        body = response.get_data(as_text=True)
        if response.status_code != 200:
            print(f"{url}: HTTP {response.status_code}", file=sys.stderr)
            return 1
        rows = body.count('<li class="row ')
        entries = body.count('<li class="entry ')
        info[url] = {"queries": queries.count, "bytes": len(response.data), "rows": rows, "entries": entries}
        if args.explain:
            statements, queries.statements = queries.statements, None
            print(f"\n[{kind}] {label}  {url}  ({len(statements)} queries)")
            with db.connection_context():
                _explain(db.obj, statements)

    for _ in range(args.warmup):
        for _kind, _label, url, headers in pages:
            client.get(url, headers=headers)

    samples: dict[str, list[float]] = {url: [] for _k, _l, url, _h in pages}
    cpu: dict[str, list[float]] = {url: [] for _k, _l, url, _h in pages}
    counts: dict[str, set[int]] = {url: set() for _k, _l, url, _h in pages}
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.runs):
        for kind, _label, url, headers in pages:
            queries.count = 0
            if profiler and kind == args.profile:
                profiler.enable()
            client.get(url, headers=headers)
            if profiler and kind == args.profile:
                profiler.disable()
            samples[url].append(timer.last * 1000)
            cpu[url].append(timer.last_cpu * 1000)
            counts[url].add(queries.count)
    rss_end = rss_kib()
    load_after = os.getloadavg()

    # --- report -------------------------------------------------------------------------
    print()
    cpu_note = f" ({meta['generation_cpu_seconds']} s CPU)" if "generation_cpu_seconds" in meta else ""
    print(
        f"dataset: {meta['contacts']:,} contacts, {meta['messages']:,} messages, {meta['agents']} team members, "
        f"{meta['days']} days; generated in {meta['generation_seconds']} s{cpu_note}; "
        f"database {meta.get('database_bytes', 0) / 2**20:.0f} MiB ({path / DB_FILE})"
    )
    print(f"folders for {meta['login']['email']}: {meta['folders']}")
    print(
        f"runs: {args.runs} rounds after {args.warmup} warm-up rounds; server time per request in ms "
        "(wall; cpu = CPU time of the serving thread)"
    )
    print(
        f"machine: {os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        "(other processes on the machine inflate p95)"
    )
    print()
    header = (
        f"{'kind':<13}{'page':<48}{'median':>7}{'p95':>7}{'max':>7}{'cpu med':>8}{'cpu p95':>8}"
        f"{'queries':>8}{'rows':>5}{'KiB':>5}"
    )
    print(header)
    print("-" * len(header))
    for kind, label, url, _h in pages:
        s = samples[url]
        q = counts[url]
        qtext = str(min(q)) if len(q) == 1 else f"{min(q)}-{max(q)}"
        shown = info[url]["rows"] if kind != "conversation" else info[url]["entries"]
        c = cpu[url]
        print(
            f"{kind:<13}{label[:47]:<48}{statistics.median(s):>7.1f}{percentile(s, 95):>7.1f}{max(s):>7.1f}"
            f"{statistics.median(c):>8.1f}{percentile(c, 95):>8.1f}{qtext:>8}{shown:>5}{info[url]['bytes'] / 1024:>5.0f}"
        )
    print()
    summary = {}
    print(
        f"{'kind':<13}{'requests':>9}{'median':>8}{'p95':>8}{'cpu med':>8}{'cpu p95':>8}{'target p95':>12}"
        f"{'queries/page':>14}  result"
    )
    for kind in args.kinds:
        urls = [url for k, _l, url, _h in pages if k == kind]
        if not urls:
            continue
        s = [v for url in urls for v in samples[url]]
        c = [v for url in urls for v in cpu[url]]
        q = sorted({n for url in urls for n in counts[url]})
        med, p95 = statistics.median(s), percentile(s, 95)
        cmed, cp95 = statistics.median(c), percentile(c, 95)
        target = TARGET_MS.get(kind)
        ok = target is None or p95 < target
        summary[kind] = {
            "requests": len(s), "median_ms": round(med, 2), "p95_ms": round(p95, 2),
            "cpu_median_ms": round(cmed, 2), "cpu_p95_ms": round(cp95, 2), "queries": q,
        }  # fmt: skip
        qtext = str(q[0]) if len(q) == 1 else f"{q[0]}-{q[-1]}"
        if target is None:
            verdict, target_text = "-", "-"
        else:
            verdict = "ok" if ok else "MISSED" + (" (cpu time ok)" if cp95 < target else "")
            target_text = f"< {target:.0f}"
        print(
            f"{kind:<13}{len(s):>9}{med:>8.1f}{p95:>8.1f}{cmed:>8.1f}{cp95:>8.1f}"
            f"{target_text:>12}{qtext:>14}  {verdict}"
        )
    rss_mb, hwm_mb = rss_end["VmRSS"] / 1024, rss_end["VmHWM"] / 1024
    print()
    print(
        f"memory (this process): VmRSS {rss_mb:.1f} MB (anon {rss_end.get('RssAnon', 0) / 1024:.1f}, "
        f"file {rss_end.get('RssFile', 0) / 1024:.1f}); peak VmHWM while serving the pages {hwm_mb:.1f} MB"
        f"{'' if hwm_reset else ' (could not reset, includes start-up)'}; "
        f"target < {TARGET_RSS_MB:.0f} MB: {'ok' if hwm_mb < TARGET_RSS_MB else 'MISSED'}"
    )
    print(
        f"  before the pages: {rss_start['VmRSS'] / 1024:.1f} MB at start, {rss_ready['VmRSS'] / 1024:.1f} MB with "
        f"the app loaded and logged in; peak {login_hwm / 1024:.1f} MB during start-up and login (scrypt)"
    )
    print()
    if args.pragma:
        print(f"pragmas: {db_module.SQLITE_PRAGMAS}")
    print("command:   " + shlex.join([sys.executable, *sys.argv]))
    if meta.get("command"):
        print("generated: " + meta["command"])
    if profiler:
        print()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(30)
    if args.json:
        figures = {
            "dataset": {k: meta[k] for k in ("contacts", "messages", "agents", "days", "generation_seconds")},
            "pages": [
                {"kind": k, "page": label, "url": url, "median_ms": round(statistics.median(samples[url]), 2),
                 "p95_ms": round(percentile(samples[url], 95), 2),
                 "cpu_median_ms": round(statistics.median(cpu[url]), 2),
                 "cpu_p95_ms": round(percentile(cpu[url], 95), 2), "queries": sorted(counts[url]), **info[url]}
                for k, label, url, _h in pages
            ],
            "summary": summary,
            "rss_mb": round(rss_mb, 1),
            "hwm_mb": round(hwm_mb, 1),
            "startup_hwm_mb": round(login_hwm / 1024, 1),
            "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
            "command": shlex.join([sys.executable, *sys.argv]),
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
