"""Simulate a month of leads on every channel, minute by minute, through the product's
real interfaces, and compare what the product did with what should have happened.

Leads arrive at realistic local times in Asia/Seoul (evenings and nights too, fewer at
weekends), in Korean and English: by default 300 over 30 days, about 125 through
POST /api/leads (lead-source bearer tokens), 78 by WhatsApp and 50 by SMS (signed Twilio
webhooks) and 47 by email (the mail poller's store path: email.to_inbound and
polling.store_batch). The clock (inbox.db.set_clock) moves from one scheduled event or
due moment to the next; the product's periodic tasks (tasks.py, at their crontab
cadence, except the channel polls) run in every simulated minute in which anything is
due for them: a follow-up, an SLA deadline, a snooze, a queued message, a notification
email, the top of each hour. Huey runs in immediate mode, so what a request or a task
enqueues runs at once. Replies really go out: email to a local SMTP server
(tests/servers.py), SMS and WhatsApp to the local Twilio-compatible server
(tests/twilio_server.py), whose signed status callbacks come back to the app. A few
percent of the customers cannot be reached (550 unknown mailbox, Twilio 21614), so
failed sends happen. Only 127.0.0.1 is used.

The people: agents log in and use the conversation and contact forms (with their CSRF
token). They answer some leads within minutes, some hours later, snooze a few and
forget others; they mark leads contacted, interested (sometimes with a next action),
won or lost, and close some. Customers answer some of what reaches them, some text
STOP, some mailboxes answer with out-of-office replies (Auto-Submitted: auto-replied).
The team lets automation write: an acknowledgement template, cadence and reactivation
templates (some of them approved WhatsApp templates) and the day-3 re-engagement.

It prints one line per figure:

- due events surfaced / never surfaced, by kind and channel. Due: a notification for
  the owner or the managers when a lead arrives; while a lead waits for our reply
  (from a customer message that is not an auto-reply or STOP, until a reply of ours
  that was delivered or a close), one at 1 h, one at 24 h and one on every business
  day after that (any time that local day), except while it is snoozed; and, when a
  delivered human reply leaves a lead that is not won or lost awaiting the customer, a
  planned follow-up step (FollowUp cadence / reactivation / reengage). Any
  notification on the conversation after the due moment and before the next one
  surfaces it. Waits after the first (the customer wrote again) are counted apart, and
  so are misses on won or lost leads;
- lateness p50 / p95 / max: from the due moment (a business day: the start of business
  hours) to the notification or the step, 0 when it came earlier that day;
- guard violations by kind: an automatic message in the contact's quiet hours (team
  quiet_hours in the contact's or the team's time zone), a second automatic message to
  a contact on one local day (failed sends do not count), an automatic message to a
  contact who opted out of that channel, WhatsApp free text outside the 24-hour window;
- open leads without a next step at the end (open conversation of a lead that is not
  won or lost, nobody waiting for our reply, no pending FollowUp, no next action);
- leads that got an owner, and p90 time to owner per channel;
- the dashboard (inbox.stats: first response median / p90, contact, response,
  conversion and reactivation rates for the month) beside the same figures computed
  from the simulation's own log (what the agents did, what reached the customers, what
  the customers wrote), and how many differ (rounded as the dashboard shows them);
- wall time, CPU time and the load average.

Targets (--check exits 1 when one is missed): 0 due events never surfaced, 0 guard
violations, 0 open leads without a next step, 0 dashboard figures that differ from the
simulation's. Without --check the exit code is 0 unless the script itself fails.

On PostgreSQL, give an empty database with --database-url postgresql://... A throwaway
one, as scripts/test starts it (as root: chown nobody $d, and prefix initdb and both
pg_ctl commands with runuser -u nobody --):
    d=$(mktemp -d); port=$((20000 + RANDOM % 20000)); pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    $pg/initdb -D $d/pg -U postgres -A trust -E UTF8 --locale=C.UTF-8
    $pg/pg_ctl -D $d/pg -l $d/pg.log -w -o "-p $port -k $d -c listen_addresses=127.0.0.1 -c fsync=off" start
    psql -h 127.0.0.1 -p $port -U postgres -c "create database sim"
    .venv/bin/python bench/simulate.py --database-url postgresql://postgres@127.0.0.1:$port/sim
    $pg/pg_ctl -D $d/pg -m fast -w stop; rm -rf $d

Examples:
    .venv/bin/python bench/simulate.py
    .venv/bin/python bench/simulate.py --leads 60 --days 7 --seed 3
    .venv/bin/python bench/simulate.py --every-minute      # no skipped minutes (slower)
    .venv/bin/python bench/simulate.py --check             # exit 1 when a target is missed
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import datetime as dt
import email
import email.policy
import heapq
import itertools
import json
import logging
import math
import os
import pstats
import queue
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import request

from bench.common import PASSWORD, configure
from tests.servers import SmtpSink, free_port
from tests.twilio_server import ApiError, TwilioServer, bare

TEAM_ZONE = "Asia/Seoul"
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
CHANNEL_SHARES = (("api", 125), ("whatsapp", 78), ("sms", 50), ("email", 47))
CHANNELS = tuple(name for name, _ in CHANNEL_SHARES)
# Relative arrival rate per local hour (Asia/Seoul): office hours, evenings, some nights.
HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 9, 11, 12, 12, 11, 10, 9, 10, 11, 11, 9, 6)
WEEKEND_WEIGHT = 0.6
SMS_NUMBER = "+8215881234"
WA_NUMBER = "+821099990000"
MAILBOX = "sales@inbox-sim.example"
SKIPPED_TASKS = {"poll_channels", "poll_email_channel", "poll_twilio_channel"}  # no IMAP server; webhooks instead
FINAL_TWILIO = {"delivered", "read", "failed", "undelivered", "canceled"}
MAX_ROUNDS = 3  # customer replies per lead

KO_SURNAMES = {"김": "kim", "이": "lee", "박": "park", "최": "choi", "정": "jung", "강": "kang", "조": "cho",
               "윤": "yoon", "장": "jang", "한": "han", "오": "oh", "서": "seo", "신": "shin", "권": "kwon"}  # fmt: skip
KO_GIVEN = ("민준", "서연", "도윤", "지우", "하준", "서윤", "시우", "하은", "지호", "수아", "예준", "지유", "현우", "다은")  # fmt: skip
EN_FIRST = ("James", "Emma", "Daniel", "Olivia", "Michael", "Sophie", "David", "Grace", "Ryan", "Chloe", "Lucas")
EN_LAST = ("Smith", "Brown", "Wilson", "Taylor", "Clark", "Walker", "Hall", "Young", "Allen", "Wright")
DOMAINS = ("example.com", "example.kr", "example.net", "mail.example.org")
LEAD_TEXTS = {
    "ko": ("견적 부탁드립니다. 20명 정도 사용할 예정입니다.", "가격표 받아볼 수 있을까요?",
           "데모 신청하고 싶습니다. 이번 주 가능할까요?", "도입 관련해서 상담 받고 싶어요.",
           "기존 시스템에서 옮기려면 얼마나 걸리나요?", "카카오톡 연동도 되나요? 급하게 알아보고 있어요."),
    "en": ("Hi, could you send me a quote for 20 seats?", "What does the premium plan cost per month?",
           "I'd like to book a demo this week.", "Do you offer a discount for annual billing?",
           "Can we import our old conversations from another tool?"),
}  # fmt: skip
CUSTOMER_TEXTS = {
    "ko": ("네 확인했습니다. 내부 검토 후 연락드릴게요.", "견적서 받았어요. 할인 가능한가요?",
           "다음 주에 통화 가능할까요?", "감사합니다! 계약 진행하고 싶어요.", "조금 더 생각해볼게요."),
    "en": ("Thanks, we will review it internally.", "Got the quote. Is there any discount?",
           "Could we have a call next week?", "Great, we would like to go ahead.", "Let me think about it."),
}  # fmt: skip
AGENT_TEXTS = {
    "ko": ("안녕하세요, 문의 주셔서 감사합니다. 견적서를 보내드립니다.", "네, 가능합니다. 편하신 시간 알려주세요.",
           "확인 감사합니다. 궁금하신 점 있으면 언제든 말씀해 주세요."),
    "en": ("Hello, thanks for getting in touch. Here is our quote.", "Yes, that works. When suits you?",
           "Thanks for checking. Let me know if you have any questions."),
}  # fmt: skip
OUT_OF_OFFICE = {"ko": ("자동 회신: 부재중", "부재중입니다. 다음 주에 복귀합니다."),
                 "en": ("Automatic reply: out of office", "I am out of the office until next week.")}  # fmt: skip
REACTIVATION_MARK = "오랜만에 연락드립니다"
NAME = '{{ contact.first_name or "고객" }}'
TEMPLATES = {  # shortcut -> (name, body, approved WhatsApp template)
    "ack": ("Thanks for your enquiry", NAME + "님, 문의 감사합니다. 담당자가 곧 연락드리겠습니다. "
            "(Thanks for your enquiry: we will get back to you shortly.)", False),
    "fu1": ("Follow-up 1", NAME + "님, 보내드린 안내 확인해 보셨나요? (Did you get a chance to look at it?)", True),
    "fu2": ("Follow-up 2", NAME + "님, 궁금하신 점 있으면 말씀해 주세요. (Any questions?)", False),
    "fu3": ("Follow-up 3", NAME + "님, 이번 주 통화 가능하실까요? (A quick call this week?)", True),
    "fu4": ("Follow-up 4", NAME + "님, 마지막으로 안내드립니다. (One last note from us.)", False),
    "react1": ("Reactivation 1", NAME + f"님, {REACTIVATION_MARK}. 아직 관심 있으신가요? (Still interested?)", True),
    "react2": ("Reactivation 2", NAME + f"님, {REACTIVATION_MARK}. 이번 달 특별 조건이 있어요. (A special offer.)",
               False),
    "nudge": ("Still interested?", NAME + "님, 혹시 답변이 필요하신가요? (Do you still need an answer?)", False),
}  # fmt: skip
TEAM_SETTINGS = {
    "timezone": TEAM_ZONE,
    "quiet_hours": ["21:00", "08:00"],
    "lead_ack_template": "ack",
    "cadence_auto_send": True,
    "cadence_templates": {"1": "fu1", "2": "fu2", "3": "fu3", "4": "fu4"},
    "reactivation_templates": {"1": "react1", "2": "react2"},
    "lead_reengage_auto_send": True,
    "lead_reengage_template": "nudge",
}
FOLLOW_UP_KINDS = ("cadence", "reactivation", "reengage")
WAIT_KINDS = ("1 h", "24 h", "business day")
DUE_KINDS = ("arrival", *WAIT_KINDS, *(f"{k}, later wait" for k in WAIT_KINDS), "follow-up planned")


# --- the simulated people ----------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    at: dt.datetime
    kind: str
    auto: bool = False
    stop: bool = False
    reopened: bool = False


@dataclass(frozen=True)
class Reply:
    at: dt.datetime
    kind: str
    outcome: str  # delivered | failed | refused (the product would not store it)


@dataclass(frozen=True)
class Delivery:
    """Something of ours that reached (or failed to reach) the customer's provider."""

    at: dt.datetime
    kind: str
    delivered: bool
    human: bool
    text: str
    message_id: str = ""


