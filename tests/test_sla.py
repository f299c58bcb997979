"""SLA targets, business hours (weekends, holidays, time zones) and the breach sweep."""

import datetime as dt

import pytest

from inbox import conversations, notifications, outbound, sla, team
from inbox.models import Conversation, Notification

from .factories import make_user, receive

WEEKDAYS = {str(d): [["09:00", "18:00"]] for d in range(5)} | {"5": [], "6": []}


def utc(text):  # naive UTC from ISO text
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def seoul():
    # 2026-11-27 is a Friday; 2026-11-30 Monday; 2026-12-01 declared a holiday.
    return sla.Calendar.from_settings(WEEKDAYS, ["2026-12-01"], "Asia/Seoul")


@pytest.mark.parametrize(
    "start, end, hours",
    [
        # Seoul is UTC+9: 09:00-18:00 KST is 00:00-09:00 UTC.
        ("2026-11-27T01:00", "2026-11-27T03:00", 2),  # inside Friday hours
        ("2026-11-26T20:00", "2026-11-27T01:00", 1),  # overnight: only Friday 09:00-10:00 KST counts
        ("2026-11-27T08:00", "2026-11-30T01:00", 2),  # Friday 17:00 KST -> Monday 10:00 KST across a weekend
        ("2026-11-30T08:00", "2026-12-02T01:00", 2),  # Monday 17:00 -> Wednesday 10:00, Tuesday a holiday
        ("2026-11-28T01:00", "2026-11-29T05:00", 0),  # all weekend
        ("2026-11-27T03:00", "2026-11-27T01:00", 0),  # end before start
    ],
)
def test_business_time_between_two_moments(seoul, start, end, hours):
    assert seoul.business_seconds(utc(start), utc(end)) == hours * 3600


def test_business_deadline_skips_the_weekend_and_holiday(seoul):
    # One business hour after Friday 17:30 KST is Monday 09:30 KST (= 00:30 UTC); if Monday
    # were the holiday it would be Tuesday.
    assert seoul.add_business_seconds(utc("2026-11-27T08:30"), 3600) == utc("2026-11-30T00:30")
    assert seoul.add_business_seconds(utc("2026-11-30T08:30"), 3600) == utc("2026-12-02T00:30")


def test_time_zone_matters(seoul):
    new_york = sla.Calendar.from_settings(WEEKDAYS, [], "America/New_York")
    moment = utc("2026-11-27T15:00")  # 10:00 in New York, midnight in Seoul
    assert new_york.business_seconds(moment, moment + dt.timedelta(hours=1)) == 3600
    assert seoul.business_seconds(moment, moment + dt.timedelta(hours=1)) == 0


@pytest.mark.parametrize(
    "lead_status, channel, minutes",
    [("new", "email", 60), ("new", "whatsapp", 15), ("contacted", "whatsapp", 120), ("won", "email", 1440)],
)
def test_first_matching_rule_sets_the_target(lead_status, channel, minutes):
    team.put("sla_rules", [
        {"lead_status": "new", "channel": "whatsapp", "minutes": 15},
        {"lead_status": "new", "channel": None, "minutes": 60},
        {"lead_status": None, "channel": "whatsapp", "minutes": 120},
    ])  # fmt: skip
    assert sla.Policy.load().target_seconds(lead_status, channel) == minutes * 60


def test_states_on_track_due_soon_breached():
    policy = sla.Policy.load()
    now = utc("2026-11-27T12:00")
    assert policy.state(now - dt.timedelta(minutes=30), "new", "email", now) == "on_track"
    assert policy.state(now - dt.timedelta(minutes=50), "new", "email", now) == "due_soon"
    assert policy.state(now - dt.timedelta(minutes=61), "new", "email", now) == "breached"
    assert policy.state(None, "new", "email", now) == ""


def test_breach_is_notified_once_to_the_assignee_then_escalated_at_twice_the_target(email_channel, agent):
    manager = make_user("manager")
    receive(email_channel, address="lead@example.com", minutes_ago=90)  # a new lead, target 1 h
    conv = Conversation.get()
    conversations.assign(conv, manager, agent)
    assert sla.sweep() == {"breached": 1, "escalated": 0}
    assert sla.sweep() == {"breached": 0, "escalated": 0}  # once
    assert [n.kind for n in notifications.recent(agent)] == ["sla_breached", "assigned"]
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=31)
    assert sla.sweep(now=later) == {"breached": 0, "escalated": 1}
    assert [n.kind for n in notifications.recent(manager)] == ["sla_escalated"]


def test_unassigned_breach_goes_to_managers_and_a_reply_resets_the_marks(email_channel, agent):
    manager = make_user("manager")
    receive(email_channel, address="lead@example.com", minutes_ago=90)
    sla.sweep()
    assert Notification.select().where(Notification.user == manager).count() == 1
    outbound.send(Conversation.get(), kind="email", text="Sorry for the wait", author=agent)
    conv = Conversation.get()
    assert conv.waiting_since is None and conv.breach_notified_at is None


def test_notes_and_automatic_messages_do_not_stop_the_clock(email_channel, agent):
    receive(email_channel, address="lead@example.com", minutes_ago=90)
    conv = Conversation.get()
    conversations.add_note(conv, agent, "calling them later")
    outbound.send(conv, kind="email", text="Thanks, we got your message", author=None, automatic=True)
    assert sla.sweep()["breached"] == 1


def test_business_time_policy_delays_the_breach(email_channel):
    team.put("sla_business_time", True)
    team.put("business_hours", {str(d): [] for d in range(7)})  # closed all week
    receive(email_channel, address="lead@example.com", minutes_ago=600)
    assert sla.sweep()["breached"] == 0


def test_long_waits_under_a_long_target_do_not_hide_a_fresh_breach(email_channel):
    from inbox import contacts

    # Older conversations of customers with a 24 h target, waiting 2-5 h: not breached.
    for i in range(5):
        receive(email_channel, address=f"old{i}@example.com", minutes_ago=300 - i * 30)
        contacts.update(Conversation.get(Conversation.id == i + 1).contact, make_user("agent"), lead_status="contacted")
    # A new lead waiting 70 min under its 1 h target: breached.
    receive(email_channel, address="fresh@example.com", minutes_ago=70)
    assert sla.sweep(limit=2)["breached"] == 1
