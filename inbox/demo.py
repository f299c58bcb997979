"""Demo data: a believable Korean/English team and customers on email, WhatsApp and SMS,
with conversations waiting, snoozed and closed, so a first run shows a living product.

Everything goes through the same ``ingest()`` and ``send()`` a real channel uses; the
current customers' replies through ``automation.reply()``, so they have a follow-up plan."""

from __future__ import annotations

import datetime as dt
import random
import secrets

from . import automation, canned, contacts, conversations, outbound, users
from .db import db, utcnow
from .ingest import InboundMessage, ingest
from .models import Channel, Contact, Message, Template, User

TEAM = [
    ("관리자", "admin@example.com", "admin", "ko"),
    ("김민지", "minji.kim@example.com", "manager", "ko"),
    ("이준호", "junho.lee@example.com", "agent", "ko"),
    ("Sarah Park", "sarah.park@example.com", "agent", "en"),
    ("Tom Baker", "tom.baker@example.com", "agent", "en"),
]

CUSTOMERS = [
    # name, company, kind, address, lead status, tags, messages (minutes ago, text, subject)
    ("박서연", "서연디자인", "email", "seoyeon@seoyeon-design.kr", "new", "견적 vip",
     [(35, "안녕하세요. 홈페이지 리뉴얼 견적서를 받아볼 수 있을까요? 예산은 500만원 정도입니다.", "홈페이지 리뉴얼 견적 문의")]),
    ("최우진", "", "whatsapp", "+821098765432", "interested", "배송",
     [(600, "배송은 언제쯤 도착하나요?", ""), (540, "주문번호는 20261122-0042 입니다", "")]),
    ("Emily Chen", "Brightside Ltd", "email", "emily@brightside.co.uk", "contacted", "enterprise",
     [(3000, "Hi, could you send the proposal for 40 seats? We'd like to start in January.", "Proposal for 40 seats")]),
    ("정하늘", "", "sms", "010-2345-6789", "new", "",
     [(12, "환불 요청드립니다. 어제 결제한 건 취소 부탁드려요", "")]),
    ("Daniel Kim", "K-Food Mart", "whatsapp", "+14155550123", "won", "renewal",
     [(4500, "Thanks, the order arrived. We'll renew next month.", "")]),
    ("한지민", "지민상사", "email", "jimin@jiminsangsa.co.kr", "interested", "견적",
     [(1500, "지난번 보내주신 견적서 잘 받았습니다. 수량을 200개로 늘리면 단가가 어떻게 되나요?", "Re: 견적서 송부")]),
    ("Lucas Martin", "", "sms", "+33612345678", "new", "",
     [(90, "Hello, is the store open on Sunday?", "")]),
    ("윤가은", "", "whatsapp", "+821055512345", "dormant", "",
     [(20000, "다음에 다시 연락드릴게요", "")]),
    ("오세훈", "세훈물류", "email", "sehoon@sehoon-logis.kr", "contacted", "물류",
     [(200, "배송 일정 관련해서 통화 가능할까요? 오후 3시 이후 괜찮습니다.", "배송 일정 문의")]),
    ("Grace Lee", "Lee & Partners", "email", "grace@leepartners.com", "new", "",
     [(1600, "<p>Hello team,</p><p>We saw your ad on Instagram. <b>Do you offer a trial?</b></p>", "Trial?")]),
]  # fmt: skip


# Eight weeks of earlier leads, so the manager dashboard has history to show.
HISTORY_WEEKS = 8
HISTORY_PER_WEEK = 6
HISTORY_NAMES = [
    ("김도윤", "도윤상사"),
    ("이서준", ""),
    ("박지우", "지우푸드"),
    ("최하은", ""),
    ("정예준", "예준테크"),
    ("강수아", ""),
    ("조민서", "민서스튜디오"),
    ("윤지호", ""),
    ("장유진", "유진커머스"),
    ("임태윤", ""),
    ("Olivia Brown", "Harbor Ltd"),
    ("Noah Wilson", ""),
    ("Ava Taylor", "Summit Labs"),
    ("Ethan Clark", ""),
    ("Mia Lewis", "Oak Trading"),
    ("Henry Young", ""),
]
HISTORY_SOURCES = [("naver-ad", "winter-sale"), ("naver-ad", "brand-search"), ("instagram", "winter-sale"),
                   ("website", ""), ("referral", "")]  # fmt: skip
