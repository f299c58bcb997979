"""Generate a benchmark dataset into a fresh SQLite database.

Contacts with Korean and English names, their identities and tags, one conversation
each, and a year of email, SMS and WhatsApp traffic: inbound messages, agent replies,
automatic replies, private notes, attachments, and the audit events of assigning,
closing, snoozing and reopening. Some conversations end up waiting, snoozed, closed or
assigned, as in a real team inbox.

For the statistics: contacts are created over the whole year with a lead source,
campaign and ad set and a lead status (new, contacted, interested, won, lost, dormant);
human replies carry their business time, SLA target and outcome as outbound.send()
computes them (sla.Policy.reply_figures with the team settings: business hours Mon-Fri
09:00-18:00 in the team time zone, 60 min for new leads and 24 h for the others, counted
wall-clock), and contacts that became interested have the "contact_changed" audit event
that says so. Follow-ups: each human reply starts the cadence (steps at 1, 3, 7 and 14
days, fired as tasks or sent, some done), which the customer's next message or our
next reply cancels; a dormant lead's last step becomes "contact_changed" to dormant and
two reactivation touches; a few manual reminders, done, cancelled or still pending.

Rows are written in bulk (statements built by peewee's insert_many, values sent with
executemany, large transactions), not through ingest(), but with the same invariants
ingest(), send(), add_note() and the conversation actions produce: conversation timer
and preview columns, identities, and search index rows made by inbox.search. Message
ids grow with time. The schema is applied with inbox.schema.upgrade first.

The database is DIR/inbox.db; DIR/bench.json records the sizes, the login and the
generation time for bench/run.py.

Example:
    .venv/bin/python bench/generate.py --dir /tmp/inbox-bench --contacts 10000 --messages 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import random
import resource
import shlex
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DB_FILE, DEFAULT_DIR, META_FILE, PASSWORD, configure

# --- names and text -------------------------------------------------------------------

# fmt: off
KO_SURNAMES = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권",
               "황", "안", "송", "류", "홍", "전", "고", "문", "양", "손", "배", "백", "허", "남", "심"]
KO_SURNAMES_ROMAN = dict(zip(KO_SURNAMES, [
    "kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "jang", "lim", "han", "oh", "seo", "shin", "kwon",
    "hwang", "ahn", "song", "ryu", "hong", "jeon", "ko", "moon", "yang", "son", "bae", "baek", "heo", "nam", "shim",
], strict=True))
KO_GIVEN = [
    ("민준", "minjun"), ("서연", "seoyeon"), ("지우", "jiwoo"), ("하은", "haeun"), ("도윤", "doyoon"),
    ("서준", "seojun"), ("지민", "jimin"), ("수아", "sua"), ("예준", "yejun"), ("하준", "hajun"),
    ("지호", "jiho"), ("민서", "minseo"), ("윤서", "yoonseo"), ("현우", "hyunwoo"), ("채원", "chaewon"),
    ("준호", "junho"), ("가은", "gaeun"), ("하늘", "haneul"), ("우진", "woojin"), ("세훈", "sehoon"),
    ("다은", "daeun"), ("지훈", "jihoon"), ("소연", "soyeon"), ("태윤", "taeyoon"), ("유진", "yujin"),
    ("승민", "seungmin"), ("예린", "yerin"), ("건우", "gunwoo"), ("나연", "nayeon"), ("동현", "donghyun"),
]
EN_FIRST = ["Emily", "Daniel", "Grace", "Lucas", "Sarah", "Tom", "James", "Olivia", "Noah", "Emma", "Liam", "Ava",
            "Ethan", "Mia", "Henry", "Chloe", "Jack", "Sophie", "Ryan", "Hannah", "Leo", "Zoe", "Adam", "Lily",
            "Max", "Ella", "Sam", "Ruby", "Ben", "Alice"]
EN_LAST = ["Chen", "Kim", "Lee", "Martin", "Park", "Baker", "Smith", "Brown", "Wilson", "Taylor", "Clark", "Lewis",
           "Walker", "Young", "Hall", "Allen", "King", "Wright", "Scott", "Green", "Adams", "Nelson", "Carter",
           "Mitchell", "Turner"]
KO_COMPANY_A = ["한빛", "미래", "대한", "서울", "부산", "새봄", "푸른", "하나", "누리", "온", "지민", "서연", "세훈",
                "다온", "바른", "참", "큰", "별빛"]
KO_COMPANY_B = ["상사", "물류", "디자인", "푸드", "테크", "무역", "건설", "마트", "커머스", "전자", "인쇄", "컴퍼니",
                "스튜디오", "약국", "병원"]
EN_COMPANY_A = ["Brightside", "Northwind", "Lee & Partners", "K-Food", "Bluebird", "Harbor", "Summit", "Oak",
                "Pioneer", "Maple"]
EN_COMPANY_B = ["Ltd", "Inc", "Mart", "Labs", "Studio", "Logistics", "Trading", "Group", "Foods", "Co"]
EMAIL_DOMAINS = ["naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "outlook.com", "yahoo.com"]
KO_PRODUCTS = ["사무용 의자", "노트북 거치대", "텀블러", "명함", "현수막", "모니터 암", "전동 책상", "선물 세트", "스티커",
               "쇼핑백"]
EN_PRODUCTS = ["standing desk", "laptop stand", "tumbler", "business cards", "banner", "monitor arm", "gift set"]
# fmt: on
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October", "November"]

KO_IN = [
    "안녕하세요. {product} 견적서를 받아볼 수 있을까요? 예산은 {amount}만원 정도입니다.",
    "배송은 언제쯤 도착하나요? 주문번호는 {order} 입니다.",
    "환불 요청드립니다. 어제 결제한 건 취소 부탁드려요.",
    "지난번 보내주신 견적서 잘 받았습니다. 수량을 {qty}개로 늘리면 단가가 어떻게 되나요?",
    "배송 일정 관련해서 통화 가능할까요? 오후 {hour}시 이후 괜찮습니다.",
    "제품 사양서와 카탈로그를 메일로 보내주실 수 있나요?",
    "세금계산서 발행 부탁드립니다. 사업자등록번호는 {biz} 입니다.",
    "교환 가능한가요? {product} 색상이 주문한 것과 달라요.",
    "결제 링크가 열리지 않습니다. 확인 부탁드립니다.",
    "다음 주 화요일에 미팅 일정 잡을 수 있을까요?",
    "감사합니다! 물건 잘 받았습니다.",
    "재고 있나요? {product} {qty}개 필요합니다.",
    "계약서 검토 후 회신드리겠습니다.",
    "환불 처리 언제 완료되나요? 카드사에 아직 반영이 안 됐어요.",
    "배송지 변경 가능할까요? 새 주소는 {city} {street} {num}번지입니다.",
    "대량 구매 할인 가능한지 궁금합니다. 견적 부탁드립니다.",
    "송장번호 {tracking} 조회가 안 되는데 확인해 주세요.",
    "{product} 샘플 먼저 받아볼 수 있을까요?",
]
KO_OUT = [
    "안녕하세요 {first}님, 문의 주셔서 감사합니다. 요청하신 견적서 첨부드립니다.",
    "확인했습니다. 곧 자세히 안내드리겠습니다.",
    "주문하신 상품은 {date} 도착 예정입니다. 송장번호는 {tracking} 입니다.",
    "환불 접수되었습니다. 영업일 기준 3~5일 내 처리됩니다.",
    "{qty}개 기준 단가는 개당 {price}원입니다. 부가세 별도입니다.",
    "세금계산서 발행 완료했습니다. 메일함 확인 부탁드립니다.",
    "교환 접수 도와드리겠습니다. 회수 기사님이 {date}에 방문 예정입니다.",
    "네, 화요일 오후 {hour}시에 뵙겠습니다.",
    "결제 링크 다시 보내드립니다. 불편을 드려 죄송합니다.",
]
EN_IN = [
    "Hi, could you send the proposal for {qty} seats? We'd like to start in {month}.",
    "Hello, is the store open on Sunday?",
    "Where is my order {order}? The tracking page shows no update.",
    "I'd like a refund for order {order}, the {product} arrived damaged.",
    "Can we schedule a demo next week? Thursday afternoon works for us.",
    "Please send the invoice to our accounting team.",
    "Do you offer a trial? We saw your ad on Instagram.",
    "Thanks, the order arrived. We'll renew next month.",
    "Could you quote {qty} units of the {product}, delivered to {city}?",
    "The payment link does not open, can you check?",
]
EN_OUT = [
    "Thanks for reaching out! I'll get back to you with details shortly.",
    "Your order {order} has shipped. Tracking number: {tracking}.",
    "The refund has been processed; it may take 3-5 business days.",
    "Here is the quote for {qty} units: {price} KRW each, VAT excluded.",
    "Sure, Thursday at {hour} pm works. I'll send an invite.",
    "I've attached the invoice. Let me know if anything is missing.",
]
KO_SUBJECTS = ["견적 문의", "배송 일정 문의", "환불 요청", "세금계산서 발행 요청", "제품 문의", "교환 요청", "대량 구매 문의"]  # fmt: skip
EN_SUBJECTS = ["Proposal request", "Order status", "Refund request", "Invoice", "Product question", "Demo request"]
KO_GREETING = ["안녕하세요.", "안녕하세요, {company} {name}입니다.", "수고 많으십니다."]
KO_SIGNOFF = ["감사합니다.", "좋은 하루 보내세요.", "회신 부탁드립니다."]
EN_GREETING = ["Hi there,", "Hello team,", "Good morning,"]
EN_SIGNOFF = ["Thanks,", "Best regards,", "Cheers,"]
NOTES = [
    "단가표 최신 버전으로 보내주세요. 200개 이상은 8% 할인 가능.",
    "환불 승인 필요 - 팀장님 확인 부탁드립니다.",
    "VIP customer, reply within the hour.",
    "배송 지연 건, 물류팀에 확인 요청함.",
    "Asked for a discount; check with sales before replying.",
    "견적서 v2 발송 예정. 다음 주 재연락.",
]
AUTO_REPLIES = [
    ("자동 회신: 부재중입니다", "부재중입니다. {date}에 복귀 예정이며 확인 후 연락드리겠습니다."),
    ("Automatic reply: Out of office", "I am out of the office until {date} with limited access to email."),
]
CITIES = ["서울시 강남구", "서울시 마포구", "부산시 해운대구", "인천시 연수구", "대전시 유성구", "성남시 분당구"]
STREETS = ["테헤란로", "월드컵북로", "센텀중앙로", "송도과학로", "대학로", "판교역로"]
TAGS = ["vip", "견적", "배송", "환불", "enterprise", "renewal", "물류", "b2b", "event"]
SOURCES = ["naver-ad", "instagram", "website", "referral", "kakao", "google-ad", ""]
CAMPAIGNS = ["spring-sale", "b2b-2025", "newsletter", "retargeting", ""]
AD_SETS = ["lookalike-1p", "interest-office", "retarget-30d", "broad-seoul", ""]
CADENCE_DAYS = (1, 3, 7, 14)  # team defaults (inbox.team): cadence_days, reactivation_days
REACTIVATION_DAYS = (7, 14)
LEAD_WEIGHTS = {"new": 30, "contacted": 25, "interested": 15, "won": 12, "lost": 10, "dormant": 8}
FAIL_ERRORS = {
    "email": "550 5.1.1 The email account that you tried to reach does not exist.",
    "sms": "Twilio error 30006: Landline or unreachable carrier.",
    "whatsapp": "Twilio error 63016: Message outside the 24 hour window; use a template.",
}


class Filler(dict):
    """Placeholder values for the sentence templates, drawn on demand."""

    def __init__(self, rng: random.Random, first: str, name: str, company: str, ko: bool):
        super().__init__(first=first, name=name, company=company or ("저희 회사" if ko else "our company"))
        self.rng = rng
        self.ko = ko

    def __missing__(self, key):
        r = self.rng
        if key == "order":
            return f"2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}-{r.randint(1, 9999):04d}"
        if key == "tracking":
            return str(r.randint(10**11, 10**12 - 1))
        if key == "qty":
            return str(r.choice((10, 20, 30, 40, 50, 100, 150, 200, 300, 500, 1000)))
        if key == "amount":
            return str(r.choice((50, 100, 200, 300, 500, 800, 1000)))
        if key == "price":
            return f"{r.randint(2, 400) * 500:,}"
        if key == "hour":
            return str(r.randint(1, 6))
        if key == "biz":
            return f"{r.randint(100, 999)}-{r.randint(10, 99)}-{r.randint(10000, 99999)}"
        if key == "product":
            return r.choice(KO_PRODUCTS if self.ko else EN_PRODUCTS)
        if key == "month":
            return r.choice(MONTHS)
        if key == "date":
            return f"{r.randint(1, 12)}월 {r.randint(1, 28)}일" if self.ko else f"{r.choice(MONTHS)} {r.randint(1, 28)}"
        if key == "city":
            return r.choice(CITIES)
        if key == "street":
            return r.choice(STREETS)
        if key == "num":
            return str(r.randint(1, 300))
        raise KeyError(key)


# --- conversation state ---------------------------------------------------------------


class Conv:
    """A conversation's columns while its messages are replayed in time order (times in
    microseconds since the dataset start)."""

    __slots__ = (
        "id", "state", "snoozed_until", "assignee", "last_activity_at", "opened_at", "waiting_since",
        "last_inbound_at", "last_outbound_at", "first_response_at", "last_inbound_channel", "channels",
        "preview", "preview_direction", "woke_at", "updated_at", "subject", "count", "pending", "last_dir",
        "followup", "answered",
    )  # fmt: skip

    def __init__(self, conv_id: int):
        self.id = conv_id
        self.state = "open"
        self.snoozed_until = self.assignee = self.waiting_since = self.last_inbound_at = None
        self.last_outbound_at = self.first_response_at = self.last_inbound_channel = self.woke_at = None
        self.last_activity_at = self.opened_at = self.updated_at = 0
        self.channels: set[str] = set()
        self.preview = self.preview_direction = self.subject = ""
        self.count = 0
        self.pending = None  # (time, action, until) of a close or snooze an agent does later
        self.last_dir = ""
        self.followup = None  # (kind, step, due, created) of the cadence step not yet fired
        self.answered = False  # a human reply was sent (the lead-status events come with the first)


class Generator:
    def __init__(self, args, db, search, models):
        self.args = args
        self.db = db
        self.search = search
        self.m = models
        self.rng = random.Random(args.seed)
        self.end = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.start = self.end - dt.timedelta(days=args.days)
        self.end_us = args.days * 86400 * 10**6
        self.stats: dict[str, int] = {}
        self.audit_rows: list[tuple] = []
        self.followup_rows: list[tuple] = []
        self.dormant: set[int] = set()
        self.search_rows: list[tuple] = []
        self._sql_cache: dict = {}

    # time helpers
    def ts(self, us: int | None) -> str | None:
        return None if us is None else str(self.start + dt.timedelta(microseconds=us))

    def iso(self, us: int) -> str:
        return (self.start + dt.timedelta(microseconds=us)).isoformat()

    def insert(self, model, fields, rows) -> None:
        """executemany the INSERT statement peewee's insert_many builds for ``fields``.

        Values are already in database form (strings for timestamps and JSON, 0/1 for
        booleans): peewee's per-value query building costs ~10x more than SQLite itself
        at a million rows. Columns not in ``fields`` that have a default (added by a
        later migration) get that default, as insert_many gives them."""
        if not rows:
            return
        key = (model, tuple(f.name for f in fields))
        cached = self._sql_cache.get(key)
        if cached is None:
            sql, params = model.insert_many([tuple(None for _ in fields)], fields=fields).sql()
            defaults = tuple(
                str(v) if isinstance(v, dt.date) else int(v) if isinstance(v, bool) else v
                for v in params[len(fields) :]
            )
            cached = self._sql_cache[key] = (sql, defaults)
        sql, defaults = cached
        self.db.cursor().executemany(sql, [row + defaults for row in rows] if defaults else rows)
        self.stats[model._meta.table_name] = self.stats.get(model._meta.table_name, 0) + len(rows)

    def flush_search(self, table: str) -> None:
        rows = self.search_rows
        if rows:
            self.db.cursor().executemany(f"INSERT INTO {table}(rowid, doc) VALUES (?, ?)", rows)
            self.stats[table] = self.stats.get(table, 0) + len(rows)
        self.search_rows = []

    def audit(self, actor, action: str, conv: Conv, at: int, before=None, after=None, object_type="conversation"):
        # One conversation per contact, with the same id: a contact event's object id is conv.id.
        self.audit_rows.append((
            actor, action, object_type, conv.id, conv.id,
            None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False),
            self.ts(at),
        ))  # fmt: skip
        conv.updated_at = max(conv.updated_at, at)

    # --- team, channels, contacts ------------------------------------------------------

    def make_team(self) -> None:
        from inbox import users

        rng = self.rng
        team = []
        seen = set()
        for i in range(self.args.agents):
            role = "admin" if i == 0 else "manager" if i in (1, 2) else "agent"
            while True:
                if rng.random() < 0.7:
                    sur = rng.choice(KO_SURNAMES)
                    given, roman = rng.choice(KO_GIVEN)
                    name, local, locale = sur + given, f"{roman}.{KO_SURNAMES_ROMAN[sur]}", "ko"
                else:
                    first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
                    name, local, locale = f"{first} {last}", f"{first}.{last}".lower(), "en"
                if local not in seen:
                    seen.add(local)
                    break
            user = users.create(email=f"{local}@example.com", name=name, role=role, password=PASSWORD, locale=locale)
            team.append(user)
        self.team = team
        self.agents = [u for u in team if u.role == "agent"] or team
        self.managers = [u for u in team if u.role != "agent"]
        self.login = self.agents[0]
        # The first agent (the one the benchmark logs in as) takes a larger share of work.
        self.agent_weights = [3.0 if u.id == self.login.id else 1.0 for u in self.agents]
        self.user_names = {u.id: u.name for u in team}
        self.email_channel = self.m.Channel.create(
            kind="email", name="Sales mailbox", settings={"from_address": "sales@example.com"}
        )
        self.twilio_channel = self.m.Channel.create(kind="twilio", name="Twilio", settings={"sms_from": "+8215880000"})

    def plan(self) -> None:
        """Message counts and times per contact; contacts are numbered by first message."""
        rng = self.rng
        n, total = self.args.contacts, self.args.messages
        end = self.end_us
        firsts = sorted(int(rng.random() * end * 0.995) for _ in range(n))
        counts = [1] * n
        extra = total - n
        # One long-running thread (0.5% of all messages), started early in the year.
        self.heavy = min(n // 50, n - 1)
        heavy_extra = min(extra, max(total // 200, 50))
        counts[self.heavy] += heavy_extra
        extra -= heavy_extra
        # The rest: a long-tailed share; older contacts had more time to write.
        weights = [rng.lognormvariate(0, 1.0) * math.sqrt((end - f) / end) for f in firsts]
        weights[self.heavy] = 0.0
        scale = extra / (sum(weights) or 1.0)
        for i, w in enumerate(weights):
            counts[i] += int(w * scale)
        left = total - sum(counts)
        while left > 0:
            i = rng.randrange(n)
            if i != self.heavy:
                counts[i] += 1
                left -= 1
        self.counts = counts
        bits = max(1, (n - 1).bit_length())
        self.bits = bits
        keys = []
        mean_gap = 14 * 3600 * 10**6
        for i in range(n):
            first, c = firsts[i], counts[i]
            keys.append((first << bits) | i)
            if c > 1:
                room = end - first
                span = room if i == self.heavy else min(room, int(c * rng.expovariate(1.0) * mean_gap))
                span = max(span, 60 * 10**6)
                for _ in range(c - 1):
                    keys.append(((first + 1 + int(rng.random() * span)) << bits) | i)
        keys.sort()
        self.firsts = firsts
        self.keys = keys

    def make_contacts(self) -> None:
        rng, m = self.rng, self.m
        n = self.args.contacts
        statuses, status_w = zip(*LEAD_WEIGHTS.items(), strict=True)
        self.c_status = [""] * n
        self.c_ko = ko_list = [False] * n
        self.c_first = [""] * n
        self.c_name = [""] * n
        self.c_company = [""] * n
        self.c_email: list[str | None] = [None] * n
        self.c_phone: list[str | None] = [None] * n
        self.c_kind = [""] * n
        contact_fields = [
            m.Contact.id, m.Contact.name, m.Contact.company, m.Contact.lead_status, m.Contact.owner,
            m.Contact.source, m.Contact.campaign, m.Contact.ad_set, m.Contact.creative, m.Contact.utm,
            m.Contact.timezone, m.Contact.next_action, m.Contact.next_action_at, m.Contact.notes,
            m.Contact.whatsapp_opt_in_at, m.Contact.sms_opted_out_at, m.Contact.whatsapp_opted_out_at,
            m.Contact.email_unsubscribed_at, m.Contact.merged_into, m.Contact.created_at, m.Contact.updated_at,
        ]  # fmt: skip
        identity_fields = [m.Identity.contact, m.Identity.kind, m.Identity.value, m.Identity.created_at]
        tag_fields = [m.ContactTag.contact, m.ContactTag.tag]
        contacts, identities, tags = [], [], []

        class _Named:
            __slots__ = ("id", "name", "company")

        for i in range(n):
            cid = i + 1
            ko = rng.random() < 0.72
            ko_list[i] = ko
            if ko:
                sur = rng.choice(KO_SURNAMES)
                given, roman = rng.choice(KO_GIVEN)
                name, first, local = sur + given, given, f"{roman}.{KO_SURNAMES_ROMAN[sur]}"
                company = rng.choice(KO_COMPANY_A) + rng.choice(KO_COMPANY_B) if rng.random() < 0.4 else ""
            else:
                first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
                name, local = f"{first} {last}", f"{first}.{last}".lower()
                company = f"{rng.choice(EN_COMPANY_A)} {rng.choice(EN_COMPANY_B)}" if rng.random() < 0.5 else ""
            if rng.random() < 0.06:
                name = ""  # unknown sender: the list shows the address
            r = rng.random()
            kind = "email" if r < 0.45 else "whatsapp" if r < 0.75 else "sms"
            email = phone = None
            if kind == "email" or rng.random() < 0.2:
                email = f"{local}{cid}@{rng.choice(EMAIL_DOMAINS)}"
            if kind != "email" or rng.random() < 0.25:
                if ko or rng.random() < 0.5:
                    phone = f"+8210{(cid * 7919 + 12345678) % 10**8:08d}"
                else:
                    phone = f"+1415{(cid * 7919 + 1234567) % 10**7:07d}"
            self.c_first[i], self.c_name[i], self.c_company[i] = first, name, company
            self.c_email[i], self.c_phone[i], self.c_kind[i] = email, phone, kind
            created = self.ts(self.firsts[i] + rng.randint(200_000, 3_000_000))
            source = rng.choice(SOURCES)
            campaign = rng.choice(CAMPAIGNS) if source.endswith("-ad") or source == "instagram" else ""
            ad_set = rng.choice(AD_SETS) if campaign else ""
            utm = json.dumps({"utm_source": source, "utm_campaign": campaign}) if campaign else "{}"
            owner = rng.choice(self.agents).id if rng.random() < 0.3 else None
            status = self.c_status[i] = rng.choices(statuses, status_w)[0]
            contacts.append((
                cid, name, company, status, owner, source, campaign, ad_set, "", utm, None, "", None, "",
                created if kind == "whatsapp" else None, None, None, None, None, created, created,
            ))  # fmt: skip
            values = []
            for ikind, value in (("email", email), ("phone", phone)):
                if value:
                    identities.append((cid, ikind, value, created))
                    values.append(value)
            if rng.random() < 0.3:
                for tag in rng.sample(TAGS, rng.choice((1, 1, 2))):
                    tags.append((cid, tag))
            named = _Named()
            named.id, named.name, named.company = cid, name, company
            self.search.index_contact(named, values)  # collected by _collect_upsert
            if len(contacts) >= 20000:
                self.insert(m.Contact, contact_fields, contacts)
                self.insert(m.Identity, identity_fields, identities)
                self.insert(m.ContactTag, tag_fields, tags)
                self.flush_search("contact_search")
                contacts, identities, tags = [], [], []
        self.insert(m.Contact, contact_fields, contacts)
        self.insert(m.Identity, identity_fields, identities)
        self.insert(m.ContactTag, tag_fields, tags)
        self.flush_search("contact_search")

    # --- messages ----------------------------------------------------------------------

    def text_for(self, i: int, templates: tuple[list[str], list[str]], email: bool, inbound: bool) -> str:
        rng = self.rng
        ko = self.c_ko[i] if rng.random() < 0.92 else not self.c_ko[i]
        fill = Filler(rng, self.c_first[i] or ("고객" if ko else "there"), self.c_name[i], self.c_company[i], ko)
        pool = templates[0] if ko else templates[1]
        k = rng.choice((1, 1, 2)) if not email else rng.choice((1, 2, 2, 3))
        parts = [s.format_map(fill) for s in rng.sample(pool, k)]
        if email and inbound:
            parts.insert(0, rng.choice(KO_GREETING if ko else EN_GREETING).format_map(fill))
            parts.append(rng.choice(KO_SIGNOFF if ko else EN_SIGNOFF))
            if not ko and self.c_name[i]:
                parts.append(self.c_name[i])
        return " ".join(parts)

    def run_messages(self) -> None:
        from inbox import sla

        rng, m, db = self.rng, self.m, self.db
        policy = sla.Policy.load()
        start = self.start
        message_fields = [
            m.Message.id, m.Message.conversation, m.Message.channel, m.Message.channel_kind, m.Message.direction,
            m.Message.automatic, m.Message.auto_reply, m.Message.provider_id, m.Message.author, m.Message.address,
            m.Message.subject, m.Message.text, m.Message.html, m.Message.status, m.Message.error,
            m.Message.sent_at, m.Message.created_at, m.Message.updated_at, m.Message.response_seconds,
            m.Message.first_response, m.Message.meta, m.Message.parse_error, m.Message.business_seconds,
            m.Message.sla_target_seconds, m.Message.sla_met,
        ]  # fmt: skip
        attachment_fields = [
            m.Attachment.message, m.Attachment.filename, m.Attachment.content_type, m.Attachment.size,
            m.Attachment.content_id, m.Attachment.data, m.Attachment.note,
        ]  # fmt: skip
        self.audit_fields = audit_fields = [
            m.AuditEvent.actor, m.AuditEvent.action, m.AuditEvent.object_type, m.AuditEvent.object_id,
            m.AuditEvent.conversation, m.AuditEvent.before, m.AuditEvent.after, m.AuditEvent.created_at,
        ]  # fmt: skip
        pdf = b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(2000))
        convs = self.convs = [Conv(i + 1) for i in range(self.args.contacts)]
        email_ch, twilio_ch = self.email_channel.id, self.twilio_channel.id
        mask = (1 << self.bits) - 1
        ts = self.ts
        index_message = self.search.index_message
        clean_html = self._clean_html
        second = 10**6

        class _Doc:
            __slots__ = ("id", "subject", "text")

        doc = _Doc()
        rows, attachments = [], []
        chunk = 25000
        progress_every = max(len(self.keys) // 10, 1)
        t0 = time.time()
        for msg_id, key in enumerate(self.keys, start=1):
            t = key >> self.bits
            i = key & mask
            conv = convs[i]
            k = conv.count
            conv.count += 1
            self.settle(conv, t)
            if conv.followup is not None and conv.followup[2] <= t:
                self.fire_followups(conv, t)
            if k == 0:
                conv.opened_at = conv.last_activity_at = t
            # What happens next in this thread.
            r = rng.random()
            if k == 0:
                direction = "in"
            elif conv.waiting_since is not None:
                direction = "out" if r < 0.70 else "note" if r < 0.75 else "in"
            else:
                direction = "in" if r < 0.62 else "note" if r < 0.68 else "out"
            status, error, author, automatic, auto_reply = "received", None, None, False, False
            response_seconds, first_response = None, False
            business = target = met = None
            subject, html_body, address, channel, kind = "", None, "", None, None
            delay = rng.randint(200_000, 5 * second)
            if direction == "in":
                kind = self.c_kind[i]
                if conv.last_inbound_channel and rng.random() < 0.85:
                    kind = conv.last_inbound_channel
                elif rng.random() < 0.1:
                    kind = "sms" if kind == "whatsapp" else "whatsapp" if kind == "sms" else kind
                if kind == "email" and not self.c_email[i]:
                    kind = "whatsapp"
                if kind != "email" and not self.c_phone[i]:
                    kind = "email"
                address = self.c_email[i] if kind == "email" else self.c_phone[i]
                channel = email_ch if kind == "email" else twilio_ch
                auto_reply = conv.last_dir == "out" and rng.random() < 0.03
                if auto_reply:
                    subj, body = AUTO_REPLIES[0 if self.c_ko[i] else 1]
                    fill = Filler(rng, "", "", "", self.c_ko[i])
                    text = body.format_map(fill)
                    subject = subj if kind == "email" else ""
                else:
                    text = self.text_for(i, (KO_IN, EN_IN), kind == "email", True)
                    if kind == "email":
                        if not conv.subject:
                            conv.subject = rng.choice(KO_SUBJECTS if self.c_ko[i] else EN_SUBJECTS)
                            subject = conv.subject
                        else:
                            subject = "Re: " + conv.subject
                        if rng.random() < 0.3:
                            html_body = clean_html("<p>" + html.escape(text) + "</p>")
                provider_id = f"b{msg_id}"
                self.ingest_timers(conv, t, kind, subject, text, auto_reply)
                if not auto_reply and conv.followup is not None:
                    self.cancel_followup(conv, t)  # the customer wrote: the cadence stops
                conv.updated_at = t + delay
            elif direction == "out":
                kind = conv.last_inbound_channel or self.c_kind[i]
                address = self.c_email[i] if kind == "email" else self.c_phone[i]
                if not address:
                    kind = "email" if self.c_email[i] else "sms"
                    address = self.c_email[i] if kind == "email" else self.c_phone[i]
                channel = email_ch if kind == "email" else twilio_ch
                automatic = rng.random() < 0.08
                if not automatic:
                    author = self.assignee_for(conv, t)
                text = self.text_for(i, (KO_OUT, EN_OUT), kind == "email", False)
                if kind == "email" and conv.subject:
                    subject = "Re: " + conv.subject
                r2 = rng.random()
                if r2 < 0.02:
                    status, error = "failed", FAIL_ERRORS[kind]
                elif kind == "email":
                    status = "sent"
                elif kind == "whatsapp":
                    status = "read" if r2 < 0.5 else "delivered" if r2 < 0.92 else "sent"
                else:
                    status = "delivered" if r2 < 0.8 else "sent"
                provider_id = None if status == "failed" else f"o{msg_id}"
                waiting = conv.waiting_since
                response_seconds, first_response = self.send_timers(conv, t, author, text, status == "failed")
                if response_seconds is not None:
                    business, target, met = policy.reply_figures(
                        start + dt.timedelta(microseconds=waiting), start + dt.timedelta(microseconds=t),
                        self.c_status[i], conv.last_inbound_channel,
                    )  # fmt: skip
                    met = int(met)
                if author is not None and status != "failed":
                    self.after_human_reply(conv, i, t, author)
                conv.updated_at = t + delay
                if author is not None and conv.pending is None:
                    r3 = rng.random()
                    if r3 < 0.4:
                        conv.pending = (t + rng.randint(60, 3 * 3600) * second, "close", None)
                    elif r3 < 0.44:
                        at = t + 60 * second
                        conv.pending = (at, "snooze", at + rng.randint(3600, 7 * 86400) * second)
            else:  # a private note: only updated_at moves
                author = conv.assignee or rng.choice(self.managers).id
                fill = Filler(rng, "", "", "", True)
                text = rng.choice(NOTES).format_map(fill)
                provider_id = None
                conv.updated_at = max(conv.updated_at, t)
            conv.last_dir = direction
            rows.append((
                msg_id, conv.id, channel, kind, direction, int(automatic), int(auto_reply), provider_id, author,
                address or "", subject, text, html_body, status, error, ts(t),
                ts(t + delay if direction == "in" else t), ts(t if direction == "note" else t + delay),
                response_seconds, int(first_response), "{}", None, business, target, met,
            ))  # fmt: skip
            if kind == "email" and direction != "note" and rng.random() < (0.1 if direction == "out" else 0.03):
                name = "견적서.pdf" if self.c_ko[i] else "quote.pdf"
                attachments.append((msg_id, name, "application/pdf", len(pdf), None, pdf, None))
            doc.id, doc.subject, doc.text = msg_id, subject, text
            index_message(doc)  # collected by _collect_upsert
            if len(rows) >= chunk:
                with db.atomic():
                    self.insert(m.Message, message_fields, rows)
                    self.insert(m.Attachment, attachment_fields, attachments)
                    self.insert(m.AuditEvent, audit_fields, self.audit_rows)
                    self.flush_search("message_search")
                rows, attachments, self.audit_rows = [], [], []
            if msg_id % progress_every == 0:
                print(f"  messages: {msg_id:,} ({time.time() - t0:.0f} s)", flush=True)
        with db.atomic():
            self.insert(m.Message, message_fields, rows)
            self.insert(m.Attachment, attachment_fields, attachments)
            self.flush_search("message_search")

    def _clean_html(self, markup: str) -> str:
        from inbox.sanitize import clean_html

        return clean_html(markup)

    # --- follow-ups and lead status -----------------------------------------------------

    def after_human_reply(self, conv: Conv, i: int, t: int, author: int) -> None:
        """cadence.py on a human reply: the pending step is cancelled and the cadence starts
        again from step 1 (won and lost leads are not chased); now and then a manual
        reminder; with the first reply, the lead-status changes of an interested lead."""
        rng = self.rng
        second, day = 10**6, 86400 * 10**6
        status = self.c_status[i]
        if conv.followup is not None:
            self.cancel_followup(conv, t)
        if status not in ("won", "lost"):
            conv.followup = ("cadence", 1, t + CADENCE_DAYS[0] * day + rng.randint(0, 60) * second, t)
        if rng.random() < 0.05:
            due = t + rng.randint(2 * 3600, 7 * 86400) * second
            fired = done = cancelled = None
            if rng.random() < 0.08:
                cancelled = t + int(rng.random() * (due - t))
            elif due <= self.end_us:
                fired = due + rng.randint(0, 60) * second
                if rng.random() < 0.75:
                    done = fired + rng.randint(60, 2 * 86400) * second
            self.add_followup(conv, "manual", 0, due, t, fired, done, cancelled, None, owner=author)
        if not conv.answered:
            conv.answered = True
            if status in ("interested", "won") or (status in ("lost", "dormant") and rng.random() < 0.3):
                at = min(t + rng.randint(60, 3 * 86400) * second, self.end_us - second)
                self.audit(author, "contact_changed", conv, at, before={"lead_status": "contacted"},
                           after={"lead_status": "interested"}, object_type="contact")  # fmt: skip
                if status in ("won", "lost"):
                    later = min(at + rng.randint(3600, 30 * 86400) * second, self.end_us - second)
                    self.audit(author, "contact_changed", conv, later, before={"lead_status": "interested"},
                               after={"lead_status": status}, object_type="contact")  # fmt: skip

    def fire_followups(self, conv: Conv, t: int) -> None:
        """The reminders sweep fires every step due before ``t`` (within a minute of its
        due time) and plans the next one from the moment it fired; the last cadence step
        makes a dormant lead dormant and starts its reactivation touches."""
        rng = self.rng
        second, day = 10**6, 86400 * 10**6
        while conv.followup is not None and conv.followup[2] <= t:
            kind, step, due, created = conv.followup
            fired = due + rng.randint(0, 60) * second
            r = rng.random()
            if kind == "reactivation":
                outcome, done = ("sent", fired) if r < 0.4 else ("task", None)
            elif r < 0.07:
                outcome, done = "sent", fired
            elif r < 0.10:
                outcome, done = "moved", fired
            else:
                outcome, done = "task", None
            if outcome == "task" and rng.random() < 0.55:
                done = fired + rng.randint(600, 2 * 86400) * second
            self.add_followup(conv, kind, step, due, created, fired, done, None, outcome)
            days = CADENCE_DAYS if kind == "cadence" else REACTIVATION_DAYS
            if step < len(days):
                conv.followup = (kind, step + 1, fired + (days[step] - days[step - 1]) * day, fired)
            elif kind == "cadence" and self.c_status[conv.id - 1] == "dormant":
                if conv.id not in self.dormant:  # make_dormant records the change once
                    self.dormant.add(conv.id)
                    self.audit(None, "contact_changed", conv, fired, before={"lead_status": "contacted"},
                               after={"lead_status": "dormant"}, object_type="contact")  # fmt: skip
                conv.followup = ("reactivation", 1, fired + REACTIVATION_DAYS[0] * day, fired)
            else:
                conv.followup = None

    def cancel_followup(self, conv: Conv, t: int) -> None:
        kind, step, due, created = conv.followup
        self.add_followup(conv, kind, step, due, created, None, None, t, None)
        conv.followup = None

    def add_followup(self, conv, kind, step, due, created, fired, done, cancelled, outcome, owner=None) -> None:
        ts = self.ts
        self.followup_rows.append((
            created, conv.id, owner or conv.assignee, kind, ts(due), "", step, None, ts(fired), ts(done),
            ts(cancelled), ts(created), json.dumps({"outcome": outcome}) if outcome else "{}",
        ))  # fmt: skip

    def assignee_for(self, conv: Conv, t: int) -> int:
        """The agent who answers: the assignee, or an agent who assigns it to themselves."""
        if conv.assignee is None:
            agent = self.rng.choices(self.agents, self.agent_weights)[0].id
            conv.assignee = agent
            self.audit(
                agent, "assigned", conv, t - 1000,
                before={"assignee": None}, after={"assignee": agent, "assignee_name": self.user_names[agent]},
            )  # fmt: skip
        return conv.assignee

    def settle(self, conv: Conv, t: int) -> None:
        """Apply what happened to the thread before time ``t``: a close or snooze the agent
        did after their reply, and the end of a snooze (the wake_snoozed task)."""
        if conv.pending is not None:
            at, action, until = conv.pending
            conv.pending = None
            if at < t:
                actor = conv.assignee or self.managers[0].id
                if action == "close" and conv.state != "closed":
                    before = conv.state
                    conv.state, conv.snoozed_until = "closed", None
                    self.audit(actor, "closed", conv, at, before={"state": before})
                elif action == "snooze" and conv.state != "closed":
                    conv.state, conv.snoozed_until, conv.woke_at = "snoozed", until, None
                    self.audit(actor, "snoozed", conv, at, after={"until": self.iso(until)})
        if conv.state == "snoozed" and conv.snoozed_until <= t:
            at = conv.snoozed_until
            conv.state, conv.snoozed_until, conv.woke_at = "open", None, at
            self.audit(None, "snooze_ended", conv, at)

    def ingest_timers(self, conv: Conv, at: int, kind: str, subject: str, text: str, auto_reply: bool) -> None:
        """inbox.ingest._update_timers, on microsecond times."""
        if at >= conv.last_activity_at:
            conv.last_activity_at = at
            conv.preview = ((subject + " — " if subject else "") + text[:200])[:255]
            conv.preview_direction = "in"
        conv.channels.add(kind)
        if not auto_reply:
            if conv.last_inbound_at is None or at >= conv.last_inbound_at:
                conv.last_inbound_at = at
                conv.last_inbound_channel = kind
            answered = conv.last_outbound_at is not None and at <= conv.last_outbound_at
            if not answered and (conv.waiting_since is None or at < conv.waiting_since):
                conv.waiting_since = at
            if conv.state == "closed":
                conv.state, conv.opened_at, conv.first_response_at = "open", at, None
                self.audit(None, "reopened_by_customer", conv, at)
            elif conv.state == "snoozed":
                conv.state, conv.snoozed_until, conv.woke_at = "open", None, at
                self.audit(None, "woken_by_customer", conv, at)

    def send_timers(self, conv: Conv, now: int, author, text: str, failed: bool):
        """inbox.outbound.send, then mark_failed for a failed one. Returns the message's
        (response_seconds, first_response)."""
        response_seconds, first_response = None, False
        human = author is not None
        if human and conv.waiting_since is not None:
            response_seconds = (now - conv.waiting_since) // 10**6
            if conv.first_response_at is None:
                first_response = True
                conv.first_response_at = now
            conv.waiting_since = None
        elif human and conv.first_response_at is None and conv.last_inbound_at is not None:
            conv.first_response_at = now
        if human:
            conv.last_outbound_at = now
        conv.last_activity_at = now
        conv.preview = text.strip()[:255]
        conv.preview_direction = "out"
        if failed and response_seconds is not None:
            restored = now - response_seconds * 10**6
            if conv.waiting_since is None or restored < conv.waiting_since:
                conv.waiting_since = restored
            if first_response and conv.first_response_at == now:
                conv.first_response_at = None
            response_seconds, first_response = None, False
        return response_seconds, first_response

    def finish_conversations(self) -> None:
        """Settle pending actions at the end, close most stale threads, snooze a few live
        ones, then write every conversation with its final columns."""
        rng, m = self.rng, self.m
        end = self.end_us
        second = 10**6
        for conv in self.convs:
            if conv.pending is not None and conv.pending[0] > end:
                conv.pending = None
            self.settle(conv, end)
            if conv.followup is not None:
                self.fire_followups(conv, end)
                if conv.followup is not None:  # still to come: pending
                    kind, step, due, created = conv.followup
                    self.add_followup(conv, kind, step, due, created, None, None, None, None)
                    conv.followup = None
            stale = conv.last_activity_at < end - 21 * 86400 * second
            actor = conv.assignee or self.managers[0].id
            if conv.state == "open" and stale and rng.random() < 0.85:
                at = min(conv.last_activity_at + rng.randint(3600, 3 * 86400) * second, end - 60 * second)
                conv.state, conv.snoozed_until = "closed", None
                self.audit(actor, "closed", conv, at, before={"state": "open"})
            elif conv.state == "open" and not stale and conv.waiting_since is None and rng.random() < 0.3:
                at = max(conv.last_activity_at + second, end - rng.randint(60, 86400) * second)
                until = end + rng.randint(3600, 10 * 86400) * second
                conv.state, conv.snoozed_until, conv.woke_at = "snoozed", until, None
                self.audit(actor, "snoozed", conv, at, after={"until": self.iso(until)})
        fields = [
            m.Conversation.id, m.Conversation.contact, m.Conversation.state, m.Conversation.snoozed_until,
            m.Conversation.assignee, m.Conversation.last_activity_at, m.Conversation.opened_at,
            m.Conversation.waiting_since, m.Conversation.last_inbound_at, m.Conversation.last_outbound_at,
            m.Conversation.first_response_at, m.Conversation.last_inbound_channel, m.Conversation.channels,
            m.Conversation.preview, m.Conversation.preview_direction, m.Conversation.woke_at,
            m.Conversation.updated_at,
        ]  # fmt: skip
        ts = self.ts
        rows = [
            (
                c.id, c.id, c.state, ts(c.snoozed_until), c.assignee, ts(c.last_activity_at), ts(c.opened_at),
                ts(c.waiting_since), ts(c.last_inbound_at), ts(c.last_outbound_at), ts(c.first_response_at),
                c.last_inbound_channel, " ".join(sorted(c.channels)), c.preview, c.preview_direction,
                ts(c.woke_at), ts(max(c.updated_at, c.last_activity_at)),
            )
            for c in self.convs
        ]  # fmt: skip
        followup_fields = [
            m.FollowUp.conversation, m.FollowUp.owner, m.FollowUp.kind, m.FollowUp.due_at, m.FollowUp.note,
            m.FollowUp.step, m.FollowUp.template, m.FollowUp.fired_at, m.FollowUp.done_at, m.FollowUp.cancelled_at,
            m.FollowUp.created_at, m.FollowUp.meta,
        ]  # fmt: skip
        self.followup_rows.sort(key=lambda row: row[0])  # ids grow with creation time
        followups = [row[1:] for row in self.followup_rows]
        self.followup_rows = []
        with self.db.atomic():
            self.insert(m.Conversation, fields, rows)
            self.insert(m.AuditEvent, self.audit_fields, self.audit_rows)
            self.insert(m.FollowUp, followup_fields, followups)
        self.audit_rows = []


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="bench/generate.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"dataset directory (default {DEFAULT_DIR})")
    parser.add_argument(
        "--contacts", type=int, default=100_000, help="contacts, one conversation each (default 100000)"
    )
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in all (default 1000000)")
    parser.add_argument("--agents", type=int, default=20, help="team members: 1 admin, 2 managers, agents (default 20)")
    parser.add_argument("--days", type=int, default=365, help="history length in days, ending now (default 365)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--force", action="store_true", help="replace an existing dataset in --dir")
    args = parser.parse_args(argv)
    if args.contacts < 1 or args.messages < args.contacts:
        parser.error("need at least one contact and at least one message per contact")
    if args.agents < 4:
        parser.error("need at least 4 team members")
    return args


def main(argv=None) -> int:
    args = _parse(argv)
    started = time.time()
    path = Path(args.dir).resolve()
    db_path = path / DB_FILE
    if db_path.exists() and not args.force:
        print(f"{db_path} exists; pass --force to replace it", file=sys.stderr)
        return 2
    for name in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm", "huey.db", "huey.db-wal", "huey.db-shm", META_FILE):
        (path / name).unlink(missing_ok=True)
    configure(path)

    from inbox import models, schema, search
    from inbox.db import db, init_db
    from inbox.stats import facts

    database = init_db(os.environ["INBOX_DATABASE_URL"])
    database.connect()
    schema.upgrade(database)
    # The app may keep an idle connection open for the life of the process; the journal
    # mode cannot change while another connection is open.
    keeper = getattr(database, "wal_keeper", None)
    if keeper is not None:
        keeper.close()
        database.wal_keeper = None
    # Bulk load: no rollback journal and no fsync; foreign keys are checked at the end.
    database.execute_sql("PRAGMA journal_mode = OFF")
    database.execute_sql("PRAGMA synchronous = OFF")
    database.execute_sql("PRAGMA foreign_keys = OFF")
    database.execute_sql("PRAGMA cache_size = -262144")

    gen = Generator(args, db, search, models)
    # search.index_message/index_contact build the documents; collect them for executemany.
    original_upsert = search._upsert
    search._upsert = lambda table, row_id, doc: gen.search_rows.append((row_id, doc))
    try:
        step = time.time()
        print(f"dataset: {args.contacts:,} contacts, {args.messages:,} messages, {args.agents} team members, "
              f"{args.days} days -> {db_path}", flush=True)  # fmt: skip
        gen.make_team()
        gen.plan()
        print(f"planned in {time.time() - step:.1f} s", flush=True)
        step = time.time()
        with db.atomic():
            gen.make_contacts()
        print(f"contacts, identities, tags, contact search: {time.time() - step:.1f} s", flush=True)
        step = time.time()
        gen.run_messages()
        print(f"messages, attachments, audit, message search: {time.time() - step:.1f} s", flush=True)
        step = time.time()
        gen.finish_conversations()
        print(f"conversations: {time.time() - step:.1f} s", flush=True)
        step = time.time()
        with db.atomic():
            facts.refresh_all()
        print(f"statistics facts: {time.time() - step:.1f} s", flush=True)
    finally:
        search._upsert = original_upsert
    step = time.time()
    problems = database.execute_sql("PRAGMA foreign_key_check").fetchmany(5)
    if problems:
        raise RuntimeError(f"foreign key violations: {problems}")
    database.execute_sql("PRAGMA journal_mode = WAL")
    database.execute_sql("PRAGMA foreign_keys = ON")
    print(f"foreign key check: {time.time() - step:.1f} s", flush=True)

    conv_states = dict(database.execute_sql("SELECT state, COUNT(*) FROM conversation GROUP BY state").fetchall())
    login = gen.login
    open_q = "SELECT COUNT(*) FROM conversation WHERE state = 'open'"
    folders = {
        "open": database.execute_sql(open_q).fetchone()[0],
        "mine": database.execute_sql(open_q + " AND assignee_id = ?", (login.id,)).fetchone()[0],
        "unassigned": database.execute_sql(open_q + " AND assignee_id IS NULL").fetchone()[0],
        "waiting": database.execute_sql(open_q + " AND waiting_since IS NOT NULL").fetchone()[0],
    }
    database.close()
    seconds = time.time() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = usage.ru_utime + usage.ru_stime
    size = sum(p.stat().st_size for p in path.glob(DB_FILE + "*"))
    meta = {
        "contacts": args.contacts,
        "messages": args.messages,
        "agents": args.agents,
        "days": args.days,
        "seed": args.seed,
        "generated_at": gen.end.isoformat(),
        "generation_seconds": round(seconds, 1),
        "generation_cpu_seconds": round(cpu_seconds, 1),
        "load_average": round(os.getloadavg()[0], 2),
        "command": shlex.join([sys.executable, *sys.argv]),
        "login": {"email": login.email, "password": PASSWORD, "name": login.name},
        "heavy_conversation": gen.heavy + 1,
        "heavy_messages": gen.counts[gen.heavy],
        "rows": gen.stats,
        "states": conv_states,
        "folders": folders,
        "database_bytes": size,
    }
    (path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2))
    print(json.dumps({k: meta[k] for k in ("rows", "states", "folders")}, ensure_ascii=False))
    print(
        f"generated in {seconds:.1f} s ({cpu_seconds:.1f} s CPU, load average {os.getloadavg()[0]:.2f}); "
        f"database {size / 2**20:.0f} MiB; login {login.email}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
