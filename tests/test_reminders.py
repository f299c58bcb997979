"""Reminders fire on time, exactly once, even with several consumers sweeping."""

import datetime as dt
import threading

import pytest

from inbox import automation, notifications, reminders
from inbox.db import db, utcnow
from inbox.models import Channel, Conversation, FollowUp, Notification

from .factories import receive


@pytest.fixture
def conv(email_channel):
    # A mailbox whose new contacts are not leads: the only follow-ups are the tests' own.
    Channel.update(settings={"leads": False}).where(Channel.id == email_channel.id).execute()
    receive(email_channel, address="a@example.com")
    assert not FollowUp.select().exists()
    return Conversation.get()


def test_a_reminder_fires_when_due_and_notifies_its_owner(conv, agent):
    r = reminders.remind(conv, agent, utcnow() + dt.timedelta(minutes=30), note="call back about the quote")
    assert automation.sweep_followups() == 0
    assert automation.sweep_followups(now=utcnow() + dt.timedelta(minutes=31)) == 1
    (n,) = notifications.recent(agent)
    assert (n.kind, n.params["note"], n.conversation_id) == ("reminder", "call back about the quote", conv.id)
    assert FollowUp.get_by_id(r.id).fired_at is not None


def test_cancelled_reminders_never_fire(conv, agent):
    r = reminders.remind(conv, agent, utcnow() + dt.timedelta(minutes=5))
    reminders.cancel(r)
    assert automation.sweep_followups(now=utcnow() + dt.timedelta(hours=1)) == 0


def test_reminders_in_the_past_are_refused(conv, agent):
    with pytest.raises(reminders.ReminderError):
        reminders.remind(conv, agent, utcnow() - dt.timedelta(minutes=1))


def test_several_consumers_sweeping_at_once_fire_each_reminder_once(conv, agent):
    for i in range(60):
        reminders.schedule(conv, utcnow() - dt.timedelta(seconds=i), owner=agent, note=f"r{i}")
    results = []

    def consumer():
        with db.connection_context():
            results.append(automation.sweep_followups())

    threads = [threading.Thread(target=consumer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 60
    assert Notification.select().count() == 60
    assert FollowUp.select().where(FollowUp.fired_at.is_null()).count() == 0


def test_the_sweep_does_not_read_reminders_that_are_not_due(conv, agent):
    """The query plan uses the (fired_at, due_at) index, not a scan."""
    from inbox.db import is_sqlite

    if not is_sqlite():
        pytest.skip("SQLite query plan")
    for i in range(50):
        reminders.schedule(conv, utcnow() + dt.timedelta(days=i + 1), owner=agent)
    query = FollowUp.select(FollowUp.id).where(
        FollowUp.fired_at.is_null() & (FollowUp.due_at <= utcnow()) & FollowUp.cancelled_at.is_null()
    )
    sql, params = query.sql()
    plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "fired_at" in plan and "SCAN" not in plan.replace("SCAN CONSTANT", "")
