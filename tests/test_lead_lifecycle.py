"""One lifecycle for every lead, whatever door it came in by, on a controlled clock
(``inbox.db.set_clock``): who is a lead, its owner, notification, acknowledgement and
waiting reminders; STOP; failed replies; the single follow-up plan with its re-engagement
step; routing rules; and the bad inputs that must leave a clear state, never an error."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from inbox import automation, canned, contacts, conversations, leads, outbound, team
from inbox.db import set_clock
from inbox.leads import plan
from inbox.localtime import Clock, automatic_touches_on_local_day
from inbox.models import AuditEvent, Channel, Contact, Conversation, FollowUp, Message, Notification, User

from . import factories
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # English reasons to assert on

T0 = dt.datetime(2030, 3, 4, 1, 0)  # naive UTC: Monday 10:00 in Seoul, the team's time zone
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
SEOUL = ZoneInfo("Asia/Seoul")
ADDRESSES = {"email": "minji@example.com", "sms": "+821011112222", "whatsapp": "+821033334444"}


@pytest.fixture
def clock():
    """``utcnow()`` everywhere in the product reads ``clock.now``."""
    now = SimpleNamespace(now=T0)
    set_clock(lambda: now.now)
    yield now
    set_clock(None)


@pytest.fixture
def acknowledgements(manager):
    """An acknowledgement template for each channel kind."""
    for kind in ADDRESSES:
        canned.save(
            None, manager, name=f"Thanks ({kind})", shortcut=f"thanks-{kind}",
            body="Hi {{ contact.first_name }}, thanks for writing (" + kind + ").", channels="",
        )  # fmt: skip
    team.put("lead_ack_templates", {kind: f"thanks-{kind}" for kind in ADDRESSES})


@pytest.fixture
def token():
    return leads.add_source("Website")[1]


def send_lead(client, token: str, data: dict):
    return client.post("/api/leads", json=data, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


def writes(channel: Channel, kind: str, text: str = "How much for 20 seats?", address: str | None = None, **kw):
    """The customer writes on ``channel`` now (the test's clock); returns ``automation.receive()``'s result."""
    address = address or ADDRESSES[kind]
    return automation.receive(factories.inbound(channel, address=address, kind=kind, text=text, **kw))


def sweep(clock, moment: dt.datetime) -> int:
    clock.now = moment
    return automation.sweep_followups(now=moment)


def reply(clock, conv_id: int, agent: User, moment: dt.datetime, kind: str = "email") -> Message:
    clock.now = moment
    return automation.reply(Conversation.get_by_id(conv_id), kind=kind, text="Here is our offer.", author=agent)


def pending(conv_id: int, kinds=None) -> list[tuple[str, int, dt.datetime]]:
    rows = FollowUp.select().where(
        (FollowUp.conversation == conv_id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
    )
    found = [(f.kind, f.step, f.due_at) for f in rows.order_by(FollowUp.due_at, FollowUp.id)]
    return [p for p in found if kinds is None or p[0] in kinds]


def planned(conv_id: int) -> list[tuple[str, int, dt.datetime]]:
    """The pending steps of the follow-up plan."""
    return pending(conv_id, plan.KINDS)


def notes(kind: str, user: User | None = None) -> list[Notification]:
    query = Notification.select().where(Notification.kind == kind)
    if user is not None:
        query = query.where(Notification.user == user)
    return list(query.order_by(Notification.id))


def outgoing(conv_id: int) -> list[Message]:
    query = Message.select().where((Message.conversation == conv_id) & (Message.direction == "out"))
    return list(query.order_by(Message.id))


def local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(SEOUL)


def channel_for(kind: str, email_channel: Channel, twilio_channel: Channel) -> Channel:
    return email_channel if kind == "email" else twilio_channel


def plan_templates(agent: User, *, reengage: bool = True) -> None:
    """A template for each cadence step and the re-engagement, all sent automatically."""
    for name in ("step1", "step2", "step3", "step4", "nudge"):
        canned.save(None, agent, name=name.title(), shortcut=name, body=name + ": any thoughts, {{ contact.first_name }}?",
                    channels="")  # fmt: skip
    team.put("cadence_templates", {str(n): f"step{n}" for n in (1, 2, 3, 4)})
    team.put("cadence_auto_send", True)
    if reengage:
        team.put("lead_reengage_template", "nudge")
        team.put("lead_reengage_auto_send", True)


def automatic(conv_id: int) -> list[Message]:
    return [m for m in outgoing(conv_id) if m.automatic]


# --- every channel makes the same lead -----------------------------------------------------


def test_a_lead_on_every_channel_gets_an_owner_a_notification_its_acknowledgement_and_reminders(
    clock, email_channel, twilio_channel, manager, acknowledgements, queued
):
    agents = [factories.make_user("agent", f"Agent {n}") for n in (1, 2, 3)]
    convs = {}
    for kind in ADDRESSES:
        received = writes(channel_for(kind, email_channel, twilio_channel), kind, name="Minji Kim")
        assert received.lead is not None
        convs[kind] = received.message.conversation_id
    for (kind, conv_id), agent in zip(convs.items(), agents, strict=True):  # round-robin: one each
        conv = Conversation.get_by_id(conv_id)
        contact = Contact.get_by_id(conv.contact_id)
        assert (contact.owner_id, conv.assignee_id, contact.lead_status) == (agent.id, agent.id, "new")
        (alert,) = Notification.select().where(Notification.conversation == conv_id)
        assert (alert.kind, alert.user_id, alert.params["channel"]) == ("new_lead", agent.id, kind)
        (ack,) = outgoing(conv_id)
        assert (ack.channel_kind, ack.automatic, ack.author_id) == (kind, True, agent.id)
        assert ack.meta["automation"] == "lead_ack" and ack.text == f"Hi Minji, thanks for writing ({kind})."
        assert ack.id in queued
        assert conv.waiting_since == T0 and conv.first_response_at is None  # the acknowledgement answers nobody
        assert pending(conv_id) == [("lead_unanswered", 1, T0 + HOUR)]
        assert FollowUp.get(FollowUp.conversation == conv_id).owner_id == agent.id
    assert notes("lead_problem") == []
    # nobody answers: each owner is reminded of their own lead at 1 h and at 24 h
    assert sweep(clock, T0 + HOUR) == 3
    assert sweep(clock, T0 + DAY) == 3
    for conv_id, agent in zip(convs.values(), agents, strict=True):
        reminded = [(n.conversation_id, n.params["minutes"]) for n in notes("lead_unanswered", agent)]
        assert reminded == [(conv_id, 60), (conv_id, 24 * 60)]


def test_a_channel_whose_new_contacts_are_not_leads_makes_no_lead(clock, agent, manager, acknowledgements, queued):
    support = factories.make_channel("email", settings={"leads": False})
    received = writes(support, "email", text="My order is late", address="buyer@example.com")
    assert received.lead is None
    conv = Conversation.get_by_id(received.message.conversation_id)
    contact = Contact.get_by_id(conv.contact_id)
    assert conv.waiting_since == T0  # a customer waiting for an answer all the same
    assert (contact.owner_id, conv.assignee_id) == (None, None)
    assert Notification.select().count() == 0 and FollowUp.select().count() == 0
    assert outgoing(conv.id) == [] and queued == []
    # answered, then writing again: still nobody's lead
    reply(clock, conv.id, agent, T0 + HOUR)
    clock.now = T0 + 2 * HOUR
    writes(support, "email", text="Thanks, and the invoice?", address="buyer@example.com")
    sweep(clock, T0 + 3 * DAY)
    assert pending(conv.id, ("lead_unanswered", "lead_ack")) == []
    assert not Notification.select().where(Notification.kind.in_(["new_lead", "lead_unanswered"])).exists()


# --- the acknowledgement respects the night ------------------------------------------------


def test_an_acknowledgement_at_23_00_in_seoul_waits_until_08_00(clock, twilio_channel, agent, acknowledgements, queued):
    clock.now = dt.datetime(2030, 3, 4, 14, 0)  # Monday 23:00 in Seoul
    morning = dt.datetime(2030, 3, 4, 23, 0)  # Tuesday 08:00 in Seoul
    received = writes(twilio_channel, "sms", name="Minji Kim")
    conv_id = received.message.conversation_id
    assert received.lead.ack["status"] == "scheduled"
    assert outgoing(conv_id) == [] and queued == []
    (waiting,) = FollowUp.select().where(FollowUp.kind == "lead_ack")
    assert (waiting.conversation_id, waiting.due_at, waiting.meta["channel"]) == (conv_id, morning, "sms")
    assert sweep(clock, morning - MINUTE) == 1  # the owner's one-hour reminder; nothing goes to the lead
    assert outgoing(conv_id) == [] and queued == []
    sweep(clock, morning)
    (ack,) = outgoing(conv_id)
    assert (ack.sent_at, ack.channel_kind, ack.meta["automation"]) == (morning, "sms", "lead_ack")
    assert (local(ack.sent_at).hour, local(ack.sent_at).minute) == (8, 0)
    assert queued == [ack.id] and FollowUp.get_by_id(waiting.id).meta["outcome"] == "sent"


# --- STOP ---------------------------------------------------------------------------------


def test_stop_makes_nobody_wait_records_the_opt_out_and_cancels_the_automatic_follow_ups(
    clock, twilio_channel, agent, manager
):
    conv_id = writes(twilio_channel, "sms", text="Price for 20 seats?", name="Minji Kim").message.conversation_id
    reply(clock, conv_id, agent, T0 + 10 * MINUTE, kind="sms")
    assert planned(conv_id) == [("cadence", 1, T0 + 10 * MINUTE + DAY)]
    clock.now = T0 + 20 * MINUTE
    writes(twilio_channel, "sms", text="STOP")
    conv = Conversation.get_by_id(conv_id)
    assert conv.waiting_since is None and conv.last_inbound_at == T0  # nobody answers STOP
    assert Contact.get_by_id(conv.contact_id).sms_opted_out_at == T0 + 20 * MINUTE
    (event,) = AuditEvent.select().where(AuditEvent.action == "opted_out")
    assert (event.conversation_id, event.after["channel"]) == (conv_id, "sms") and "STOP" in event.after["reason"]
    assert pending(conv_id) == []
    assert FollowUp.get(FollowUp.kind == "cadence").cancelled_at == T0 + 20 * MINUTE
    # SMS was the only way to write to this lead: it is closed as lost, and the managers hear
    assert (conv.state, Contact.get_by_id(conv.contact_id).lead_status) == ("closed", "lost")
    assert AuditEvent.get(AuditEvent.action == "lead_opted_out_lost").conversation_id == conv_id
    (told,) = notes("lead_opted_out")
    assert (told.user_id, told.params["channel"], told.params["closed"]) == (manager.id, "sms", True)
    assert sweep(clock, T0 + 60 * DAY) == 0
    assert notes("cadence_task") == [] and notes("reengage") == [] and notes("lead_unanswered") == []


def test_stop_cancels_an_acknowledgement_waiting_for_the_morning(
    clock, twilio_channel, agent, acknowledgements, queued
):
    clock.now = dt.datetime(2030, 3, 4, 14, 0)  # Monday 23:00 in Seoul
    conv_id = writes(twilio_channel, "sms", text="Price?").message.conversation_id
    clock.now += 10 * MINUTE
    writes(twilio_channel, "sms", text="Stop")
    assert Conversation.get_by_id(conv_id).waiting_since == dt.datetime(2030, 3, 4, 14, 0)  # STOP moved nothing
    assert FollowUp.get(FollowUp.kind == "lead_ack").cancelled_at is not None
    sweep(clock, dt.datetime(2030, 3, 4, 23, 0))  # Tuesday 08:00 in Seoul
    assert outgoing(conv_id) == [] and queued == []


def a_lead_with_email_too(twilio_channel: Channel, admin: User) -> int:
    """A lead who writes by SMS; we also know their email address, and a mailbox is
    connected. Returns the conversation."""
    Channel.update(enabled=True).where(Channel.kind == "email").execute()
    conv_id = writes(twilio_channel, "sms", text="Price?").message.conversation_id
    contact = Contact.get_by_id(Conversation.get_by_id(conv_id).contact_id)
    contacts.add_identity(contact, admin, "email", "minji@example.com")
    return conv_id


def test_stop_on_one_channel_leaves_a_lead_reachable_elsewhere_as_its_owners_task(
    clock, twilio_channel, email_channel, agent, admin
):
    conv_id = a_lead_with_email_too(twilio_channel, admin)
    clock.now += 10 * MINUTE
    writes(twilio_channel, "sms", text="STOP")
    conv = Conversation.get_by_id(conv_id)
    assert (conv.state, Contact.get_by_id(conv.contact_id).lead_status) == ("open", "new")  # email still reaches them
    (told,) = notes("lead_opted_out")
    assert (told.user_id, told.params["channel"], told.params["others"]) == (agent.id, "sms", ["email"])
    tuesday_morning = dt.datetime(2030, 3, 4, 23, 0)  # Tuesday 08:00 in Seoul: the next business morning
    # the question asked before the STOP still waits for an answer: its reminders stay
    assert pending(conv_id) == [("lead_unanswered", 1, T0 + HOUR), ("opted_out", 0, tuesday_morning)]
    sweep(clock, tuesday_morning)
    assert [n.params.get("again") for n in notes("lead_opted_out", agent)] == [None, True]
    # until the owner decides, the task comes back: each business morning, then weekly
    assert pending(conv_id, ["opted_out"]) == [("opted_out", 1, tuesday_morning + DAY)]
    sweep(clock, tuesday_morning + DAY)
    assert pending(conv_id, ["opted_out"]) == [("opted_out", 2, tuesday_morning + 2 * DAY)]
    sweep(clock, tuesday_morning + 2 * DAY)  # Thursday: the next one a week later
    assert pending(conv_id, ["opted_out"]) == [("opted_out", 3, tuesday_morning + 9 * DAY)]
    assert len(notes("lead_opted_out", agent)) == 4
    contacts.update(Contact.get_by_id(Conversation.get_by_id(conv_id).contact_id), agent, lead_status="lost")
    sweep(clock, tuesday_morning + 9 * DAY)
    assert pending(conv_id, ["opted_out"]) == [] and len(notes("lead_opted_out", agent)) == 4


def test_an_opted_out_lead_we_wrote_to_since_is_not_chased_again(
    clock, twilio_channel, email_channel, agent, admin, queued
):
    conv_id = a_lead_with_email_too(twilio_channel, admin)
    writes(twilio_channel, "sms", text="STOP")
    reply(clock, conv_id, agent, T0 + HOUR, kind="email")
    sweep(clock, T0 + 2 * DAY)
    assert len(notes("lead_opted_out")) == 1
    assert FollowUp.get(FollowUp.kind == "opted_out").meta["outcome"] == "stopped"


def test_a_first_message_stop_makes_no_lead(clock, twilio_channel, agent, manager):
    received = writes(twilio_channel, "sms", text="STOP")
    conv = Conversation.get_by_id(received.message.conversation_id)
    assert received.lead is None and conv.waiting_since is None
    assert Contact.get_by_id(conv.contact_id).owner_id is None
    assert Notification.select().count() == 0 and FollowUp.select().count() == 0


# --- a failed send counts for nothing -----------------------------------------------------


def test_a_failed_reply_changes_no_timer_and_cancels_its_plan_step_and_a_retry_starts_the_plan_again(
    clock, email_channel, agent, queued
):
    conv_id = writes(email_channel, "email", text="Price?", name="Minji Kim").message.conversation_id
    delivered = reply(clock, conv_id, agent, T0 + 10 * MINUTE)
    Message.update(status="sent").where(Message.id == delivered.id).execute()
    clock.now = T0 + HOUR
    writes(email_channel, "email", text="And for 30 seats?")
    failed = reply(clock, conv_id, agent, T0 + 2 * HOUR)
    conv = Conversation.get_by_id(conv_id)
    assert (conv.waiting_since, conv.last_outbound_at) == (None, T0 + 2 * HOUR)
    (step,) = FollowUp.select().where(FollowUp.kind.in_(plan.KINDS) & FollowUp.cancelled_at.is_null())
    assert (step.kind, step.due_at, step.meta["origin"]) == ("cadence", T0 + 2 * HOUR + DAY, failed.id)

    clock.now = T0 + 2 * HOUR + 5 * MINUTE
    outbound.mark_failed(Message.get_by_id(failed.id), "Mailbox full")
    conv = Conversation.get_by_id(conv_id)
    assert (conv.waiting_since, conv.last_outbound_at) == (T0 + HOUR, T0 + 10 * MINUTE)
    assert FollowUp.get_by_id(step.id).cancelled_at is not None and planned(conv_id) == []

    clock.now = T0 + 3 * HOUR
    assert automation.retry(Message.get_by_id(failed.id))
    conv = Conversation.get_by_id(conv_id)
    assert (conv.waiting_since, conv.last_outbound_at) == (None, T0 + 3 * HOUR)
    assert planned(conv_id) == [("cadence", 1, T0 + 3 * HOUR + DAY)]
    (again,) = FollowUp.select().where((FollowUp.kind == "cadence") & FollowUp.cancelled_at.is_null())
    assert again.id != step.id and again.meta["origin"] == failed.id


def test_a_failed_reply_brings_the_waiting_lead_reminders_back(clock, email_channel, agent, queued):
    conv_id = writes(email_channel, "email", text="Price?").message.conversation_id
    failed = reply(clock, conv_id, agent, T0 + 10 * MINUTE)
    assert pending(conv_id, ("lead_unanswered",)) == []
    outbound.mark_failed(Message.get_by_id(failed.id), "Mailbox full")
    assert Conversation.get_by_id(conv_id).waiting_since == T0
    assert [kind for kind, _, _ in pending(conv_id, ("lead_unanswered",))] == ["lead_unanswered"]


def test_a_failed_automatic_message_does_not_count_toward_one_a_day(clock, email_channel, agent, queued):
    plan_templates(agent, reengage=False)
    clock.now = T0 - HOUR
    conv_id = writes(email_channel, "email", name="Minji Kim").message.conversation_id
    reply(clock, conv_id, agent, T0)
    clock.now = T0 + DAY - 3 * HOUR  # Tuesday 07:00 in Seoul: another automation writes
    brochure = outbound.send(
        Conversation.get_by_id(conv_id), kind="email", text="Your brochure", author=None, automatic=True
    )
    seoul = Clock.for_contact(Contact.get())
    assert automatic_touches_on_local_day(conv_id, T0 + DAY, seoul) == 1
    outbound.mark_failed(brochure, "Mailbox full")
    assert automatic_touches_on_local_day(conv_id, T0 + DAY, seoul) == 0
    sweep(clock, T0 + DAY)  # Tuesday 10:00: step 1 is not held back by the failed brochure
    sent = [m for m in automatic(conv_id) if m.status != "failed"]
    assert [(m.sent_at, m.text) for m in sent] == [(T0 + DAY, "step1: any thoughts, Minji?")]
    assert FollowUp.get((FollowUp.kind == "cadence") & (FollowUp.step == 1)).meta["outcome"] == "sent"


# --- the single follow-up plan ------------------------------------------------------------


@pytest.mark.parametrize(
    "reengage_days, expected",
    [
        # default: the re-engagement takes day 3 from the cadence; day 7 keeps step 3's template
        (3, [(1, "cadence", "step1"), (3, "lead_reengage", "nudge"), (7, "cadence", "step3"),
             (14, "cadence", "step4")]),
        # between two cadence days, it is a step of its own
        (5, [(1, "cadence", "step1"), (3, "cadence", "step2"), (5, "lead_reengage", "nudge"),
             (7, "cadence", "step3"), (14, "cadence", "step4")]),
    ],
)  # fmt: skip
def test_the_reengagement_is_one_step_of_the_plan_never_on_a_cadence_day(
    clock, email_channel, agent, queued, reengage_days, expected
):
    plan_templates(agent)
    team.put("lead_reengage_days", reengage_days)
    clock.now = T0 - HOUR
    conv_id = writes(email_channel, "email", name="Minji Kim").message.conversation_id
    reply(clock, conv_id, agent, T0)
    for day, _, _ in expected:
        assert sweep(clock, T0 + day * DAY) == 1
    touches = automatic(conv_id)
    assert [(m.sent_at, m.meta["automation"], m.text.split(":")[0]) for m in touches] == [
        (T0 + day * DAY, automation_, template) for day, automation_, template in expected
    ]
    days = [local(m.sent_at).date() for m in touches]
    assert len(set(days)) == len(days)  # one automatic touch a day at most
    (reengaged,) = notes("reengage", agent)
    assert reengaged.params["sent"] is True
    assert Contact.get().lead_status == "dormant"  # the last step went unanswered


def test_a_quiet_hours_move_shifts_only_that_step(clock, email_channel, agent, queued):
    plan_templates(agent)
    reply_at = dt.datetime(2030, 3, 4, 13, 0)  # Monday 22:00 in Seoul
    clock.now = reply_at - HOUR
    conv_id = writes(email_channel, "email", name="Minji Kim").message.conversation_id
    reply(clock, conv_id, agent, reply_at)
    wednesday_8am = dt.datetime(2030, 3, 5, 23, 0)
    sweep(clock, reply_at + DAY)  # Tuesday 22:00: quiet hours
    assert automatic(conv_id) == [] and planned(conv_id) == [("cadence", 1, wednesday_8am)]
    sweep(clock, wednesday_8am)
    assert [m.sent_at for m in automatic(conv_id)] == [wednesday_8am]
    # the next step is still due 3 days after our reply, not 2 days after the moved one
    assert planned(conv_id) == [("reengage", 2, reply_at + 3 * DAY)]
    friday_8am = dt.datetime(2030, 3, 7, 23, 0)
    sweep(clock, reply_at + 3 * DAY)
    assert planned(conv_id) == [("reengage", 2, friday_8am)]
    sweep(clock, friday_8am)
    assert planned(conv_id) == [("cadence", 3, reply_at + 7 * DAY)]
    assert [local(m.sent_at).strftime("%a %H:%M") for m in automatic(conv_id)] == ["Wed 08:00", "Fri 08:00"]


# --- a lead waiting for our answer is never forgotten --------------------------------------


def test_waiting_lead_reminders_back_off_1h_24h_then_every_business_morning(clock, email_channel, agent):
    thursday = dt.datetime(2030, 3, 7, 1, 0)  # Thursday 10:00 in Seoul
    clock.now = thursday
    conv_id = writes(email_channel, "email", name="Minji Kim").message.conversation_id
    fired = []
    for _ in range(5):
        ((kind, _, due),) = pending(conv_id)
        assert kind == "lead_unanswered"
        assert sweep(clock, due) == 1
        fired.append(due)
    assert fired == [
        thursday + HOUR,
        thursday + DAY,  # Friday 10:00
        dt.datetime(2030, 3, 10, 23, 0),  # Monday 08:00: not Saturday or Sunday
        dt.datetime(2030, 3, 11, 23, 0),  # Tuesday 08:00
        dt.datetime(2030, 3, 12, 23, 0),  # Wednesday 08:00
    ]
    assert [local(moment).strftime("%a") for moment in fired] == ["Thu", "Fri", "Mon", "Tue", "Wed"]
    reminded = notes("lead_unanswered", agent)
    assert [n.params["minutes"] for n in reminded] == [60, 24 * 60, None, None, None]
    assert {n.conversation_id for n in reminded} == {conv_id}


@pytest.mark.parametrize("how", ["answered", "closed"])
def test_waiting_lead_reminders_stop_when_answered_or_closed(clock, email_channel, agent, admin, how):
    conv_id = writes(email_channel, "email").message.conversation_id
    sweep(clock, T0 + HOUR)
    assert len(notes("lead_unanswered", agent)) == 1
    clock.now = T0 + 2 * HOUR
    if how == "answered":
        reply(clock, conv_id, agent, T0 + 2 * HOUR)
    else:
        conversations.close(Conversation.get_by_id(conv_id), admin)
    assert pending(conv_id, ("lead_unanswered",)) == []
    for day in range(1, 31):
        sweep(clock, T0 + day * DAY)
    assert len(notes("lead_unanswered")) == 1


@pytest.mark.parametrize("woken_first", [True, False], ids=["woken first", "swept first"])
def test_a_snoozed_lead_is_reminded_when_the_snooze_ends(clock, email_channel, agent, woken_first):
    conv_id = writes(email_channel, "email").message.conversation_id
    until = T0 + 5 * HOUR
    conversations.snooze(Conversation.get_by_id(conv_id), agent, until)
    sweep(clock, T0 + HOUR)
    assert notes("lead_unanswered") == []
    assert pending(conv_id) == [("lead_unanswered", 1, until)]
    if woken_first:
        conversations.wake_due(now=until)
    sweep(clock, until)  # the wake-up job and the sweep run apart: either may come first
    (reminder,) = notes("lead_unanswered", agent)
    assert reminder.conversation_id == conv_id
    assert pending(conv_id) == [("lead_unanswered", 2, T0 + DAY)]


def test_a_customer_who_ends_a_snooze_early_brings_the_24h_reminder_back(clock, email_channel, agent):
    conv_id = writes(email_channel, "email").message.conversation_id
    conversations.snooze(Conversation.get_by_id(conv_id), agent, T0 + 30 * MINUTE + DAY)
    sweep(clock, T0 + HOUR)  # the 1 h reminder waits for the snooze to end
    assert pending(conv_id) == [("lead_unanswered", 1, T0 + 30 * MINUTE + DAY)]
    clock.now = T0 + 5 * HOUR
    writes(email_channel, "email", text="Any news?")  # wakes it: the 1 h point is past, the 24 h one is not
    assert pending(conv_id) == [("lead_unanswered", 1, T0 + DAY)]
    sweep(clock, T0 + DAY)
    assert len(notes("lead_unanswered", agent)) == 1


def test_a_customer_who_ends_a_snooze_brings_the_reminder_forward(clock, email_channel, agent):
    conv_id = writes(email_channel, "email").message.conversation_id
    sweep(clock, T0 + HOUR)  # the 1 h reminder
    conversations.snooze(Conversation.get_by_id(conv_id), agent, T0 + 3 * DAY)
    sweep(clock, T0 + DAY)
    assert pending(conv_id) == [("lead_unanswered", 2, T0 + 3 * DAY)]  # held back by the snooze
    clock.now = T0 + DAY + HOUR
    writes(email_channel, "email", text="Any news?")
    assert Conversation.get_by_id(conv_id).state == "open"
    wednesday_morning = dt.datetime(2030, 3, 5, 23, 0)  # Wednesday 08:00 in Seoul: the next business morning
    assert pending(conv_id) == [("lead_unanswered", 2, wednesday_morning)]


@pytest.mark.parametrize("status", ["lost", "won"])
def test_a_lost_lead_is_reactivated_and_a_customer_who_bought_is_not_forgotten(clock, email_channel, agent, status):
    conv_id = writes(email_channel, "email").message.conversation_id
    reply(clock, conv_id, agent, T0 + 10 * MINUTE)
    conv = Conversation.get_by_id(conv_id)
    contact = contacts.update(Contact.get_by_id(conv.contact_id), agent, lead_status=status)
    conversations.close(conv, agent)
    clock.now = T0 + 10 * DAY
    writes(email_channel, "email", text="Hello again, one more question")
    contact = Contact.get_by_id(contact.id)
    assert contact.lead_status == ("interested" if status == "lost" else "won")
    assert [n.params.get("was") for n in notes("dormant_replied", agent)] == (["lost"] if status == "lost" else [])
    assert pending(conv_id, ["lead_unanswered"]) == [("lead_unanswered", 1, T0 + 10 * DAY + HOUR)]
    sweep(clock, T0 + 10 * DAY + HOUR)
    assert [n.conversation_id for n in notes("lead_unanswered", agent)] == [conv_id]


# --- who answers -----------------------------------------------------------------------------


def test_routing_rules_send_korean_leads_to_the_korean_speaking_agent(clock, email_channel, twilio_channel):
    english = factories.make_user("agent", "Emma Stone")
    korean = factories.make_user("agent", "Jiwoo Han")
    team.put("lead_routing_rules", [{"language": "ko", "agents": [korean.id]}])
    arrivals = [
        (twilio_channel, "sms", "+821055550001", "안녕하세요, 견적 부탁드립니다"),
        (email_channel, "email", "a@example.com", "20석 견적 문의드립니다"),
        (email_channel, "email", "b@example.com", "Hello, a quote for 20 seats please"),
    ]
    owners = [writes(channel, kind, text, address=address).lead.owner.id for channel, kind, address, text in arrivals]
    assert owners == [korean.id, korean.id, english.id]
    assert [n.user_id for n in notes("new_lead")] == owners


# --- bad input leaves a clear state ---------------------------------------------------------


def test_no_acknowledgement_template_for_the_channel_tells_the_managers(clock, twilio_channel, agent, manager, queued):
    canned.save(None, manager, name="Thanks", shortcut="thanks-email", body="Thanks!", channels="")
    team.put("lead_ack_templates", {"email": "thanks-email"})
    received = writes(twilio_channel, "sms", name="Minji Kim")
    conv_id = received.message.conversation_id
    reason = "No acknowledgement template is set for this channel."
    assert (received.lead.ack["status"], received.lead.ack["reason"]) == ("skipped", reason)
    assert outgoing(conv_id) == [] and queued == []
    (problem,) = notes("lead_problem")
    assert (problem.user_id, problem.conversation_id, problem.params["reason"]) == (manager.id, conv_id, reason)
    event = AuditEvent.get(AuditEvent.action == "lead_ack_skipped")
    assert (event.conversation_id, event.after["channel"]) == (conv_id, "sms")
    # the rest of the lead's steps ran
    assert received.lead.owner.id == agent.id and len(notes("new_lead", agent)) == 1
    assert pending(conv_id) == [("lead_unanswered", 1, T0 + HOUR)]


def test_with_no_agent_to_take_it_the_managers_hear_of_an_unassigned_lead(clock, email_channel, manager, admin):
    gone = factories.make_user("agent", "Gone Agent")
    User.update(active=False).where(User.id == gone.id).execute()
    received = writes(email_channel, "email", name="Minji Kim")
    conv = Conversation.get_by_id(received.message.conversation_id)
    assert received.lead.owner is None and conv.assignee_id is None
    assert Contact.get_by_id(conv.contact_id).owner_id is None
    alerts = notes("new_lead")
    assert sorted((n.user_id, n.params["unassigned"]) for n in alerts) == [(manager.id, True), (admin.id, True)]
    sweep(clock, T0 + HOUR)  # nobody to remind but the managers
    assert sorted(n.user_id for n in notes("lead_unanswered")) == [manager.id, admin.id]


@pytest.mark.parametrize(
    "form, reason",
    [
        ({"email": "choi@example.com", "phone": "010-2345-6789"}, "This contact unsubscribed from email."),
        ({"phone": "010-2345-6789"}, "This contact opted out of SMS (texted STOP)."),
    ],
)
def test_a_lead_opted_out_everywhere_gets_no_acknowledgement_and_the_managers_are_told(
    clock, client, token, agent, manager, admin, acknowledgements, queued, form, reason
):
    known = contacts.create(admin, name="Choi Yuna", emails=["choi@example.com"], phones=["010-2345-6789"])
    Contact.update(email_unsubscribed_at=T0 - DAY, sms_opted_out_at=T0 - DAY, whatsapp_opted_out_at=T0 - DAY).where(
        Contact.id == known.id
    ).execute()
    response = send_lead(client, token, {**form, "message": "Price?"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["acknowledgement"]["status"], body["acknowledgement"]["reason"]) == ("skipped", reason)
    assert body["contact_id"] == known.id and body["owner"]["id"] == agent.id
    assert Message.select().where(Message.direction == "out").count() == 0 and queued == []
    problems = sorted((n.user_id, n.params["reason"], n.conversation_id) for n in notes("lead_problem"))
    assert problems == sorted((user.id, reason, body["conversation_id"]) for user in (manager, admin))
    assert pending(body["conversation_id"]) == [("lead_unanswered", 1, T0 + HOUR)]  # someone must write by hand


def test_an_api_lead_conversation_shows_the_lead_message_as_its_preview(client, token, agent):
    # the real clock: the lead's conversation is made a moment after the lead was received
    body = send_lead(client, token, {"name": "Kim Minji", "email": "minji@example.com", "message": "견적 부탁드립니다"})
    conv = Conversation.get_by_id(body.get_json()["conversation_id"])
    assert (conv.preview, conv.preview_direction) == ("견적 부탁드립니다", "in")
