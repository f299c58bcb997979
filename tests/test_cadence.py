"""The follow-up cadence on a controlled clock: steps fire when ``automation.sweep_followups(now=...)``
reaches them, stop when the customer replies, end in dormancy and reactivation, and
automatic touches keep to one a day, outside quiet hours, never to opted-out contacts."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import fn

from inbox import automation, canned, consent, contacts, outbound, team
from inbox.db import utcnow
from inbox.leads import plan
from inbox.models import AuditEvent, Channel, Contact, Conversation, FollowUp, Message, Notification, User

from . import factories
from .conftest import _truncate, login, post
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # English pages for the panel test

T0 = dt.datetime(2030, 3, 4, 1, 0)  # naive UTC: Monday 10:00 in Seoul, the team's time zone
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SID = "HX" + "a" * 32
_addresses = itertools.count(1)


def customer_writes(channel: Channel, at: dt.datetime, address: str, kind: str | None = None, **kw) -> Message:
    """An inbound message received at ``at`` (the test's clock, not the real one)."""
    inbound = factories.inbound(channel, address=address, kind=kind, **kw)
    inbound.received_at = at
    return automation.receive(inbound).message


def we_reply(conv_id: int, agent: User, at: dt.datetime, kind: str = "email") -> Message:
    return automation.reply(Conversation.get_by_id(conv_id), kind=kind, text="Here is the quote.", author=agent, at=at)


def start(channel, agent, reply_at=T0, kind="email", address="lead@example.com", **kw) -> int:
    """A lead writes an hour before our reply; returns the conversation id."""
    msg = customer_writes(channel, reply_at - HOUR, address, kind=kind, name="Minji Kim", subject="Quote", **kw)
    we_reply(msg.conversation_id, agent, reply_at, kind=kind)
    return msg.conversation_id


def pending(conv_id: int) -> list[tuple[str, int, dt.datetime]]:
    rows = FollowUp.select().where(
        (FollowUp.conversation == conv_id) & FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()
    )
    return [(f.kind, f.step, f.due_at) for f in rows.order_by(FollowUp.due_at)]


def planned(conv_id: int) -> list[tuple[str, int, dt.datetime]]:
    """The pending steps of the follow-up plan (not the waiting-lead reminders)."""
    return [p for p in pending(conv_id) if p[0] in plan.KINDS]


def pure_cadence() -> None:
    """The cadence alone: no day-3 re-engagement step in the plan of a new lead."""
    team.put("lead_reengage_days", 0)


def tasks(user: User) -> list[tuple[str, int]]:
    rows = Notification.select().where((Notification.user == user) & (Notification.kind == "cadence_task"))
    return [(n.params["sequence"], n.params["step"]) for n in rows.order_by(Notification.id)]


def automatic(conv_id: int) -> list[Message]:
    return list(
        Message.select()
        .where((Message.conversation == conv_id) & (Message.direction == "out") & Message.automatic)
        .order_by(Message.id)
    )


def template(agent, shortcut: str, body: str = "Hi {{ contact.first_name }}, any thoughts on {{ last_topic }}?", **kw):
    return canned.save(None, agent, name=shortcut.title(), shortcut=shortcut, body=body, channels="", **kw)


def auto_send(agent, steps=(1, 2, 3, 4), reactivation=(1, 2)) -> None:
    for step in steps:
        template(agent, f"step{step}")
    for step in reactivation:
        template(agent, f"again{step}", body="Hi {{ contact.first_name }}, it has been a while.")
    team.put("cadence_templates", {str(s): f"step{s}" for s in steps})
    team.put("reactivation_templates", {str(s): f"again{s}" for s in reactivation})
    team.put("cadence_auto_send", True)


@pytest.fixture
def lead(email_channel, agent) -> int:
    return start(email_channel, agent)


# --- the default cadence, dormancy and reactivation -----------------------------------


def test_default_plan_is_1_3_7_14_days_with_day_3_reengagement_then_dormant_reactivation_at_7_and_14_then_lost(
    lead, agent
):
    template(agent, "checkin")
    team.put("cadence_templates", {"3": "checkin"})  # step 3 of the team cadence: day 7
    assert pending(lead) == [("cadence", 1, T0 + DAY)]
    moments = [T0 + d * DAY for d in (1, 3, 7, 14)] + [T0 + (14 + d) * DAY for d in (7, 14)]
    for moment in moments:
        assert automation.sweep_followups(now=moment - dt.timedelta(minutes=1)) == 0
        assert automation.sweep_followups(now=moment) == 1
    # the lead is still "new": day 3 of the cadence is the re-engagement, one step of the same plan
    expected = [
        ("cadence", 1),
        ("cadence", 3),
        ("cadence", 4),
        ("reactivation", 1),
        ("reactivation", 2),
    ]
    assert tasks(agent) == expected
    (reengage,) = Notification.select().where(Notification.kind == "reengage")
    assert (reengage.user_id, reengage.params["step"], reengage.params["days"]) == (agent.id, 2, 3)
    assert reengage.params["sent"] is False and reengage.conversation_id == lead
    day_7 = Notification.select().where(Notification.kind == "cadence_task").order_by(Notification.id)[1]
    assert day_7.params["template"] == "Checkin" and day_7.params["name"] == "Minji Kim"
    assert day_7.conversation_id == lead
    contact = Contact.get()
    assert (contact.lead_status, contact.dormant_since) == ("dormant", T0 + 14 * DAY)
    event = AuditEvent.get(AuditEvent.action == "contact_changed")
    assert (event.before, event.after, event.actor_id) == ({"lead_status": "new"}, {"lead_status": "dormant"}, None)
    # the last reactivation touch went unanswered: after one more gap (7 days) the lead is lost
    assert pending(lead) == [("close_lost", 1, T0 + 35 * DAY)]
    assert automation.sweep_followups(now=T0 + 35 * DAY) == 1
    assert Contact.get().lead_status == "lost" and Conversation.get_by_id(lead).state == "closed"
    lost = AuditEvent.get(AuditEvent.action == "lead_closed_lost")
    assert (lost.before, lost.after, lost.conversation_id) == (
        {"lead_status": "dormant"},
        {"lead_status": "lost"},
        lead,
    )
    assert pending(lead) == [] and automation.sweep_followups(now=T0 + 365 * DAY) == 0
    assert automatic(lead) == []  # tasks only: nothing was sent


def test_the_task_goes_to_the_contact_owner_or_else_the_assignee(lead, agent, manager):
    contacts.update(Contact.get(), manager, owner_id=manager.id)
    automation.sweep_followups(now=T0 + DAY)
    assert tasks(manager) == [("cadence", 1)] and tasks(agent) == []


@pytest.mark.parametrize("when", [T0 + 2 * DAY, T0 + 20 * DAY], ids=["during the cadence", "when dormant"])
def test_a_customer_reply_stops_the_cadence_and_the_reactivation(lead, agent, email_channel, when):
    for moment in [T0 + d * DAY for d in (1, 3, 7, 14)]:
        if moment < when:
            automation.sweep_followups(now=moment)
    assert planned(lead)
    chased = Notification.select().where(Notification.kind.in_(["cadence_task", "reengage"])).count()
    customer_writes(email_channel, when, "lead@example.com", text="Sorry, busy week. Still interested!")
    assert planned(lead) == []
    # they wait for our answer now: the waiting-lead reminder takes over from the plan
    assert [kind for kind, _, _ in pending(lead)] == ["lead_unanswered"]
    automation.sweep_followups(now=when + 100 * DAY)
    assert planned(lead) == []
    assert Notification.select().where(Notification.kind.in_(["cadence_task", "reengage"])).count() == chased
    assert len(Notification.select().where(Notification.kind == "lead_unanswered")) == 1


def test_a_new_reply_of_ours_restarts_the_cadence(lead, agent):
    automation.sweep_followups(now=T0 + DAY)
    we_reply(lead, agent, T0 + 2 * DAY)
    assert pending(lead) == [("cadence", 1, T0 + 3 * DAY)]


@pytest.mark.parametrize("status", ["won", "lost"])
def test_won_and_lost_leads_are_not_chased(lead, agent, status):
    contacts.update(Contact.get(), agent, lead_status=status)
    assert automation.sweep_followups(now=T0 + DAY) == 1
    assert tasks(agent) == [] and pending(lead) == []
    assert FollowUp.get(FollowUp.kind == "cadence").meta["outcome"] == "stopped"
    we_reply(lead, agent, T0 + 2 * DAY)
    assert pending(lead) == []


# --- automatic touches ----------------------------------------------------------------


def test_auto_send_stores_automatic_messages_that_do_not_stop_the_clock(lead, agent, queued, email_channel):
    pure_cadence()
    auto_send(agent)
    for d in (1, 3, 7, 14):
        automation.sweep_followups(now=T0 + d * DAY)
    sent = automatic(lead)
    assert [m.sent_at for m in sent] == [T0 + d * DAY for d in (1, 3, 7, 14)]
    assert all(m.author_id == agent.id and m.status == "queued" for m in sent)  # in the owner's name
    assert sent[0].text == "Hi Minji, any thoughts on Quote?"
    assert [m.meta["step"] for m in sent] == [1, 2, 3, 4]
    assert queued == [m.id for m in sent]
    assert tasks(agent) == []  # sent, so no task
    conv = Conversation.get_by_id(lead)
    assert conv.last_outbound_at == T0  # still our last human reply
    assert Contact.get().lead_status == "dormant"
    automation.sweep_followups(now=T0 + 21 * DAY)
    touch = automatic(lead)[-1]
    assert (touch.meta["sequence"], touch.meta["step"]) == ("reactivation", 1)
    assert touch.text == "Hi Minji, it has been a while."
    # the customer answers: nobody had answered them by hand, the waiting clock starts now
    customer_writes(email_channel, T0 + 22 * DAY, "lead@example.com", text="Yes, let's talk")
    conv = Conversation.get_by_id(lead)
    assert conv.waiting_since == T0 + 22 * DAY and planned(lead) == []
    assert pending(lead) == [("lead_unanswered", 1, T0 + 22 * DAY + HOUR)]  # the owner is reminded instead


def test_at_most_one_automatic_touch_a_day_the_second_moves_to_the_next_morning(lead, agent, queued):
    pure_cadence()
    auto_send(agent)
    conv = Conversation.get_by_id(lead)
    # another automation wrote to them on Tuesday already (07:00 in Seoul)
    outbound.send(conv, kind="email", text="Your brochure", author=None, automatic=True, at=T0 + DAY - 3 * HOUR)
    assert automation.sweep_followups(now=T0 + DAY) == 1  # Tuesday 10:00 in Seoul
    assert len(automatic(lead)) == 1
    wednesday_8am = dt.datetime(2030, 3, 5, 23, 0)  # Wednesday 08:00 in Seoul
    assert pending(lead) == [("cadence", 1, wednesday_8am)]
    moved = FollowUp.get(FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.kind == "cadence"))
    first = FollowUp.get(FollowUp.id == moved.meta["moved_from"])
    assert moved.meta["moved_because"] == "one_per_day"
    assert (first.meta["outcome"], first.meta["because"]) == ("moved", "one_per_day")
    assert automation.sweep_followups(now=wednesday_8am) == 1
    assert [m.sent_at for m in automatic(lead)] == [T0 + DAY - 3 * HOUR, wednesday_8am]
    # the moved step does not move the next one: still due 3 days after our reply
    assert pending(lead) == [("cadence", 2, T0 + 3 * DAY)]