@dataclass(eq=False)
class Persona:
    key: int
    channel: str  # how they first write: api | whatsapp | sms | email
    name: str
    language: str
    arrival: dt.datetime
    email: str = ""
    phone: str = ""
    source: int = 0
    unreachable: bool = False
    away: bool = False  # their mailbox answers with out-of-office replies
    stop_prone: bool = False
    responsiveness: float = 1.0
    conversation_id: int | None = None
    contact_id: int | None = None
    owner_at: dt.datetime | None = None
    inbound: list[Inbound] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[tuple[dt.datetime, str]] = field(default_factory=list)
    closes: list[dt.datetime] = field(default_factory=list)
    snoozes: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    stops: dict[str, dt.datetime] = field(default_factory=dict)
    rounds: int = 0
    agent_planned: bool = False  # an agent means to answer (or snooze) the latest message
    customer_planned: bool = False  # the customer means to answer our latest message
    stop_sent: bool = False
    ooo_days: set = field(default_factory=set)
    # Each lead's own draws, so that the order in which the product handles leads (ties
    # in a sweep) never changes what happens to another lead.
    rng: random.Random = field(default_factory=random.Random)

    @property
    def first_kind(self) -> str:
        if self.channel == "api":
            return "email" if self.email else "sms"
        return self.channel

    @property
    def status(self) -> str:
        return self.statuses[-1][1] if self.statuses else "new"

    def status_at(self, moment: dt.datetime) -> str:
        return next((s for at, s in reversed(self.statuses) if at <= moment), "new")

    def awaits_us(self) -> bool:
        """A customer message (not an auto-reply or STOP) came after our last delivered reply."""
        answered = max((r.at for r in self.replies if r.outcome == "delivered"), default=None)
        return any(not i.auto and not i.stop and (answered is None or i.at > answered) for i in self.inbound)


