"""The real task queue (Huey on SQLite, or Redis in the scale-out run) delivers a reply
shortly after the click, and the periodic jobs do their work."""

import datetime as dt
import threading
import time

import pytest
from huey.consumer import Consumer

import tasks
from inbox import conversations, outbound
from inbox.db import utcnow
from inbox.models import AuditEvent, Conversation, Message

from .factories import receive


@pytest.fixture
def consumer():
    """A consumer with the settings `inbox serve` uses, in this process."""
    tasks.huey.immediate = False
    tasks.huey.flush()
    c = Consumer(tasks.huey, workers=2, worker_type="thread", max_delay=0.5, periodic=False)
    c.start()
    yield c
    c.stop(graceful=True)
    tasks.huey.flush()


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_reply_reaches_the_channel_adapter_within_two_seconds(email_channel, agent, consumer):
    receive(email_channel, address="a@example.com")
    conv = Conversation.get()
    time.sleep(1.5)  # let the consumer go idle so its polling back-off is at its maximum
    message = outbound.send(conv, kind="email", text="Hello", author=agent)
    started = time.monotonic()
    tasks.deliver(message.id)
    assert _wait_for(lambda: Message.get_by_id(message.id).status not in ("queued", "sending"))
    elapsed = time.monotonic() - started
    # No adapter is configured here, so the adapter step ends in a visible failure.
    assert Message.get_by_id(message.id).status == "failed"
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_snoozed_conversations_wake_when_their_time_comes(email_channel, agent):
    receive(email_channel, address="a@example.com")
    conv = Conversation.get()
    conversations.snooze(conv, agent, utcnow() + dt.timedelta(minutes=5))
    assert tasks.wake_snoozed.call_local() == 0
    Conversation.update(snoozed_until=utcnow() - dt.timedelta(seconds=1)).execute()
    assert tasks.wake_snoozed.call_local() == 1
    conv = Conversation.get()
    assert conv.state == "open" and conv.woke_at is not None
    assert AuditEvent.select().where(AuditEvent.action == "snooze_ended").count() == 1
    assert tasks.wake_snoozed.call_local() == 0  # exactly once


def test_messages_left_queued_by_a_crash_are_delivered_by_the_periodic_job(email_channel, agent):
    receive(email_channel, address="a@example.com")
    message = outbound.send(Conversation.get(), kind="email", text="Hello", author=agent)
    # Simulate a crash between storing and enqueueing: nobody called tasks.deliver().
    Message.update(updated_at=utcnow() - dt.timedelta(minutes=5)).where(Message.id == message.id).execute()
    assert tasks.requeue_stuck.call_local() == 1
    assert Message.get_by_id(message.id).status == "failed"  # handed to the (absent) adapter


def test_two_consumers_do_not_deliver_the_same_message_twice(email_channel, agent):
    receive(email_channel, address="a@example.com")
    message = outbound.send(Conversation.get(), kind="email", text="Hello", author=agent)
    results = []

    def run():
        from inbox.db import db

        with db.connection_context():
            results.append(outbound.deliver(message.id))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count("skipped") == 3