@pytest.mark.parametrize(
    "timezone, reply_at, moved_to",
    [
        # 22:00 in Seoul (the team's zone): step 1 due Tuesday 22:00, sent Wednesday 08:00.
        (None, dt.datetime(2030, 3, 4, 13, 0), dt.datetime(2030, 3, 5, 23, 0)),
        # 22:00 in New York on Sunday: due Monday 22:00 there, sent Tuesday 08:00 (EST, UTC-5).
        ("America/New_York", dt.datetime(2030, 3, 4, 3, 0), dt.datetime(2030, 3, 5, 13, 0)),
    ],
)
def test_quiet_hours_push_an_automatic_step_to_8am_local(email_channel, agent, queued, timezone, reply_at, moved_to):
    auto_send(agent)
    conv_id = start(email_channel, agent, reply_at=reply_at)
    Contact.update(timezone=timezone).execute()
    assert automation.sweep_followups(now=reply_at + DAY) == 1
    assert automatic(conv_id) == []
    assert pending(conv_id) == [("cadence", 1, moved_to)]
    pending_step = FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null() & (FollowUp.kind == "cadence")
    assert FollowUp.get(pending_step).meta["moved_because"] == "quiet_hours"
    automation.sweep_followups(now=moved_to)
    (message,) = automatic(conv_id)
    local = message.sent_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone or "Asia/Seoul"))
    assert (local.hour, local.minute) == (8, 0)


