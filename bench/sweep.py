"""Time the periodic sweeps (reminders.sweep and sla.sweep) on a large generated inbox.

The script writes its own SQLite dataset into --dir (replaced on every run): open
conversations (one per contact) and follow-ups. Most of the follow-ups are pending and
due later (manual reminders, cadence steps, reactivation touches). A few hundred are due
now, beside fired and cancelled history. Some conversations are waiting: most of those
were notified (and escalated) long ago, a few hundred breached just now, and a few are
still inside their target.

Then it runs --sweeps rounds one simulated minute apart, the way the sweep_timers task
runs every minute. Each round calls automation.sweep_followups(now) and then sla.sweep(now). For
each call it prints the wall time, the CPU time and the number of SQL statements
(peewee's execute_sql calls). The first round fires what is due. The following rounds
show the steady cost, which must not grow with the number of follow-ups that are not
due yet. Compare a run with --pending 50000 and one with --pending 500000.

Target (SQLite): every sweep under 1 s, however many follow-ups are pending.

Examples:
    .venv/bin/python bench/sweep.py
    .venv/bin/python bench/sweep.py --pending 500000 --sweeps 3
    .venv/bin/python bench/sweep.py --auto-send           # due cadence steps send templates
    .venv/bin/python bench/sweep.py --explain             # query plans of the sweep queries
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import math
import pstats
import random
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import configure

DEFAULT_DIR = "/tmp/inbox-bench-sweep"
TARGET_S = 1.0
STATUSES = ["new"] * 30 + ["contacted"] * 40 + ["interested"] * 15 + ["dormant"] * 10 + ["won"] * 5


class QueryLog:
    """Counts every statement sent through peewee's execute_sql."""

    def __init__(self, database):
        self.count = 0
        original = database.execute_sql

        def execute_sql(sql, params=None, *args, **kwargs):
            self.count += 1
            return original(sql, params, *args, **kwargs)

        database.execute_sql = execute_sql


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="bench/sweep.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"where the dataset is written (default {DEFAULT_DIR})")
    parser.add_argument("--conversations", type=int, default=100_000, help="open conversations (default 100000)")
    parser.add_argument("--pending", type=int, default=50_000, help="follow-ups due later (default 50000)")
    parser.add_argument("--due", type=int, default=300, help="follow-ups due now, and SLA breaches (default 300)")
    parser.add_argument("--history", type=int, default=100_000, help="fired or cancelled follow-ups (default 100000)")
    parser.add_argument("--sweeps", type=int, default=5, help="rounds, one simulated minute apart (default 5)")
    parser.add_argument("--auto-send", action="store_true", help="cadence steps send their template automatically")
    parser.add_argument("--seed", type=int, default=11, help="random seed (default 11)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN QUERY PLAN of the sweep queries")
    parser.add_argument("--profile", action="store_true", help="cProfile the first round of reminders.sweep")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    return parser.parse_args(argv)