HISTORY_TEXT = {
    "ko": ("제품 가격표를 받아볼 수 있을까요?", "안녕하세요. 문의 주셔서 감사합니다. 가격표를 보내드립니다.",
           "감사합니다. 수량 조정 가능할까요?", "네, 가능합니다. 원하시는 수량을 알려주세요."),
    "en": ("Could you send me your price list?", "Thanks for asking! Here is our price list.",
           "Thanks. Can we adjust the quantity?", "Sure, just tell us how many you need."),
}  # fmt: skip


def _history(rng: random.Random, manager: User, agents: list[User], channels: dict, now: dt.datetime) -> None:
    """Earlier leads: the customer writes, an agent answers (sometimes after hours),
    some write back, and each ends interested, won, lost or still talking."""
    for n in range(HISTORY_WEEKS * HISTORY_PER_WEEK):
        name, company = HISTORY_NAMES[n % len(HISTORY_NAMES)]
        korean = name[0] >= "가"
        kind = rng.choice(["email", "email", "whatsapp", "sms"] if korean else ["email", "whatsapp"])
        address = f"demo.lead{n}@example.net" if kind == "email" else f"+8210{5000_0000 + n * 7919 % 4999_9999}"
        start = now - dt.timedelta(days=rng.uniform(1, HISTORY_WEEKS * 7), minutes=rng.randint(0, 600))
        texts = HISTORY_TEXT["ko" if korean else "en"]
        channel = channels[kind]

        def customer(at: dt.datetime, text: str, step: int, n=n, kind=kind, address=address, name=name,
                     channel=channel, subject=texts[0]):  # fmt: skip
            return ingest(InboundMessage(
                channel_id=channel.id, kind=kind, provider_id=f"demo-history-{n}-{step}", address=address,
                name=name, subject=subject if kind == "email" and step == 0 else "", text=text, received_at=at,
            )).message  # fmt: skip

        conv = customer(start, texts[0], 0).conversation
        contact = conv.contact
        agent = agents[n % len(agents)]
        conversations.assign(conv, manager, agent)
        source, campaign = rng.choice(HISTORY_SOURCES)
        contacts.update(contact, manager, company=company, source=source, campaign=campaign)
        quick = kind == "whatsapp" or rng.random() < 0.5
        answered = start + dt.timedelta(minutes=rng.randint(4, 55) if quick else rng.randint(70, 26 * 60))
        if answered > now:
            continue
        reply = outbound.send(conv, kind=kind, author=agent, text=texts[1], at=answered)
        Message.update(status="delivered").where(Message.id == reply.id).execute()
        outcome = rng.random()
        if outcome < 0.65:
            again = answered + dt.timedelta(minutes=rng.randint(20, 3 * 24 * 60))
            if again < now:
                customer(again, texts[2], 1)
                second = again + dt.timedelta(minutes=rng.randint(5, 8 * 60))
                if second < now:
                    reply = outbound.send(conv, kind=kind, author=agent, text=texts[3], at=second)
                    Message.update(status="delivered").where(Message.id == reply.id).execute()
            contacts.update(contact, agent, lead_status="interested")
            if outcome < 0.3:
                contacts.update(contact, agent, lead_status="won")
                conversations.close(conv, agent)
        elif outcome < 0.8:
            contacts.update(contact, agent, lead_status="lost")
            conversations.close(conv, agent)
        else:
            contacts.update(contact, agent, lead_status="contacted")
        Contact.update(created_at=min(start, contact.created_at)).where(Contact.id == contact.id).execute()