def test_tasks_are_not_held_back_by_quiet_hours(email_channel, agent):
    conv_id = start(email_channel, agent, reply_at=dt.datetime(2030, 3, 4, 13, 0))  # 22:00 in Seoul
    assert automation.sweep_followups(now=dt.datetime(2030, 3, 5, 13, 0)) == 1
    assert tasks(agent) == [("cadence", 1)] and pending(conv_id)[0][1] == 2


@pytest.mark.parametrize("kind", ["sms", "whatsapp", "email"])
def test_an_opted_out_contact_gets_no_automatic_message_the_owner_gets_the_task(
    twilio_channel, email_channel, agent, queued, kind
):
    auto_send(agent)
    if kind == "email":
        conv_id = start(email_channel, agent)
        Contact.update(email_unsubscribed_at=T0).execute()
        reason = "This contact unsubscribed from email."
    else:
        conv_id = start(twilio_channel, agent, kind=kind, address="+821012345678")
        consent.set_opted_out(Contact.get(), kind, True, reason="Twilio error 21610")
        reason = consent.blocked_reason(Contact.get(), kind)
    automation.sweep_followups(now=T0 + DAY)
    assert automatic(conv_id) == [] and queued == []
    (n,) = Notification.select().where(Notification.kind == "cadence_task")
    assert (n.user_id, n.params["step"], n.params["reason"], n.params["template"]) == (agent.id, 1, reason, "Step1")
    assert FollowUp.get((FollowUp.kind == "cadence") & (FollowUp.step == 1)).meta["outcome"] == "task"
    assert pending(conv_id) == [("reengage", 2, T0 + 3 * DAY)]  # the owner keeps getting the tasks