def split_counts(total: int) -> dict[str, int]:
    """``total`` leads shared among the channels like 125 / 78 / 50 / 47 (largest remainder)."""
    whole = sum(n for _, n in CHANNEL_SHARES)
    exact = {name: total * n / whole for name, n in CHANNEL_SHARES}
    counts = {name: int(v) for name, v in exact.items()}
    for name in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def population(rng: random.Random, total: int, start: dt.date, days: int, tz: ZoneInfo) -> list[Persona]:
    """The month's leads, in arrival order."""
    day_weights = [WEEKEND_WEIGHT if (start + dt.timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(days)]
    phones, people = set(), []
    for channel, count in split_counts(total).items():
        for _ in range(count):
            day = start + dt.timedelta(days=rng.choices(range(days), day_weights)[0])
            at = dt.time(rng.choices(range(24), HOUR_WEIGHTS)[0], rng.randrange(60), rng.randrange(60))
            arrival = dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
            people.append(_person(rng, len(people), channel, arrival, phones))
    people.sort(key=lambda p: p.arrival)
    return people


def _person(rng: random.Random, key: int, channel: str, arrival: dt.datetime, phones: set) -> Persona:
    language = "ko" if rng.random() < 0.7 else "en"
    if language == "ko":
        surname = rng.choice(list(KO_SURNAMES))
        name, local = surname + rng.choice(KO_GIVEN), KO_SURNAMES[surname]
    else:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        name, local = f"{first} {last}", f"{first}.{last}".lower()
    p = Persona(key, channel, name, language, arrival, source=rng.randrange(3), rng=random.Random(rng.random()))
    shape = rng.random()
    if channel == "email" or (channel == "api" and shape < 0.85):
        p.email = f"{local}.{key}@{rng.choice(DOMAINS)}"
    if channel in ("sms", "whatsapp") or (channel == "api" and (shape < 0.6 or not p.email)):
        p.phone = _phone(rng, phones)
    p.unreachable = rng.random() < 0.04
    p.away = bool(p.email) and rng.random() < 0.1
    p.stop_prone = channel in ("sms", "whatsapp") and rng.random() < 0.08
    p.responsiveness = rng.uniform(0.5, 1.5)
    return p


def _phone(rng: random.Random, taken: set) -> str:
    while True:
        number = f"+8210{rng.randrange(2, 10)}{rng.randrange(10**7):07d}"  # 010-0… and 010-1… do not exist
        if number not in taken:
            taken.add(number)
            return number


# --- the local providers -------------------------------------------------------------------


class Mailhost(SmtpSink):
    """The tests' SMTP sink, with mailboxes that do not exist: refused (550) after the
    message was sent, so that what was refused is known."""

    def __init__(self):
        super().__init__()
        self.unknown: set[str] = set()
        self.refused: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        unknown = [a for a in envelope.rcpt_tos if a.lower() in self.unknown]
        if unknown:
            self.refused += [(a.lower(), envelope.content) for a in unknown]
            return "550 5.1.1 mailbox unavailable"
        return await super().handle_DATA(server, session, envelope)


class Carrier(TwilioServer):
    """The tests' Twilio server, with handsets nobody reaches (21614); it keeps the sid of
    every message it accepted, and the number, body and template of every one it refused."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.unreachable: set[str] = set()
        self.created: list[str] = []
        self.refused: list[tuple[str, str, str]] = []

    def _create(self, account):
        form = request.form
        refused = (form.get("To") or "", form.get("Body") or "", form.get("ContentSid") or "")
        if bare(refused[0]) in self.unreachable:
            self.refused.append(refused)
            raise ApiError(400, 21614)
        try:
            message = super()._create(account)
        except ApiError:
            self.refused.append(refused)
            raise
        self.created.append(message.sid)
        return message


class Relay:
    """Posts the Twilio server's webhooks to the app with Flask's test client: at once from
    the simulation's thread, and the status callbacks of the server's threads when the
    simulation drains them, so that the app is only ever used from one thread."""

    def __init__(self, client):
        self.client = client
        self.thread = threading.get_ident()
        self.waiting: queue.SimpleQueue = queue.SimpleQueue()
        self.statuses: Counter = Counter()

    def __call__(self, url: str, params: dict, headers: dict):
        if threading.get_ident() != self.thread:
            self.waiting.put((url, params, headers))
            return None
        return self._post(url, params, headers)

    def _post(self, url: str, params: dict, headers: dict):
        response = self.client.post(urlsplit(url).path, data=params, headers=headers)
        self.statuses[response.status_code] += 1
        return response

    def drain(self, carrier: Carrier) -> None:
        while True:
            carrier.wait_idle(timeout=30)
            if self.waiting.empty():
                return
            while not self.waiting.empty():
                self._post(*self.waiting.get())


# --- the product ---------------------------------------------------------------------------


class Agent:
    """A logged-in user with a browser session (test client) and the page's CSRF token."""

    def __init__(self, app, user):
        self.id, self.name, self.role = user.id, user.name, user.role
        self.client = app.test_client()
        self.csrf = _csrf(self.client, "/login")
        data = {"email": user.email, "password": PASSWORD, "csrf_token": self.csrf}
        response = self.client.post("/login", data=data)
        if response.status_code != 303:
            raise RuntimeError(f"{user.email} could not log in: {response.status_code}")
        self.csrf = _csrf(self.client, "/me")

    def post(self, path: str, data: dict) -> int:
        return self.client.post(path, data={**data, "csrf_token": self.csrf}).status_code


def _csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    if not found:
        raise RuntimeError(f"no CSRF token on {path}")
    return found.group(1)


@dataclass
class Product:
    app: object
    email_channel_id: int
    twilio_channel_id: int
    tokens: list[str]
    agents: list[Agent]
    team: dict  # the team settings as the product reads them
    approved: dict[str, str]  # Content SID -> the approved WhatsApp template's text


def prepare_database() -> None:
    """Migrate a fresh database; refuse one that already has users."""
    from inbox import schema
    from inbox.db import db
    from inbox.models import User

    with db.connection_context():
        if db.table_exists(User._meta.table_name) and User.select().exists():
            raise SystemExit("The database is not empty: give an empty one (--database-url).")
        schema.upgrade(db.obj)


def setup_product(mailhost: Mailhost, carrier: Carrier) -> Product:
    """The team, its channels, templates, automation settings and lead sources."""
    from inbox import create_app
    from inbox.db import db

    app = create_app()
    with db.connection_context():
        users = _users()
        email_channel, twilio_channel = _channels(mailhost, carrier)
        approved = _templates(carrier, users[0])
        team = _team()
        tokens = [_lead_source(name) for name in ("Website form", "Naver ads", "Facebook lead ads")]
    agents = [Agent(app, user) for user in users if user.role == "agent"]
    return Product(app, email_channel.id, twilio_channel.id, tokens, agents, team, approved)


def _users() -> list:
    from inbox import users
    from inbox.models import User

    people = [("admin", "Admin Park", "admin"), ("manager", "Manager Choi", "choi"), ("agent", "Kim Minseo", "kim"),
              ("agent", "Lee Jiwon", "lee"), ("agent", "Jung Hana", "jung")]  # fmt: skip
    made = [users.create(email=f"{login}@team.example", name=name, role=role, password=PASSWORD, locale="ko",
                         timezone=TEAM_ZONE) for role, name, login in people]  # fmt: skip
    User.update(summary_hour=9).where(User.role.in_(["manager", "agent"])).execute()
    User.update(notify_by_email=True).where(User.role == "manager").execute()
    return made


def _channels(mailhost: Mailhost, carrier: Carrier):
    from inbox import channel_config

    mailbox = channel_config.add_email_channel(
        "Sales mailbox",
        {
            "imap_host": "127.0.0.1", "imap_port": free_port(), "imap_security": "none", "imap_username": MAILBOX,
            "imap_password": "unused", "smtp_host": "127.0.0.1", "smtp_port": mailhost.port,
            "smtp_security": "none", "smtp_username": mailhost.username, "smtp_password": mailhost.password,
            "from_address": MAILBOX, "from_name": "Sales team", "folders": "INBOX",
        },
    )  # fmt: skip
    twilio = channel_config.add_twilio_channel(
        "Twilio",
        {"account_sid": carrier.account_sid, "auth_token": carrier.auth_token, "sms_from": SMS_NUMBER,
         "whatsapp_from": WA_NUMBER, "api_base_url": carrier.base_url},
    )  # fmt: skip
    return mailbox, twilio


def _templates(carrier: Carrier, admin) -> dict[str, str]:
    from inbox import canned

    approved = {}
    for shortcut, (name, body, is_approved) in TEMPLATES.items():
        extra = {}
        if is_approved:
            text = body.replace(NAME, "{{1}}")
            sid = carrier.register_content(variables={"1": "고객"}, body=text)
            extra = {"content_sid": sid, "content_variables": {"1": NAME}}
            approved[sid] = text
        canned.save(None, admin, name=name, shortcut=shortcut, body=body, channels="", **extra)
    return approved


def _team() -> dict:
    from inbox import team

    for key, value in TEAM_SETTINGS.items():
        if key in team.DEFAULTS:
            team.put(key, value)
    return team.snapshot()


def _lead_source(name: str) -> str:
    from inbox.leads import add_source

    return add_source(name)[1]


# --- the simulation --------------------------------------------------------------------------


@dataclass
class Options:
    leads: int
    days: int
    seed: int
    start: dt.date
    every_minute: bool
    database: str
    show_late: float | None = None


class Clock:
    """The simulated time that ``inbox.db.utcnow()`` reads (naive UTC)."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Simulation:
    """The world's event queue and clock, the people's actions, and what they observe."""

    def __init__(
        self, opts: Options, clock: Clock, product: Product, mailhost: Mailhost, carrier: Carrier, relay: Relay
    ):
        self.clock = clock
        self.opts, self.product, self.mailhost, self.carrier, self.relay = opts, product, mailhost, carrier, relay
        self.approved = product.approved
        self.tz = ZoneInfo(TEAM_ZONE)
        self.start = dt.datetime.combine(opts.start, dt.time(), tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)
        self.end = self.start + dt.timedelta(days=opts.days)
        self.people = population(random.Random(opts.seed), opts.leads, opts.start, opts.days, self.tz)
        self.by_email = {p.email: p for p in self.people if p.email}
        self.by_phone = {p.phone: p for p in self.people if p.phone}
        self.by_conversation: dict[int, Persona] = {}
        self.unowned: set[Persona] = set()
        self.webhooks = product.app.test_client()
        self.hook = f"{_base_url()}/webhooks/twilio/{product.twilio_channel_id}/inbound"
        self.queue: list = []
        self.order = itertools.count()
        self.seen = {"mail": 0, "mail_refused": 0, "created": 0, "refused": 0}
        self.unsettled: list[str] = []
        self.errors: Counter = Counter()
        self.sweeps = 0
        self.events = 0
        self.last_sweep = self.start - MINUTE
        self.fallback_noted = False
        for p in self.people:
            self.at(p.arrival, self.arrive, p)
            if p.unreachable:
                mailhost.unknown.add(p.email)
                carrier.unreachable.add(p.phone)

    @property
    def now(self) -> dt.datetime:
        return self.clock.now

    @now.setter
    def now(self, value: dt.datetime) -> None:
        self.clock.now = value

    # --- the loop ------------------------------------------------------------------------

    def at(self, when: dt.datetime, action: Callable, *args) -> None:
        heapq.heappush(self.queue, (when.replace(microsecond=0), next(self.order), action, args))

    def run(self, progress: Callable[[str], None]) -> None:
        day = -1
        while True:
            sweep_at = self.next_sweep()
            event_at = self.queue[0][0] if self.queue else self.end
            if min(sweep_at, event_at) >= self.end:
                break
            if sweep_at <= event_at:
                self.now = sweep_at
                self.sweep()
            else:
                self.now, _, action, args = heapq.heappop(self.queue)
                self.events += 1
                action(*args)
            self.observe()
            if (self.now - self.start).days != day:
                day = (self.now - self.start).days
                progress(f"day {day + 1}/{self.opts.days}: {sum(bool(p.inbound) for p in self.people)} leads in, "
                         f"{self.events} events, {self.sweeps} sweeps")  # fmt: skip
        self.now = self.end
        self.observe()

    def sweep(self) -> None:
        """The product's periodic tasks due in this minute, as the consumer runs them."""
        import tasks

        self.sweeps += 1
        self.last_sweep = self.now
        for task in tasks.huey.read_periodic(self.now):
            name = type(task).__name__
            if name in SKIPPED_TASKS:
                continue
            try:
                task.execute()
            except Exception:
                self.error(f"periodic task {name} raised", traceback.format_exc())

    def observe(self) -> None:
        self.collect()
        self.poll_owners()

    def error(self, what: str, detail: str = "") -> None:
        if not self.errors[what] and detail:
            print(f"[{self.now:%Y-%m-%d %H:%M}] {what}\n{detail}", file=sys.stderr)
        self.errors[what] += 1

    # --- when the product has something due ----------------------------------------------

    def next_sweep(self) -> dt.datetime:
        """The first minute after the last sweep in which something is due for the periodic
        tasks (or every minute with --every-minute). What was due at the last sweep and is
        still there was left by the product: it does not make every minute due."""
        floor = self.last_sweep + MINUTE
        if self.opts.every_minute:
            return floor
        after = self.last_sweep
        moments = [after.replace(minute=0, second=0) + HOUR, *self.product_due(after)]
        return max(floor, _ceil_minute(min(m for m in moments if m > after)))

    def product_due(self, after: dt.datetime) -> list[dt.datetime]:
        from peewee import fn

        from inbox.models import Conversation, FollowUp, Message, Notification, User

        pending = FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.due_at > after)
        snoozed = (Conversation.state == "snoozed") & (Conversation.snoozed_until > after)
        queued = (Message.status == "queued") & (Message.direction == "out")
        mailed = User.select(User.id).where(User.active & User.notify_by_email)
        unmailed = Notification.emailed_at.is_null() & (Notification.created_at > after) & Notification.user.in_(mailed)
        found = [
            FollowUp.select(fn.MIN(FollowUp.due_at)).where(pending).scalar(),
            Conversation.select(fn.MIN(Conversation.snoozed_until)).where(snoozed).scalar(),
            Notification.select(fn.MIN(Notification.created_at)).where(unmailed).scalar(),
        ]
        stuck = _as_datetime(Message.select(fn.MIN(Message.updated_at)).where(queued).scalar())
        moments = [_as_datetime(m) for m in found if m] + (
            [stuck + 2 * MINUTE + dt.timedelta(seconds=1)] if stuck else []
        )
        return moments + self.sla_due()

    def sla_due(self) -> list[dt.datetime]:
        """When each waiting conversation's breach or escalation falls due, by the
        product's own policy; every minute when the policy cannot be read."""
        from inbox import sla
        from inbox.models import Contact, Conversation

        try:
            policy = sla.Policy.load()
            rows = (
                Conversation.select(Conversation.waiting_since, Conversation.breach_notified_at,
                                    Conversation.last_inbound_channel, Contact.lead_status)
                .join(Contact)
                .where((Conversation.state == "open") & Conversation.waiting_since.is_null(False)
                       & Conversation.escalated_at.is_null())
                .tuples()
            )  # fmt: skip
            return [
                policy.deadline(since, policy.target_seconds(status, channel) * (2 if notified else 1))
                for since, notified, channel, status in rows
            ]
        except (AttributeError, TypeError, ValueError):
            if not self.fallback_noted:
                self.fallback_noted = True
                print("SLA timing unreadable: sweeping every minute while anyone waits", file=sys.stderr)
            return [self.last_sweep + MINUTE]

    # --- what the providers and the product show --------------------------------------------

    def collect(self, human: Persona | None = None) -> None:
        """New deliveries at the providers, each handed to its customer."""
        self.relay.drain(self.carrier)
        for _, recipients, content in self._new("mail", self.mailhost.messages):
            mail = email.message_from_bytes(content, policy=email.policy.default)
            for address in recipients:
                p = self.by_email.get(address.lower())
                if p is not None:
                    self.delivered(p, "email", True, human, _mail_text(mail), mail.get("Message-ID", ""))
        for address, content in self._new("mail_refused", self.mailhost.refused):
            if address in self.by_email:
                mail = email.message_from_bytes(content, policy=email.policy.default)
                self.delivered(self.by_email[address], "email", False, human, _mail_text(mail))
        for to, body, content_sid in self._new("refused", self.carrier.refused):
            if bare(to) in self.by_phone:
                text = body or self.approved.get(content_sid, "")
                self.delivered(self.by_phone[bare(to)], _kind_of(to), False, human, text)
        self.unsettled += self._new("created", self.carrier.created)
        waiting = []
        for sid in self.unsettled:
            message = self.carrier.message(sid)
            if message["status"] not in FINAL_TWILIO:
                waiting.append(sid)
            elif bare(message["to"]) in self.by_phone:
                ok = message["status"] in ("delivered", "read")
                self.delivered(self.by_phone[bare(message["to"])], _kind_of(message["to"]), ok, human, message["body"])
        self.unsettled = waiting

    def _new(self, name: str, items: list) -> list:
        start, self.seen[name] = self.seen[name], len(items)
        return items[start : self.seen[name]]

    def delivered(self, p: Persona, kind: str, ok: bool, human: Persona | None, text: str, mid: str = "") -> None:
        d = Delivery(self.now, kind, ok, human is p, text, mid)
        p.deliveries.append(d)
        if ok:
            self.react(p, d)

    def poll_owners(self) -> None:
        from inbox.models import Contact, Conversation

        waiting = {p.conversation_id: p for p in self.unowned}
        if not waiting:
            return
        owned = (
            Conversation.select(Conversation.id)
            .join(Contact)
            .where(
                Conversation.id.in_(list(waiting))
                & (Contact.owner.is_null(False) | Conversation.assignee.is_null(False))
            )
            .tuples()
        )
        for (conversation_id,) in owned:
            p = waiting[conversation_id]
            p.owner_at = self.now
            self.unowned.discard(p)

    def find_conversation(self, p: Persona) -> None:
        from inbox.models import Conversation, Identity

        value = p.email if p.first_kind == "email" else p.phone
        identity = Identity.get_or_none(Identity.value == value)
        conv = Conversation.get_or_none(Conversation.contact == identity.contact_id) if identity else None
        if conv is None:
            self.error(f"{p.channel} lead not found in the product")
            return
        self.known(p, conv.contact_id, conv.id)

    def known(self, p: Persona, contact_id: int, conversation_id: int) -> None:
        p.contact_id, p.conversation_id = contact_id, conversation_id
        self.by_conversation[conversation_id] = p
        if p.owner_at is None:
            self.unowned.add(p)

    def state_of(self, p: Persona) -> str | None:
        from inbox.models import Conversation

        if p.conversation_id is None:
            return None
        return Conversation.select(Conversation.state).where(Conversation.id == p.conversation_id).scalar()

    # --- customers ----------------------------------------------------------------------------

    def arrive(self, p: Persona) -> None:
        text = p.rng.choice(LEAD_TEXTS[p.language])
        if p.channel == "api":
            self.post_lead(p, text)
        else:
            self.write(p, p.channel, text, first=True)
            if p.conversation_id is None:
                self.find_conversation(p)
            self.plan_answer(p)

    def post_lead(self, p: Persona, text: str) -> None:
        data = {"name": p.name, "message": text, "campaign": f"spring-{p.source}", "utm_medium": "cpc",
                "utm_source": ("website", "naver", "facebook")[p.source]}  # fmt: skip
        if p.email:
            data["email"] = p.email
        if p.phone:
            data["phone"] = "0" + p.phone.removeprefix("+82")
        token = self.product.tokens[p.source]
        response = self.webhooks.post("/api/leads", json=data, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            self.error(f"POST /api/leads answered {response.status_code}", response.get_data(as_text=True)[:500])
            return
        body = response.get_json()
        p.inbound.append(Inbound(self.now, p.first_kind))
        self.known(p, body["contact_id"], body["conversation_id"])
        self.plan_answer(p)

    def write(self, p: Persona, kind: str, text: str, *, auto: bool = False, stop: bool = False, first=False) -> None:
        reopened = not first and self.state_of(p) == "closed"
        stored = self.mail_in(p, text, auto) if kind == "email" else self.text_in(p, kind, text)
        if not stored:
            return
        p.inbound.append(Inbound(self.now, kind, auto, stop, reopened))
        if stop:
            p.stops.setdefault(kind, self.now)

    def text_in(self, p: Persona, kind: str, text: str) -> bool:
        whatsapp = kind == "whatsapp"
        sent = self.carrier.inbound(
            p.phone, WA_NUMBER if whatsapp else SMS_NUMBER, text, whatsapp=whatsapp,
            profile_name=p.name if whatsapp else None, url=self.hook,
        )  # fmt: skip
        return (
            bool(sent.responses) and getattr(sent.responses[0], "status_code", None) == 200
        )  # else counted by the relay

    def mail_in(self, p: Persona, text: str, auto: bool) -> bool:
        from inbox import polling
        from inbox.channels import email as email_adapter
        from inbox.db import db
        from inbox.models import Channel

        ours = next((d for d in reversed(p.deliveries) if d.kind == "email" and d.message_id), None)
        raw = self.mail_from(p, text, auto, ours)
        inbound = email_adapter.to_inbound(self.product.email_channel_id, raw, self.now.replace(tzinfo=dt.UTC),
                                           {MAILBOX})  # fmt: skip
        try:
            with db.connection_context():
                polling.store_batch([inbound], Channel.get_by_id(self.product.email_channel_id))
        except Exception:
            self.error("storing a customer's mail raised", traceback.format_exc())
            return False
        return True

    def mail_from(self, p: Persona, text: str, auto: bool, ours: Delivery | None) -> bytes:
        mail = EmailMessage()
        mail["From"] = formataddr((p.name, p.email))
        mail["To"] = MAILBOX
        if auto:
            mail["Subject"] = OUT_OF_OFFICE[p.language][0]
        else:
            mail["Subject"] = "Re: 문의 답변" if ours is not None else {"ko": "견적 문의", "en": "Enquiry"}[p.language]
        mail["Date"] = format_datetime(self.now.replace(tzinfo=dt.UTC))
        mail["Message-ID"] = make_msgid(idstring=f"c{p.key}", domain="customer.example")
        if ours is not None:
            mail["In-Reply-To"] = mail["References"] = ours.message_id
        if auto:
            mail["Auto-Submitted"] = "auto-replied"
        mail.set_content(OUT_OF_OFFICE[p.language][1] if auto else text)
        return mail.as_bytes()

    def react(self, p: Persona, d: Delivery) -> None:
        """What a customer does about a message of ours that reached them."""
        local_day = _local(d.at, self.tz).date()
        if d.kind == "email" and p.away and local_day not in p.ooo_days:
            p.ooo_days.add(local_day)
            self.at(d.at + p.rng.uniform(1, 4) * MINUTE, self.auto_reply, p)
        if d.kind in p.stops:
            return
        if d.kind in ("sms", "whatsapp") and p.stop_prone and not p.stop_sent:
            p.stop_sent = True
            self.at(d.at + p.rng.uniform(2, 120) * MINUTE, self.opt_out, p, d.kind)
            return
        chance = (0.45 if d.human else 0.12) * p.responsiveness
        if p.rounds < MAX_ROUNDS and not p.customer_planned and p.rng.random() < chance:
            p.customer_planned = True
            self.at(self.customer_moment(p, d.at), self.customer_reply, p, d.kind)

    def customer_moment(self, p: Persona, after: dt.datetime) -> dt.datetime:
        """Minutes to two days later; not between 01:00 and 07:00 local."""
        at = after + dt.timedelta(minutes=math.exp(p.rng.uniform(math.log(5), math.log(48 * 60))))
        local = _local(at, self.tz)
        if 1 <= local.hour < 7:
            at += dt.timedelta(hours=7 - local.hour, minutes=p.rng.uniform(0, 90))
        return at

    def opt_out(self, p: Persona, kind: str) -> None:
        self.write(p, kind, "STOP", stop=True)

    def auto_reply(self, p: Persona) -> None:
        self.write(p, "email", "", auto=True)

    def customer_reply(self, p: Persona, kind: str) -> None:
        p.customer_planned = False
        p.rounds += 1
        self.write(p, kind, p.rng.choice(CUSTOMER_TEXTS[p.language]))
        self.plan_answer(p)

    # --- agents -------------------------------------------------------------------------------

    def plan_answer(self, p: Persona) -> None:
        """Whether and when an agent answers the customer's latest message."""
        if p.conversation_id is None or p.agent_planned:
            return
        profile = p.rng.choices(("prompt", "late", "snooze", "forget"), (52, 25, 5, 18))[0]
        if profile == "forget":
            return
        p.agent_planned = True
        if profile == "snooze":
            self.at(self.now + p.rng.uniform(3, 40) * MINUTE, self.snooze, p)
            return
        delay = p.rng.uniform(2, 30) * HOUR if profile == "late" else self.prompt_delay(p)
        self.at(self.now + delay, self.answer, p)

    def prompt_delay(self, p: Persona) -> dt.timedelta:
        local = _local(self.now, self.tz)
        if 8 <= local.hour < 21 or (local.hour == 21 and local.minute < 30):
            return p.rng.uniform(2, 25) * MINUTE
        morning = local.replace(hour=8, minute=30, second=0) + (DAY if local.hour >= 8 else dt.timedelta())
        return morning - local + p.rng.uniform(0, 90) * MINUTE

    def agent_for(self, p: Persona) -> Agent:
        """The lead's owner or assignee as the inbox shows them; else whoever picks it up,
        who usually assigns it to themselves first."""
        from inbox.models import Contact, Conversation

        owner, assignee = (
            Conversation.select(Contact.owner, Conversation.assignee)
            .join(Contact)
            .where(Conversation.id == p.conversation_id)
            .tuples()
            .get()
        )
        agents = {a.id: a for a in self.product.agents}
        if owner in agents or assignee in agents:
            return agents.get(owner) or agents[assignee]
        agent = p.rng.choice(self.product.agents)
        if p.rng.random() < 0.7:
            self.act(agent, f"/c/{p.conversation_id}/assign", {"assignee_id": agent.id}, "assign")
        return agent

    def act(self, agent: Agent, path: str, data: dict, what: str) -> bool:
        status = agent.post(path, data)
        if status >= 500 or status in (403, 404):
            self.error(f"{what} form answered {status}")
        return status == 303

    def snooze(self, p: Persona) -> None:
        """Put the lead off for a day, then answer it once it is back."""
        if not p.awaits_us():
            p.agent_planned = False
            return
        agent = self.agent_for(p)
        if self.act(agent, f"/c/{p.conversation_id}/snooze", {"preset": "1d"}, "snooze"):
            p.snoozes.append((self.now, self.now + DAY))
            self.at(self.now + DAY + p.rng.uniform(20, 180) * MINUTE, self.answer, p)
        else:
            self.at(self.now + p.rng.uniform(1, 5) * HOUR, self.answer, p)

    def answer(self, p: Persona) -> None:
        p.agent_planned = False
        if not p.awaits_us():
            return
        agent = self.agent_for(p)
        for kind in self.reply_kinds(p):
            outcome = self.reply(p, agent, kind)
            if outcome != "refused":
                if outcome == "delivered":
                    self.after_reply(p)
                return

    def reply_kinds(self, p: Persona) -> list[str]:
        """The composer's default (the customer's last channel), then their other addresses."""
        last = next(i.kind for i in reversed(p.inbound) if not i.auto and not i.stop)
        others = (["email"] if p.email else []) + (["sms"] if p.phone else [])
        return list(dict.fromkeys([last, *others]))

    def reply(self, p: Persona, agent: Agent, kind: str) -> str:
        before = len(p.deliveries)
        data = {"kind": kind, "mode": "reply", "text": p.rng.choice(AGENT_TEXTS[p.language])}
        if kind == "email":
            data["subject"] = "문의 답변 (Re: your enquiry)"
        status = agent.post(f"/c/{p.conversation_id}/reply", data)
        if status not in (303, 400):
            self.error(f"reply form answered {status}")
        if status != 303:
            p.replies.append(Reply(self.now, kind, "refused"))
            return "refused"
        self.collect(human=p)
        ours = [d for d in p.deliveries[before:] if d.human and d.kind == kind]
        outcome = "delivered" if any(d.delivered for d in ours) else "failed"
        p.replies.append(Reply(self.now, kind, outcome))
        return outcome

    def after_reply(self, p: Persona) -> None:
        """Status work on the contact panel after an answer that reached the customer."""
        if p.status == "new" and p.rng.random() < 0.5:
            self.at(self.now + p.rng.uniform(1, 15) * MINUTE, self.set_status, p, "contacted")
        if p.rounds and p.status in ("new", "contacted", "interested"):
            outcome = p.rng.choices(("won", "lost", "interested", None), (18, 12, 30, 40))[0]
            if outcome:
                self.at(self.now + p.rng.uniform(5, 120) * MINUTE, self.set_status, p, outcome)

    def set_status(self, p: Persona, status: str) -> None:
        if p.status in ("won", "lost"):
            return
        data = {"lead_status": status}
        if status == "interested" and p.rng.random() < 0.5:
            when = _local(self.now, self.tz) + p.rng.uniform(2, 5) * DAY
            data.update(next_action="전화 상담 (call back)", next_action_at=when.strftime("%Y-%m-%dT%H:%M"))
        agent = self.agent_for(p)
        if not self.act(agent, f"/contacts/{p.contact_id}/panel", data, "contact panel"):
            return
        p.statuses.append((self.now, status))
        closes = status in ("won", "lost") and p.rng.random() < (0.8 if status == "lost" else 0.5)
        if closes and self.act(agent, f"/c/{p.conversation_id}/close", {}, "close"):
            p.closes.append(self.now)


def _base_url() -> str:
    from inbox import settings

    return settings.get("base_url").rstrip("/")


def _ceil_minute(moment: dt.datetime) -> dt.datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + MINUTE


def _as_datetime(value) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(tz)


def _kind_of(address: str) -> str:
    return "whatsapp" if address.lower().startswith("whatsapp:") else "sms"


def _mail_text(mail) -> str:
    body = mail.get_body(("plain",))
    return body.get_content() if body is not None else ""


# --- what the product did --------------------------------------------------------------------


@dataclass
class Observed:
    notifications: dict[int, list[dt.datetime]]  # conversation -> when its notifications were made
    reactivation_tasks: dict[int, list[dt.datetime]]  # conversation -> reactivation tasks agents got
    steps: dict[int, list[tuple]]  # conversation -> (created, fired, cancelled) of its follow-up steps
    outbound: list[tuple]  # (conversation, kind, sent_at, status, automatic, meta, contact time zone)
    without_step: list[Persona]  # open leads without a next step


def observe_product(sim: Simulation) -> Observed:
    from inbox.db import db

    ids = list(sim.by_conversation)
    with db.connection_context():
        return Observed(*_notifications(ids), _steps(ids), _outbound(ids), _without_step(sim, ids))


def _notifications(ids: list[int]) -> tuple[dict, dict]:
    from inbox.models import Notification

    made, reactivation = defaultdict(list), defaultdict(list)
    rows = Notification.select(
        Notification.conversation, Notification.kind, Notification.params, Notification.created_at
    )
    for conversation, kind, params, created in rows.where(Notification.conversation.in_(ids)).tuples():
        made[conversation].append(_as_datetime(created))
        if "reactivation" in (kind + json.dumps(params or {}, ensure_ascii=False)).lower():
            reactivation[conversation].append(_as_datetime(created))
    return {k: sorted(v) for k, v in made.items()}, reactivation


def _steps(ids: list[int]) -> dict:
    from inbox.models import FollowUp

    steps = defaultdict(list)
    rows = FollowUp.select(FollowUp.conversation, FollowUp.created_at, FollowUp.fired_at, FollowUp.cancelled_at)
    for conversation, *times in rows.where(
        FollowUp.conversation.in_(ids) & FollowUp.kind.in_(FOLLOW_UP_KINDS)
    ).tuples():
        steps[conversation].append(tuple(_as_datetime(t) if t else None for t in times))
    return steps


def _outbound(ids: list[int]) -> list[tuple]:
    from inbox.models import Contact, Conversation, Message

    return list(
        Message.select(Message.conversation, Message.channel_kind, Message.sent_at, Message.status, Message.automatic,
                       Message.meta, Contact.timezone)
        .join(Conversation)
        .join(Contact)
        .where((Message.direction == "out") & Message.conversation.in_(ids)
               & (Message.automatic | (Message.channel_kind == "whatsapp")))
        .tuples()
    )  # fmt: skip


def _without_step(sim: Simulation, ids: list[int]) -> list[Persona]:
    from inbox.models import Contact, Conversation, FollowUp

    pending = {
        c for (c,) in FollowUp.select(FollowUp.conversation)
        .where(FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & FollowUp.conversation.in_(ids))
        .tuples()
    }  # fmt: skip
    rows = (
        Conversation.select(Conversation.id)
        .join(Contact)
        .where(Conversation.id.in_(ids) & (Conversation.state == "open") & Conversation.waiting_since.is_null()
               & Contact.lead_status.not_in(["won", "lost"]) & Contact.next_action_at.is_null())
        .tuples()
    )  # fmt: skip
    return [sim.by_conversation[c] for (c,) in rows if c not in pending]


# --- what was due, and when it came -----------------------------------------------------------


@dataclass(frozen=True)
class Due:
    persona: Persona
    kind: str
    at: dt.datetime  # lateness counts from here
    since: dt.datetime  # what surfaces it may come from here (a business day: its local midnight)
    until: dt.datetime  # to the start of the next due event of the same wait, or the wait's end


@dataclass(frozen=True)
class Calendar:
    """The team's business days (from its settings) in its time zone."""

    tz: ZoneInfo
    hours: dict
    holidays: frozenset

    @classmethod
    def of(cls, team: dict) -> Calendar:
        holidays = frozenset(dt.date.fromisoformat(d) for d in team.get("holidays") or [])
        return cls(ZoneInfo(team.get("timezone") or TEAM_ZONE), team.get("business_hours") or {}, holidays)

    def business_days(self, after: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """(local midnight, start of business) of each business day after the local day of
        ``after`` that starts before ``until``."""
        out, day = [], _local(after, self.tz).date() + DAY
        while (midnight := self._utc(day, dt.time())) < until:
            spans = [] if day in self.holidays else self.hours.get(str(day.weekday())) or []
            if spans:
                out.append((midnight, self._utc(day, dt.time.fromisoformat(spans[0][0]))))
            day += DAY
        return out

    def _utc(self, day: dt.date, at: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, at, tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)


def waits(p: Persona, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Each time the lead waited for our reply: from a customer message (not an
    auto-reply or STOP) to a delivered reply or a close (or the end)."""
    marks = [(i.at, 0) for i in p.inbound if not i.auto and not i.stop]
    marks += [(r.at, 1) for r in p.replies if r.outcome == "delivered"] + [(c, 1) for c in p.closes]
    out, start = [], None
    for at, ends in sorted(marks):
        if not ends and start is None:
            start = at
        elif ends and start is not None:
            out.append((start, at))
            start = None
    return out + ([(start, end)] if start is not None else [])


def snoozed(p: Persona) -> list[tuple[dt.datetime, dt.datetime]]:
    """When the lead was snoozed: until the snooze ended, the customer wrote, we replied
    or the conversation was closed."""
    out = []
    for at, until in p.snoozes:
        wakes = [i.at for i in p.inbound if not i.auto and i.at > at] + [c for c in p.closes if c > at]
        wakes += [r.at for r in p.replies if r.outcome == "delivered" and r.at > at]
        out.append((at, min([until, *wakes])))
    return out


def due_events(p: Persona, calendar: Calendar, end: dt.datetime) -> list[Due]:
    out, pauses = [], snoozed(p)
    for start, stop in waits(p, end):
        first = bool(p.inbound) and start == p.inbound[0].at
        later = "" if first else ", later wait"
        moments = [("arrival", start, start)] if first else []
        moments += [(f"1 h{later}", start + HOUR, start + HOUR), (f"24 h{later}", start + DAY, start + DAY)]
        moments += [
            (f"business day{later}", opening, midnight)
            for midnight, opening in calendar.business_days(start + DAY, stop)
        ]
        ends = [since for _, _, since in moments[1:]] + [stop]
        for (kind, at, since), until in zip(moments, ends, strict=True):
            # Due when the wait is on, and the lead not snoozed, at the first minute the
            # periodic tasks see it.
            seen = _ceil_minute(at)
            if at < stop and seen <= stop and not any(a <= seen < b for a, b in pauses):
                out.append(Due(p, kind, at, since, min(until, stop)))
    return out + _awaiting_customer(p, end)


def _awaiting_customer(p: Persona, end: dt.datetime) -> list[Due]:
    """After each delivered reply to a lead still in play, until the customer writes, the
    lead is won or lost, the conversation is closed or we reply again."""
    delivered = [r.at for r in p.replies if r.outcome == "delivered"]
    settled = [t for t, s in p.statuses if s in ("won", "lost")]
    out = []
    for at in delivered:
        if any(t <= at for t in settled):
            continue
        stops = [i.at for i in p.inbound if not i.auto and i.at > at] + [t for t in delivered if t > at]
        stop = min([*stops, *(t for t in settled + p.closes if t >= at), end])
        if stop > at:
            out.append(Due(p, "follow-up planned", at, at, stop))
    return out


def surfaced_at(due: Due, observed: Observed) -> dt.datetime | None:
    conversation = due.persona.conversation_id
    if due.kind == "follow-up planned":
        planned = [
            max(created, due.at)
            for created, fired, cancelled in observed.steps.get(conversation, [])
            if created < due.until and (fired is None or fired >= due.at) and (cancelled is None or cancelled > due.at)
        ]
        return min(planned, default=None)
    times = observed.notifications.get(conversation, [])
    i = bisect.bisect_left(times, due.since)
    return times[i] if i < len(times) and times[i] < due.until else None


# --- the guards on automatic messages ------------------------------------------------------------


def _quiet(team: dict) -> tuple[dt.time, dt.time] | None:
    value = team.get("quiet_hours")
    if not value or value[0] == value[1]:
        return None
    return dt.time.fromisoformat(value[0]), dt.time.fromisoformat(value[1])


def _in_quiet(at: dt.time, quiet: tuple[dt.time, dt.time] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    return start <= at < end if start < end else at >= start or at < end


def _in_window(p: Persona, at: dt.datetime) -> bool:
    last = max((i.at for i in p.inbound if i.kind == "whatsapp" and i.at <= at), default=None)
    return last is not None and at - last < DAY


def guard_violations(sim: Simulation, observed: Observed) -> dict[str, Counter]:
    """Violations by guard, each with the automations that caused them."""
    quiet, team_tz = _quiet(sim.product.team), sim.tz
    found: dict[str, Counter] = defaultdict(Counter)
    per_day: dict[tuple, list[str]] = defaultdict(list)
    for conversation, kind, sent_at, status, automatic, meta, zone in observed.outbound:
        p, sent_at, meta = sim.by_conversation[conversation], _as_datetime(sent_at), meta or {}
        source = str(meta.get("automation") or meta.get("sequence") or ("automatic" if automatic else "human"))
        if kind == "whatsapp" and not meta.get("content_sid") and not _in_window(p, sent_at):
            found["WhatsApp free text outside 24 h"][source] += 1
        if not automatic:
            continue
        local = _local(sent_at, _zone(zone) or team_tz)
        if _in_quiet(local.time(), quiet):
            found["in quiet hours"][source] += 1
        if kind in p.stops and p.stops[kind] <= sent_at:
            found["to an opted-out contact"][source] += 1
        if status != "failed":
            per_day[(p.key, local.date())].append(source)
    for sources in per_day.values():
        for source in sources[1:]:
            found["more than one a day"][source] += 1
    return found


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (KeyError, ValueError):
        return None


# --- the dashboard and the simulation's own figures ----------------------------------------------


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _nearest_rank(values: list[float], share: float) -> float | None:
    return sorted(values)[math.ceil(share * len(values)) - 1] if values else None


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def first_responses(p: Persona) -> list[int]:
    """Seconds from the start of the wait to the first delivered human reply of each
    opening (the lead's arrival, and every reopening by a customer message)."""
    inbound = [(i.at, 0, i) for i in p.inbound if not i.auto and not i.stop]  # STOP starts no wait
    marks = sorted(inbound + [(r.at, 1, r) for r in p.replies if r.outcome == "delivered"])
    out, waiting, answered, done = [], None, None, False
    for at, is_reply, _item in marks:
        if not is_reply:
            done = done and not _item.reopened
            if (answered is None or at > answered) and (waiting is None or at < waiting):
                waiting = at
            continue
        if waiting is not None and not done:
            out.append(int((at - waiting).total_seconds()))
        done, waiting, answered = True, None, at
    return out


def truth(sim: Simulation, observed: Observed) -> dict[str, tuple[float | None, str]]:
    """The dashboard's figures from the simulation's log: what agents sent, what reached
    the customers and what they wrote."""
    leads = [p for p in sim.people if p.conversation_id]
    firsts = [s for p in leads for s in first_responses(p)]
    contacted = [p for p in leads if any(r.outcome == "delivered" for r in p.replies)]
    first_out = {
        p: min(d.at for d in p.deliveries if d.delivered) for p in leads if any(d.delivered for d in p.deliveries)
    }
    responded = [p for p, at in first_out.items() if any(not i.auto and i.at > at for i in p.inbound)]
    won = [p for p in leads if p.status == "won"]
    touched = {p: min(t) for p in leads if (t := _touches(p, observed))}
    woke = [p for p, at in touched.items() if any(not i.auto and i.at > at for i in p.inbound)]
    return _figures(firsts, (len(contacted), len(leads)), (len(responded), len(first_out)),
                    (len(won), len(contacted)), (len(woke), len(touched)))  # fmt: skip


def _touches(p: Persona, observed: Observed) -> list[dt.datetime]:
    sent = [d.at for d in p.deliveries if REACTIVATION_MARK in d.text]
    return sent + observed.reactivation_tasks.get(p.conversation_id, [])


def dashboard(sim: Simulation) -> dict[str, tuple[float | None, str]]:
    from inbox.db import db
    from inbox.stats import funnel, replies
    from inbox.stats.period import Filters

    f = Filters(start=sim.opts.start, end=sim.opts.start + dt.timedelta(days=sim.opts.days - 1), tz=sim.tz)
    with db.connection_context():
        first, report = replies.report(f).overall.first, funnel.report(f)
    o = report.overall
    figures = _figures([], (o.contacted, o.leads), (o.responded, o.wrote_to), (o.won, o.contacted),
                       (report.reactivation.part, report.reactivation.whole))  # fmt: skip
    minutes = {"median": first.median, "p90": first.p90}
    for name, value in minutes.items():
        figures[f"first response {name} (min)"] = (None if value is None else value / 60, f"n={first.count}")
    return figures


def _figures(firsts: list[int], *ratios: tuple[int, int]) -> dict[str, tuple[float | None, str]]:
    median, p90 = _median(firsts), _nearest_rank(firsts, 0.9)
    out = {
        "first response median (min)": (None if median is None else median / 60, f"n={len(firsts)}"),
        "first response p90 (min)": (None if p90 is None else p90 / 60, f"n={len(firsts)}"),
    }
    for name, (part, whole) in zip(("contact", "response", "conversion", "reactivation"), ratios, strict=True):
        out[f"{name} rate (%)"] = (_percent(part, whole), f"{part}/{whole}")
    return out


def _same(a: tuple, b: tuple) -> bool:
    shown = [None if v is None else round(v, 1) for v in (a[0], b[0])]
    return shown[0] == shown[1] and a[1] == b[1]


# --- the report ------------------------------------------------------------------------------------


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, label: str, value, target: str | None = None, met: bool | None = None) -> None:
        mark = "" if met is None else ("   ok" if met else "   MISSED")
        goal = f"   (target {target})" if target else ""
        self.lines.append(f"{label:<46} {value}{goal}{mark}")
        if met is False:
            self.missed.append(label)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _by_channel(counter: Counter) -> str:
    return ", ".join(f"{c} {counter[c]}" for c in CHANNELS)


def report_due(out: Report, sim: Simulation, observed: Observed) -> None:
    calendar = Calendar.of(sim.product.team)
    dues = [d for p in sim.people if p.conversation_id for d in due_events(p, calendar, sim.end)]
    late, missed, settled = [], Counter(), 0
    for due in dues:
        at = surfaced_at(due, observed)
        if at is None:
            missed[(due.kind, due.persona.channel)] += 1
            settled += due.persona.status_at(due.at) in ("won", "lost")
        else:
            late.append(max(0.0, (at - due.at).total_seconds() / 60))
            if sim.opts.show_late is not None and late[-1] > sim.opts.show_late:
                p = due.persona
                out.lines.append(f"  late {late[-1]:.1f} min: {due.kind} of lead {p.key} ({p.channel}, conversation "
                                 f"{p.conversation_id}) due {due.at:%m-%d %H:%M} UTC, surfaced {at:%m-%d %H:%M}")  # fmt: skip
    out.add("due events surfaced", len(late))
    out.add("due events never surfaced", sum(missed.values()), "0", not missed)
    for kind in DUE_KINDS:
        total = sum(1 for d in dues if d.kind == kind)
        lost = Counter({c: missed[(kind, c)] for c in CHANNELS})
        out.add(f"  never surfaced: {kind} (of {total})", _by_channel(lost))
    out.add("  never surfaced while the lead was won or lost", settled)
    values = [_median(late), _nearest_rank(late, 0.95), max(late, default=None)]
    out.add("lateness p50 / p95 / max (min)", " / ".join(_minutes(v) for v in values))


def report_guards(out: Report, sim: Simulation, observed: Observed) -> None:
    found = guard_violations(sim, observed)
    total = sum(sum(c.values()) for c in found.values())
    automatic = sum(1 for row in observed.outbound if row[4])
    out.add(f"guard violations (of {automatic} automatic messages)", total, "0", total == 0)
    for guard in (
        "in quiet hours",
        "more than one a day",
        "to an opted-out contact",
        "WhatsApp free text outside 24 h",
    ):
        by = found.get(guard, Counter())
        detail = f" ({', '.join(f'{k} {v}' for k, v in by.most_common())})" if by else ""
        out.add(f"  {guard}", f"{sum(by.values())}{detail}")


def report_owners(out: Report, sim: Simulation, observed: Observed) -> None:
    stuck = observed.without_step
    detail = f"{_by_channel(Counter(p.channel for p in stuck))}; {sum(bool(p.stops) for p in stuck)} texted STOP"
    out.add("open leads without a next step at the end", f"{len(stuck)} ({detail})", "0", not stuck)
    leads = [p for p in sim.people if p.inbound]
    owned = Counter(p.channel for p in leads if p.owner_at)
    out.add("leads that got an owner", f"{sum(owned.values())} of {len(leads)} ({_by_channel(owned)})")
    p90 = {c: _nearest_rank([(p.owner_at - p.inbound[0].at).total_seconds() / 60 for p in leads
                             if p.channel == c and p.owner_at], 0.9) for c in CHANNELS}  # fmt: skip
    out.add("p90 time to owner (min)", ", ".join(f"{c} {_minutes(v)}" for c, v in p90.items()))


def report_dashboard(out: Report, sim: Simulation, observed: Observed) -> None:
    shown, actual = dashboard(sim), truth(sim, observed)
    differ = [name for name in actual if not _same(shown[name], actual[name])]
    for name, (value, detail) in actual.items():
        dash = shown[name]
        out.add(f"{name}: dashboard / simulation", f"{_minutes(dash[0])} ({dash[1]}) / {_minutes(value)} ({detail})")
    out.add("dashboard figures that differ", len(differ), "0", not differ)


def report_activity(out: Report, sim: Simulation) -> None:
    leads = [p for p in sim.people if p.inbound]
    out.add("leads in", f"{len(leads)} of {len(sim.people)} ({_by_channel(Counter(p.channel for p in leads))})")
    deliveries = [d for p in sim.people for d in p.deliveries]
    failed = sum(not d.delivered for d in deliveries)
    out.add("our messages at the providers (failed)", f"{len(deliveries)} ({failed})")
    inbound = [i for p in sim.people for i in p.inbound]
    out.add("customer messages (auto-replies, STOP)",
            f"{len(inbound)} ({sum(i.auto for i in inbound)}, {sum(i.stop for i in inbound)})")  # fmt: skip
    replies = Counter(r.outcome for p in sim.people for r in p.replies)
    out.add("agent replies delivered / failed / refused",
            f"{replies['delivered']} / {replies['failed']} / {replies['refused']}")  # fmt: skip
    out.add("events / sweeps (simulated minutes)", f"{sim.events} / {sim.sweeps} ({sim.opts.days * 24 * 60})")
    for code, n in sim.relay.statuses.items():
        if code != 200:
            sim.errors[f"Twilio webhook answered {code}"] += n
    errors = sum(sim.errors.values())
    detail = f" ({'; '.join(f'{k}: {v}' for k, v in sim.errors.most_common(4))})" if errors else ""
    out.add("product errors", f"{errors}{detail}")


def build_report(sim: Simulation, observed: Observed) -> Report:
    out = Report()
    db_kind = "PostgreSQL" if sim.opts.database.startswith("postgres") else "SQLite"
    out.lines.append(f"== {sim.opts.leads} leads over {sim.opts.days} days from {sim.opts.start} ({TEAM_ZONE}), "
                     f"seed {sim.opts.seed}, {db_kind}")  # fmt: skip
    for part in (report_activity, report_due, report_guards, report_owners, report_dashboard):
        if part is report_activity:
            part(out, sim)
        else:
            part(out, sim, observed)
    return out


# --- running it --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/simulate.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--leads", type=int, default=300, help="leads in the month (default 300)")
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2030, 4, 1),
                        help="first local day, YYYY-MM-DD (default 2030-04-01, a Monday)")  # fmt: skip
    parser.add_argument(
        "--database-url", default="", help="an empty PostgreSQL database (default: SQLite in a temp dir)"
    )
    parser.add_argument("--every-minute", action="store_true", help="run the periodic tasks every simulated minute")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--show-late", type=float, metavar="MINUTES", help="list due events surfaced later than this")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and print where it is")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of the run to stderr")
    args = parser.parse_args(argv)
    if args.leads < 1 or args.days < 1:
        parser.error("--leads and --days must be at least 1")
    return args