def _bulk(database, model, rows: list[dict]) -> None:
    """INSERT ``rows`` with executemany, values converted the way peewee would store them;
    fields a row leaves out get their default. Building every row through peewee's
    insert_many costs far more than SQLite itself at these sizes."""
    fields = [f for f in model._meta.sorted_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({", ".join("?" * len(fields))})'

    def value(field, row):
        v = row[field.name] if field.name in row else (field.default() if callable(field.default) else field.default)
        v = field.db_value(v)
        return str(v) if isinstance(v, dt.datetime) else int(v) if isinstance(v, bool) else v

    database.cursor().executemany(sql, [tuple(value(f, r) for f in fields) for r in rows])


def _log_minutes(rng: random.Random, low: float, high: float) -> dt.timedelta:
    """A wait between ``low`` and ``high`` minutes, as many short ones as long ones per decade."""
    return dt.timedelta(minutes=math.exp(rng.uniform(math.log(low), math.log(high))))


def generate(database, args, now: dt.datetime) -> dict:
    """Write the dataset; returns its sizes. SLA marks are what the sweep, run every
    minute until now, would have left; then --due conversations lose theirs (breached
    just now) and --due follow-ups are due."""
    from inbox import canned, sla, team
    from inbox.models import Channel, Contact, Conversation, FollowUp, Identity, User

    rng = random.Random(args.seed)
    minutes = lambda a, b: dt.timedelta(minutes=rng.uniform(a, b))  # noqa: E731
    with database.atomic():
        agents = [
            User.create(email=f"agent{i}@example.com", name=f"Agent {i}", role="agent", password_hash="-").id
            for i in range(10)
        ]
        User.create(email="manager@example.com", name="Manager", role="manager", password_hash="-")
        Channel.create(kind="email", name="Sales mailbox", enabled=False)
        template = canned.save(
            None, User.get_by_id(agents[0]), name="Follow-up", shortcut="follow-up", channels="",
            body="Hi {{ contact.first_name }}, any thoughts on {{ last_topic }}?",
        )  # fmt: skip
        team.put("cadence_templates", {str(s): template.shortcut for s in range(1, 9)})
        team.put("reactivation_templates", {"1": template.shortcut, "2": template.shortcut})
        team.put("cadence_auto_send", bool(args.auto_send))
        policy = sla.Policy.load()

        n = args.conversations
        first_contact = (Contact.select(Contact.id).order_by(Contact.id.desc()).scalar() or 0) + 1
        first_conv = (Conversation.select(Conversation.id).order_by(Conversation.id.desc()).scalar() or 0) + 1
        statuses = [rng.choice(STATUSES) for _ in range(n)]
        just_breached = set(rng.sample(range(n), min(args.due, n)))
        contacts, identities, conversations, awaiting = [], [], [], []
        for i in range(n):
            cid = first_contact + i
            row = {"contact": cid, "state": "open", "last_inbound_channel": "email", "channels": "email",
                   "preview": "Can I get a quote?", "preview_direction": "in", "opened_at": now - dt.timedelta(days=90)}  # fmt: skip
            if i in just_breached:  # a new lead whose hour ran out a moment ago: nobody told yet
                statuses[i] = "new"
                since = now - minutes(61, 600)
                row |= {"waiting_since": since, "last_inbound_at": since}
            elif rng.random() < 0.70:  # awaiting the customer: our reply was last
                inbound = now - minutes(60, 60 * 24 * 60)
                row |= {"last_inbound_at": inbound, "last_outbound_at": inbound + minutes(5, 300)}
                row["preview_direction"] = "out"
                awaiting.append(i)
            else:  # waiting for us, from a minute to a month
                since = now - _log_minutes(rng, 1, 60 * 24 * 30)
                target = dt.timedelta(seconds=policy.target_seconds(statuses[i], "email"))
                row |= {"waiting_since": since, "last_inbound_at": since}
                if since + target < now:
                    row["breach_notified_at"] = since + target
                if since + 2 * target < now:
                    row["escalated_at"] = since + 2 * target
            row["last_activity_at"] = row.get("last_outbound_at") or row["last_inbound_at"]
            row["updated_at"] = row["last_activity_at"]
            conversations.append(row)
            contacts.append({"name": f"Lead {i}", "lead_status": statuses[i], "owner": rng.choice(agents + [None]),
                             "created_at": now, "updated_at": now})  # fmt: skip
            identities.append({"contact": cid, "kind": "email", "value": f"lead{i}@example.com", "created_at": now})
        _bulk(database, Contact, contacts)
        _bulk(database, Identity, identities)
        _bulk(database, Conversation, conversations)

        def followup(due_at: dt.datetime, **extra) -> dict:
            i = rng.choice(awaiting)
            kind = rng.choices(["manual", "cadence", "reactivation"], weights=[50, 40, 10])[0]
            if kind == "reactivation" and statuses[i] != "dormant":
                kind = "cadence"
            if kind == "cadence" and statuses[i] == "won":
                kind = "manual"
            row = {"conversation": first_conv + i, "owner": rng.choice(agents), "kind": kind, "due_at": due_at,
                   "created_at": now - minutes(60, 60 * 24 * 30)}  # fmt: skip
            if kind == "manual":
                row["note"] = "call back about the quote"
            else:
                row["step"] = rng.randint(1, 3)
                row["meta"] = {"since": conversations[i]["last_outbound_at"].isoformat(), "channel": "email"}
            return row | extra

        rows = [followup(now + minutes(10, 60 * 24 * 60)) for _ in range(args.pending)]
        rows += [followup(now - minutes(0, 30)) for _ in range(args.due)]
        for _ in range(args.history):
            due = now - minutes(60, 60 * 24 * 90)
            if rng.random() < 0.8:
                rows.append(followup(due, fired_at=due + minutes(0, 1), done_at=due + minutes(1, 600)))
            else:  # cancelled before it fell due (the customer answered)
                rows.append(followup(due + minutes(60, 6000), cancelled_at=due))
        rng.shuffle(rows)  # ids unrelated to due times, as in a real table
        _bulk(database, FollowUp, rows)
    database.execute_sql("ANALYZE")
    waiting = [c for c in conversations if c.get("waiting_since")]
    return {
        "conversations": n,
        "pending": args.pending,
        "due": args.due,
        "history": args.history,
        "waiting": len(waiting),
        "waiting_unnotified": sum(1 for c in waiting if not c.get("breach_notified_at")),
        "notified_unescalated": sum(1 for c in waiting if c.get("breach_notified_at") and not c.get("escalated_at")),
    }


def explain(database, now: dt.datetime) -> None:
    """The plans of the queries the sweeps run before they find anything due."""
    from inbox import sla
    from inbox.models import FollowUp

    policy = sla.Policy.load()
    queries = [
        ("reminders: due follow-ups", FollowUp.select()
         .where(FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.due_at <= now))
         .order_by(FollowUp.due_at).limit(1000)),
    ]  # fmt: skip
    for escalation in (False, True):
        for target, query in sla.candidates(policy, now, escalation=escalation):
            what = "escalation" if escalation else "breach"
            queries.append((f"sla: {what} candidates, target {target // 60} min", query))
    for label, query in queries:
        sql, params = query.sql()
        plan = database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        print(f"  {label}:")
        for row in plan:
            print(f"      {row[-1]}")