def test_whatsapp_outside_the_window_only_an_approved_template_goes(twilio_channel, agent, queued):
    template(agent, "nudge", body="Hi {{ contact.first_name }}, still interested?")
    template(agent, "approved", body="Hi {{ contact.first_name }}, any questions?", content_sid=SID,
             content_variables={"1": "{{ contact.first_name }}"})  # fmt: skip
    team.put("cadence_templates", {"1": "nudge", "2": "approved"})
    team.put("cadence_auto_send", True)
    pure_cadence()
    conv_id = start(twilio_channel, agent, kind="whatsapp", address="+821012345678")
    assert Contact.get().whatsapp_opt_in_at is not None  # they wrote first on WhatsApp
    automation.sweep_followups(now=T0 + DAY)  # 25 hours after their message: the window is closed
    assert automatic(conv_id) == []
    (n,) = Notification.select().where(Notification.kind == "cadence_task")
    assert n.params["reason"].startswith("The WhatsApp 24-hour window is closed")
    automation.sweep_followups(now=T0 + 3 * DAY)
    (message,) = automatic(conv_id)
    assert message.channel_kind == "whatsapp" and message.meta["content_sid"] == SID
    assert message.meta["content_variables"] == {"1": "Minji"}
    assert queued == [message.id]


# --- the contact's own cadence --------------------------------------------------------


def test_a_contact_cadence_overrides_the_team_one(email_channel, agent):
    pure_cadence()
    customer_writes(email_channel, T0 - HOUR, "busy@example.com", name="Busy Park")
    contact = Contact.get()
    plan.set_cadence(contact, agent, "14 21")
    assert Contact.get().cadence == [14, 21]
    event = AuditEvent.get(AuditEvent.action == "contact_changed")
    assert (event.before, event.after, event.actor_id) == ({"cadence": None}, {"cadence": "14 21"}, agent.id)
    conv_id = we_reply(Conversation.get().id, agent, T0).conversation_id
    assert pending(conv_id) == [("cadence", 1, T0 + 14 * DAY)]
    assert automation.sweep_followups(now=T0 + 13 * DAY) == 0
    automation.sweep_followups(now=T0 + 14 * DAY)
    automation.sweep_followups(now=T0 + 21 * DAY)
    assert tasks(agent) == [("cadence", 1), ("cadence", 2)]
    assert Contact.get().dormant_since == T0 + 21 * DAY
    plan.set_cadence(Contact.get(), agent, "")
    assert Contact.get().cadence is None


def test_changing_the_cadence_retimes_the_running_one(lead, agent):
    pure_cadence()
    assert pending(lead) == [("cadence", 1, T0 + DAY)]
    plan.set_cadence(Contact.get(), agent, [2, 4])  # engaged: tighten
    assert pending(lead) == [("cadence", 1, T0 + 2 * DAY)]
    automation.sweep_followups(now=T0 + 2 * DAY)
    assert pending(lead) == [("cadence", 2, T0 + 4 * DAY)]
    plan.set_cadence(Contact.get(), agent, "14 21")  # busy: stretch
    assert pending(lead) == [("cadence", 2, T0 + 21 * DAY)]


