"""Right-now figures on a hand-built inbox at a chosen moment (Tuesday 2026-03-03 10:00 in
Seoul): who is waiting and since when, breached targets, unassigned work, follow-ups due
today and overdue, new leads nobody answered, and the same per agent."""

from __future__ import annotations

import pytest

from inbox import conversations, reminders, team
from inbox.models import Contact, Conversation, Identity
from inbox.stats import now as right_now

from .factories import make_channel, make_user
from .stats_data import conversation_of, customer_writes, describe, fails, local, we_send
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes

NOW = local("2026-03-03", "10:00")  # Tuesday in Seoul; 01:00 UTC


@pytest.fixture
def inbox():
    kim = make_user("agent", "Agent Kim")
    lee = make_user("agent", "Agent Lee")
    boss = make_user("manager", "Manager Park")
    mail = make_channel("email")
    phone = make_channel("twilio")

    # c1: a new lead since 08:30, unassigned. An automatic acknowledgement and a note do
    # not answer it: 90 min against the 1 h target, breached.
    c1 = customer_writes(mail, local("2026-03-03", "08:30"), "c1@example.com")
    we_send(c1.conversation_id, None, local("2026-03-03", "08:31"), automatic=True)
    conversations.add_note(conversation_of(c1), boss, "who takes this?")
    # c2: a customer ("contacted", 24 h) waiting since Monday 15:00 for Kim: 19 h, on track.
    c2 = customer_writes(mail, local("2026-03-02", "15:00"), "c2@example.com")
    describe(c2, boss, lead_status="contacted")
    conversations.assign(conversation_of(c2), boss, kim)
    # c3: an interested customer waiting by SMS since Sunday 09:00 for Lee: 49 h, breached.
    c3 = customer_writes(phone, local("2026-03-01", "09:00"), "+821066660003", kind="sms")
    describe(c3, boss, lead_status="interested")
    conversations.assign(conversation_of(c3), boss, lee)
    # c4: Kim answered Monday 09:20; the first cadence touch is due Tuesday 09:20 (overdue).
    c4 = customer_writes(mail, local("2026-03-02", "09:00"), "c4@example.com")
    conversations.assign(conversation_of(c4), boss, kim)
    we_send(c4.conversation_id, kim, local("2026-03-02", "09:20"))
    # c5: Lee answered Monday 15:00; its cadence touch is due today at 15:00.
    c5 = customer_writes(mail, local("2026-03-02", "14:00"), "c5@example.com")
    conversations.assign(conversation_of(c5), boss, lee)
    we_send(c5.conversation_id, lee, local("2026-03-02", "15:00"))
    # c8: a new lead since 08:50; Kim's reply at 09:10 failed, so it still waits (70 min,
    # breached) and still has no first response.
    c8 = customer_writes(mail, local("2026-03-03", "08:50"), "c8@example.com")
    conversations.assign(conversation_of(c8), boss, kim)
    fails(we_send(c8.conversation_id, kim, local("2026-03-03", "09:10")))
    # c9: Kim answered Monday 11:00; the customer's out-of-office at 11:01 makes nobody
    # wait. Its cadence touch is due today 11:00.
    c9 = customer_writes(mail, local("2026-03-02", "10:30"), "c9@example.com")
    conversations.assign(conversation_of(c9), boss, kim)
    we_send(c9.conversation_id, kim, local("2026-03-02", "11:00"))
    customer_writes(mail, local("2026-03-02", "11:01"), "c9@example.com", auto_reply=True)
    # c6: closed without a reply, unassigned: in nobody's queue.
    c6 = customer_writes(mail, local("2026-03-02", "16:00"), "c6@example.com")
    conversations.close(conversation_of(c6), boss)

    # Manual reminders on c2 for Kim: overdue (Monday 12:00), due tonight 23:30, due
    # tomorrow 00:30 (still Tuesday in UTC), and an overdue one already done.
    conv2 = conversation_of(c2)
    reminders.schedule(conv2, local("2026-03-02", "12:00"), owner=kim)
    reminders.schedule(conv2, local("2026-03-03", "23:30"), owner=kim)
    reminders.schedule(conv2, local("2026-03-04", "00:30"), owner=kim)
    reminders.complete(reminders.schedule(conv2, local("2026-03-02", "13:00"), owner=kim))
    return {"kim": kim, "lee": lee, "boss": boss}