def _channels() -> tuple[Channel, Channel]:
    """Placeholder channels that hold the demo conversations; they are not connected to
    any server (disabled), so a reply in the demo fails visibly with "no channel"."""
    email = Channel.get_or_none(Channel.name == "Demo mailbox") or Channel.create(
        kind="email", name="Demo mailbox", enabled=False, settings={"from_address": "sales@example.com", "demo": True}
    )
    twilio = Channel.get_or_none(Channel.name == "Demo Twilio") or Channel.create(
        kind="twilio", name="Demo Twilio", enabled=False, settings={"sms_from": "+8215880000", "demo": True}
    )
    return email, twilio


def load(admin_password: str | None = None, seed: int = 7) -> dict:
    """Create the demo team and data (idempotent). Returns the admin's login."""
    rng = random.Random(seed)
    result = {"email": TEAM[0][1], "password": None}
    if User.select().where(User.email == TEAM[0][1]).exists():
        return result  # already loaded; the admin password was printed the first time
    password = admin_password or secrets.token_urlsafe(10)
    result["password"] = password
    team = []
    for name, email, role, locale in TEAM:
        pw = password if role == "admin" else secrets.token_urlsafe(12)
        team.append(users.create(email=email, name=name, role=role, password=pw, locale=locale))
    manager, agents = team[1], team[2:]
    email_ch, twilio_ch = _channels()
    now = utcnow()
    with db.atomic():
        for i, (name, company, kind, address, status, tags, msgs) in enumerate(CUSTOMERS):
            channel = email_ch if kind == "email" else twilio_ch
            message = None
            for j, (minutes, text, subject) in enumerate(msgs):
                html = text if text.startswith("<") else None
                message = ingest(
                    InboundMessage(
                        channel_id=channel.id, kind=kind, provider_id=f"demo-{i}-{j}", address=address,
                        name=name, subject=subject, text="" if html else text, html=html,
                        received_at=now - dt.timedelta(minutes=minutes),
                    )
                ).message  # fmt: skip
            conv = message.conversation
            contact = conv.contact
            contacts.update(contact, manager, company=company, lead_status=status,
                            source=rng.choice(["naver-ad", "instagram", "website", "referral"]))  # fmt: skip
            contacts.set_tags(contact, tags)
            assignee = None if i % 4 == 0 else agents[i % len(agents)]
            if assignee:
                conversations.assign(conv, manager, assignee)
            if status in ("contacted", "won", "dormant"):
                first = msgs[-1][0]
                reply = automation.reply(
                    conv, kind=kind, author=assignee or manager,
                    text="확인했습니다. 곧 자세히 안내드리겠습니다." if contact.name[0] >= "가" else "Thanks! I'll get back to you with details shortly.",
                    at=now - dt.timedelta(minutes=max(first - rng.randint(5, 90), 1)),
                )  # fmt: skip
                Message.update(status="delivered").where(Message.id == reply.id).execute()
            if status == "won":
                conversations.close(conv, assignee or manager)
            if status == "dormant":
                conversations.snooze(conv, manager, now + dt.timedelta(days=3))
            if i == 5:
                conversations.add_note(conv, manager, "단가표 최신 버전으로 보내주세요. 200개 이상은 8% 할인 가능.")
        _history(rng, manager, agents, {"email": email_ch, "sms": twilio_ch, "whatsapp": twilio_ch}, now)
        for name, shortcut, body, kinds in (
            ("감사 인사", "thanks", "{{ contact.first_name }}님, 문의 주셔서 감사합니다. {{ agent.name }}입니다. “{{ last_topic }}” 관련해서 바로 확인해 드리겠습니다.", ""),
            ("Thank you", "thanks-en", "Hi {{ contact.first_name }}, thanks for reaching out about “{{ last_topic }}”. I'm {{ agent.first_name }} and I'll take care of it.", ""),
            ("견적서 안내", "quote", "{{ contact.first_name }}님, 요청하신 견적서를 첨부드립니다. {{ contact.company }} 담당자분께도 공유 부탁드립니다.", "email"),
            ("Follow-up", "followup", "Hi {{ contact.first_name }}, just checking in on “{{ last_topic }}”. Is there anything else you need from us?", ""),
        ):  # fmt: skip
            if not Template.select().where(Template.shortcut == shortcut).exists():
                canned.save(None, manager, name=name, shortcut=shortcut, body=body, channels=kinds)
    return result