def prepare_environment(args: argparse.Namespace) -> Path:
    """Settings for a fresh data directory; before anything from inbox or tasks is imported."""
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns on every login
    data = configure(tempfile.mkdtemp(prefix="inbox-simulate-"))
    if args.database_url:
        os.environ["INBOX_DATABASE_URL"] = args.database_url
    os.environ["INBOX_TIMEZONE"] = TEAM_ZONE
    os.environ["INBOX_IMAP_IDLE"] = "off"
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    return data


def simulate(args: argparse.Namespace) -> Report:
    import tasks
    from inbox.db import set_clock

    opts = Options(
        args.leads,
        args.days,
        args.seed,
        args.start,
        args.every_minute,
        os.environ["INBOX_DATABASE_URL"],
        args.show_late,
    )
    clock = Clock(dt.datetime.combine(args.start, dt.time()) - DAY)
    set_clock(clock)
    tasks.huey.immediate = True
    mailhost, carrier = Mailhost().start(), Carrier(status_delay=0.0).start()
    try:
        prepare_database()
        product = setup_product(mailhost, carrier)
        relay = Relay(product.app.test_client())
        carrier.transport = relay
        sim = Simulation(opts, clock, product, mailhost, carrier, relay)
        sim.run(lambda line: print(line, file=sys.stderr, flush=True))
        return build_report(sim, observe_product(sim))
    finally:
        carrier.stop()
        mailhost.stop()
        set_clock(None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    data = prepare_environment(args)
    profiler = cProfile.Profile() if args.profile else None
    try:
        out = profiler.runcall(simulate, args) if profiler else simulate(args)
    finally:
        if args.keep:
            print(f"data kept in {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    out.add("wall time (s)", f"{time.perf_counter() - wall:.1f}")
    out.add("CPU time (s)", f"{time.process_time() - cpu:.1f}")
    out.add("load average (1 / 5 / 15 min)", " / ".join(f"{v:.2f}" for v in os.getloadavg()))
    print("\n".join(out.lines))
    if out.missed:
        print(f"targets missed: {', '.join(out.missed)}")
    return 1 if args.check and out.missed else 0


if __name__ == "__main__":
    sys.exit(main())