def test_right_now(inbox):
    snap = right_now.snapshot(now=NOW)
    assert snap.at == NOW
    assert snap.waiting == 4  # c1, c2, c3, c8
    assert snap.oldest_wait == local("2026-03-01", "09:00")  # c3
    assert snap.breached == 3  # c1 (90 min > 1 h), c3 (49 h > 24 h), c8 (70 min > 1 h)
    assert snap.unassigned == 1  # c1 (c6 is closed)
    assert snap.unassigned_waiting == 1
    assert snap.new_leads_unanswered == 2  # c1, c8
    # Overdue: c4's cadence touch (09:20) and the Monday 12:00 reminder. Due later today
    # (before midnight in Seoul): c9's (11:00) and c5's (15:00) touches and the 23:30 reminder.
    assert snap.followups_overdue == 2
    assert snap.followups_due_today == 3


def test_right_now_per_agent(inbox):
    users = inbox
    snap = right_now.snapshot(now=NOW)
    loads = {a.name: (a.user_id, a.open, a.waiting, a.breached, a.oldest_wait) for a in snap.agents}
    assert loads == {
        # Kim: c2, c4, c8, c9 open; c2 and c8 waiting; c8 breached; c2 waits longest.
        "Agent Kim": (users["kim"].id, 4, 2, 1, local("2026-03-02", "15:00")),
        # Lee: c3 and c5 open; c3 waiting and breached.
        "Agent Lee": (users["lee"].id, 2, 1, 1, local("2026-03-01", "09:00")),
        "Manager Park": (users["boss"].id, 0, 0, 0, None),
    }


def test_a_reply_clears_the_wait_and_the_breach(inbox):
    kim = inbox["kim"]
    # Kim answers c1 at 09:55.
    contact = Contact.get_by_id(Identity.get(Identity.value == "c1@example.com").contact_id)
    conv = Conversation.get(Conversation.contact == contact)
    we_send(conv.id, kim, local("2026-03-03", "09:55"))
    snap = right_now.snapshot(now=NOW)
    assert (snap.waiting, snap.breached, snap.new_leads_unanswered) == (3, 2, 1)


def test_business_hours_hold_the_breach_over_the_weekend():
    team.put("sla_business_time", True)
    mail = make_channel("email")
    # A new lead's mail on Friday 17:30 (1 h target): by Monday 09:15 only 30 + 15 business
    # minutes have passed (63 h 45 min wall clock); by Monday 09:45, 75 minutes.
    customer_writes(mail, local("2026-03-06", "17:30"), "w@example.com")
    assert right_now.snapshot(now=local("2026-03-09", "09:15")).breached == 0
    assert right_now.snapshot(now=local("2026-03-09", "09:45")).breached == 1
    # With a holiday on Monday, Monday 09:45 still counts only Friday's 30 minutes.
    team.put("holidays", ["2026-03-09"])
    assert right_now.snapshot(now=local("2026-03-09", "09:45")).breached == 0
    # Without business time the wall clock counts: breached long before.
    team.put("sla_business_time", False)
    assert right_now.snapshot(now=local("2026-03-06", "18:31")).breached == 1
    assert right_now.snapshot(now=local("2026-03-06", "18:29")).breached == 0


def test_due_today_ends_at_midnight_in_the_team_time_zone(inbox):
    # In New York, 10:00 Tuesday in Seoul is 20:00 Monday: "today" is Monday there and
    # ends at midnight EST = 05:00 UTC = 14:00 Tuesday in Seoul. Of the touches and
    # reminders still to come, only c9's 11:00 (Seoul) touch falls before that.
    team.put("timezone", "America/New_York")
    snap = right_now.snapshot(now=NOW)
    assert snap.followups_due_today == 1
    assert snap.followups_overdue == 2