@pytest.mark.parametrize(
    "value, reason",
    [
        ("0", "Each step is 1 to 90 days"),
        ("7 91", "Each step is 1 to 90 days"),
        ("1 2 3 4 5 6 7 8 9", "at most 8 steps"),
        ("7 3", "later than the one before"),
        ("3 3", "later than the one before"),
        ("soon", "whole numbers"),
        ("1.5", "whole numbers"),
        ("-1", "whole numbers"),
        ("١", "whole numbers"),  # an Arabic-Indic digit: isdigit() but not ours
        ("1 " * 100, "whole numbers"),
    ],
)
def test_bad_cadences_are_refused(value, reason):
    with pytest.raises(plan.CadenceError) as info:
        plan.parse_days(value)
    assert reason in str(info.value)


def test_cadence_text_is_forgiving_about_separators():
    assert plan.parse_days(" 1, 3 ,7;14 ") == [1, 3, 7, 14]
    assert plan.parse_days("   ") is None and plan.parse_days(None) is None


def test_the_contact_panel_saves_the_cadence_in_place(client, agent, email_channel):
    conv_id = start(email_channel, agent, reply_at=utcnow())
    contact = Contact.get()
    login(client, agent)
    page = client.get(f"/c/{conv_id}").get_data(as_text=True)
    assert 'id="contact-cadence"' in page and 'placeholder="1 3 7 14"' in page and "Next: follow-up 1" in page
    response = post(client, f"/contacts/{contact.id}/cadence", {"cadence": "14 21"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'value="14 21"' in html and "Next: follow-up 1" in html
    assert Contact.get().cadence == [14, 21]
    response = post(client, f"/contacts/{contact.id}/cadence", {"cadence": "0 5"}, htmx=True)
    assert response.status_code == 200 and "Each step is 1 to 90 days after our last message." in response.get_data(
        as_text=True
    )
    assert Contact.get().cadence == [14, 21]
    response = post(client, f"/contacts/{contact.id}/cadence", {"cadence": ""})
    assert response.status_code == 303 and Contact.get().cadence is None


# --- properties over random histories -------------------------------------------------

ZONES = [None, "Asia/Seoul", "America/New_York", "Europe/London", "Australia/Sydney", "America/St_Johns",
         "Pacific/Chatham", "Asia/Kathmandu"]  # fmt: skip
QUIET = [["21:00", "08:00"], ["22:30", "07:15"], ["00:00", "06:00"]]
EVENTS = ["sweep", "sweep", "sweep", "customer", "reply", "opt_out", "other_automation", "other_automation"]

contact_plans = st.fixed_dictionaries({
    "zone": st.sampled_from(ZONES),
    "kind": st.sampled_from(["email", "sms", "whatsapp"]),
    "cadence": st.none() | st.lists(st.integers(1, 9), min_size=1, max_size=4, unique=True).map(sorted),
    "start_minutes": st.integers(0, 3 * 24 * 60),
})  # fmt: skip
histories = st.fixed_dictionaries({
    "contacts": st.lists(contact_plans, min_size=1, max_size=3),
    "quiet": st.sampled_from(QUIET),
    "lateness": st.integers(0, 12 * 60),  # minutes between a step falling due and the sweep that fires it
    "events": st.lists(
        st.tuples(st.sampled_from(EVENTS), st.integers(0, 2), st.integers(10, 600) | st.integers(600, 3 * 24 * 60)),
        max_size=20,
    ),
})  # fmt: skip


def _world():
    """A fresh database per example: the autouse fixture empties it once per test only."""
    _truncate()
    agent = User.create(email="owner@example.com", name="Owner Kim", password_hash="-")
    channels = {"email": factories.make_channel("email"), "twilio": factories.make_channel("twilio")}
    for step in (1, 2, 3):
        canned.save(
            None, agent, name=f"Step {step}", shortcut=f"s{step}", body="Hi {{ contact.first_name }}", channels=""
        )
    canned.save(None, agent, name="Approved", shortcut="ok", body="Hi {{ contact.first_name }}", channels="",
                content_sid=SID, content_variables={"1": "{{ contact.first_name }}"})  # fmt: skip
    team.put("cadence_templates", {"1": "s1", "2": "ok", "3": "s2", "4": "s3", "5": "s1", "6": "ok"})
    team.put("reactivation_templates", {"1": "s1", "2": "ok"})
    team.put("cadence_auto_send", True)
    return agent, channels


UNFIRED = FollowUp.fired_at.is_null() & FollowUp.cancelled_at.is_null()


def _in_quiet(local: dt.datetime, quiet: list[str]) -> bool:
    start, end = (dt.time.fromisoformat(v) for v in quiet)
    t = local.time()
    return (start <= t < end) if start < end else (t >= start or t < end)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories)
def test_automatic_touches_keep_to_the_rules_whatever_happens(history, queued):
    agent, channels = _world()
    team.put("quiet_hours", history["quiet"])
    people = []  # (conversation id, channel kind, address, channel)
    for planned in history["contacts"]:
        kind = planned["kind"]
        n = next(_addresses)
        address = f"lead{n}@example.com" if kind == "email" else f"+8210{40000000 + n}"
        channel = channels["email" if kind == "email" else "twilio"]
        at = T0 + dt.timedelta(minutes=planned["start_minutes"])
        msg = customer_writes(channel, at, address, kind=kind, name=f"Lead {n}")
        Contact.update(timezone=planned["zone"], cadence=planned["cadence"]).where(
            Contact.id == Conversation.get_by_id(msg.conversation_id).contact_id
        ).execute()
        we_reply(msg.conversation_id, agent, at + HOUR, kind=kind)
        people.append((msg.conversation_id, kind, address, channel))
    now = T0 + dt.timedelta(minutes=max(p["start_minutes"] for p in history["contacts"])) + HOUR
    opted_out: dict[int, dt.datetime] = {}
    for event, who, minutes in history["events"]:
        now += dt.timedelta(minutes=minutes)
        conv_id, kind, address, channel = people[who % len(people)]
        if event == "sweep":
            automation.sweep_followups(now=now)
        elif event == "customer":
            customer_writes(channel, now, address, kind=kind, text="Thanks, thinking about it")
        elif event == "reply":
            try:
                we_reply(conv_id, agent, now, kind=kind)
            except outbound.SendError:
                pass  # opted out, or the WhatsApp window is closed: no free text by hand either
        elif event == "opt_out":
            contact = Contact.get_by_id(Conversation.get_by_id(conv_id).contact_id)
            if kind == "email":
                Contact.update(email_unsubscribed_at=now).where(Contact.id == contact.id).execute()
            else:
                consent.set_opted_out(contact, kind, True, reason="Twilio error 21610")
            opted_out.setdefault(conv_id, now)
        elif event == "other_automation" and conv_id not in opted_out:
            # another automation writes shortly before the contact's next step falls due
            due = FollowUp.select(fn.MIN(FollowUp.due_at)).where(UNFIRED & (FollowUp.conversation == conv_id)).scalar()
            if due is not None and due - dt.timedelta(minutes=minutes % 600) > now:
                now = due - dt.timedelta(minutes=minutes % 600)
            outbound.send(Conversation.get_by_id(conv_id), kind="email" if kind == "email" else "sms",
                          text="Our newsletter", author=None, automatic=True, at=now)  # fmt: skip
    for _ in range(60):  # run the clock on until nothing is left, each sweep a little late
        due = FollowUp.select(fn.MIN(FollowUp.due_at)).where(UNFIRED).scalar()
        if due is None:
            break
        now = max(now, due) + dt.timedelta(minutes=history["lateness"])
        automation.sweep_followups(now=now)

    for conv_id, kind, _address, _channel in people:
        contact = Contact.get_by_id(Conversation.get_by_id(conv_id).contact_id)
        zone = ZoneInfo(contact.timezone or "Asia/Seoul")
        touches = automatic(conv_id)
        days_seen: set[dt.date] = set()
        for m in touches:
            local = m.sent_at.replace(tzinfo=dt.UTC).astimezone(zone)
            by_cadence = "sequence" in m.meta
            if by_cadence:
                assert local.date() not in days_seen, f"two automatic touches on {local.date()}"
                assert not _in_quiet(local, history["quiet"]), f"sent at {local} in quiet hours"
                assert conv_id not in opted_out or m.sent_at < opted_out[conv_id], "sent after the opt-out"
                if kind == "whatsapp" and not m.meta.get("content_sid"):
                    last_in = (
                        Message.select(fn.MAX(Message.sent_at))
                        .where(
                            (Message.conversation == conv_id)
                            & (Message.direction == "in")
                            & (Message.channel_kind == "whatsapp")
                            & (Message.sent_at <= m.sent_at)
                        )
                        .scalar()
                    )
                    assert last_in is not None and m.sent_at - last_in < consent.WINDOW, "free text outside the window"
            days_seen.add(local.date())