def main(argv=None) -> int:
    args = _parse(argv)
    data_dir = Path(args.dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    configure(data_dir)

    from inbox import reminders, schema, sla
    from inbox.db import db, init_db, utcnow
    from inbox.models import Message, Notification

    database = init_db(f"sqlite:///{data_dir / 'inbox.db'}")
    schema.upgrade(database)
    now = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    sizes = generate(database, args, now)
    print(
        f"dataset in {data_dir}: {sizes['conversations']:,} open conversations ({sizes['waiting']:,} waiting: "
        f"{sizes['waiting_unnotified']:,} not notified, {sizes['notified_unescalated']:,} notified but not "
        f"escalated), follow-ups: {sizes['pending']:,} due later, "
        f"{sizes['due']:,} due now, {sizes['history']:,} fired or cancelled; "
        f"generated in {time.perf_counter() - started:.1f} s"
    )
    if args.explain:
        explain(database, now)

    log = QueryLog(database)
    results = []
    print(f"{'sweep':<18} {'round':>5} {'result':<28} {'wall ms':>9} {'cpu ms':>9} {'queries':>8}")
    for i in range(args.sweeps):
        moment = now + dt.timedelta(minutes=i)
        for name, fn in (("reminders.sweep", reminders.sweep), ("sla.sweep", sla.sweep)):
            log.count = 0
            profiler = cProfile.Profile() if args.profile and i == 0 and name == "reminders.sweep" else None
            t0, c0 = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            outcome = fn(now=moment)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            shown = f"fired {outcome}" if isinstance(outcome, int) else " ".join(f"{k} {v}" for k, v in outcome.items())
            print(f"{name:<18} {i + 1:>5} {shown:<28} {wall * 1000:>9.1f} {cpu * 1000:>9.1f} {log.count:>8,}")
            results.append({"sweep": name, "round": i + 1, "result": outcome, "wall_s": wall, "cpu_s": cpu,
                             "queries": log.count})  # fmt: skip
    with db.connection_context():
        sent = Message.select().where(Message.automatic).count()
        tasks = Notification.select().where(Notification.kind == "cadence_task").count()
    print(f"after the sweeps: {tasks:,} cadence tasks notified, {sent:,} automatic messages stored")
    worst = max(r["wall_s"] for r in results)
    idle = [r for r in results if r["round"] > 1]
    worst_idle = max((r["wall_s"] for r in idle), default=0.0)
    verdict = "met" if worst < TARGET_S else "MISSED"
    print(
        f"slowest sweep {worst * 1000:.1f} ms, slowest sweep after the first round {worst_idle * 1000:.1f} ms; "
        f"target < {TARGET_S * 1000:.0f} ms: {verdict}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "sweeps": results}, default=str, indent=2))
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
