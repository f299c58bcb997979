"""Huey tasks. Each one is a thin wrapper: it opens a database connection and calls a
function in ``inbox/``, where the logic and its tests live.

The consumer imports this module (``inbox worker`` / ``inbox serve``), so every task must
be defined or imported here.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from huey import crontab
from huey.exceptions import TaskLockedException

from inbox import automation, conversations, intake, messaging, outbound, polling, settings, sla, users
from inbox.channels import TransientChannelError
from inbox.db import db, init_db
from inbox.queue import huey

log = logging.getLogger("inbox.tasks")

if db.obj is None:
    init_db(settings.database_url())


def with_db(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with db.connection_context():
            return fn(*args, **kwargs)

    return wrapper


@huey.task(retries=5, retry_delay=10, retry_backoff=2)
@with_db
def deliver(message_id: int) -> str:
    try:
        return outbound.deliver(message_id)
    except TransientChannelError:
        log.warning("message %s: transient channel error, will retry", message_id)
        raise


outbound.set_delivery(deliver)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("requeue-stuck")
@with_db
def requeue_stuck() -> int:
    """Deliver messages left ``queued`` by a crash between storing and enqueueing."""
    ids = outbound.stuck_queued()
    for message_id in ids:
        deliver(message_id)
    return len(ids)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("wake-snoozed")
@with_db
def wake_snoozed() -> int:
    return conversations.wake_due()


@huey.periodic_task(crontab(minute="*"))
@with_db
def sweep_timers() -> dict:
    """Fire due reminders and follow-ups, notify SLA breaches. Each item is claimed by a
    conditional update, so overlapping sweeps (several consumers) fire it once."""
    return {"reminders": automation.sweep_followups(), **sla.sweep()}


@huey.periodic_task(crontab(minute="*/15"))
@with_db
def prune_login_attempts() -> int:
    return users.prune_login_attempts()


@huey.periodic_task(crontab(minute="7", hour="*"))
@with_db
def prune_intake() -> int:
    return intake.prune()


@huey.periodic_task(crontab(minute="*"))
@with_db
def poll_channels() -> int:
    """Fan out: one poll task per mailbox that is due (interval and back-off respected)."""
    from inbox.models import Channel

    started = 0
    for channel in Channel.select().where(Channel.enabled & Channel.kind.in_(["email", "twilio"])):
        if polling.due(channel):
            (poll_email_channel if channel.kind == "email" else poll_twilio_channel)(channel.id)
            started += 1
    return started


@huey.task()
@with_db
def poll_email_channel(channel_id: int) -> str:
    # One poller per mailbox at a time; a second request while one runs is dropped, as
    # the running poll will see the same new mail.
    try:
        with huey.lock_task(f"poll-email-{channel_id}"):
            result = polling.poll_email(channel_id)
    except TaskLockedException:
        return "already polling"
    return result.error or f"stored {result.stored}"


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("notification-emails")
@with_db
def send_notification_emails() -> dict:
    """Email copies of notifications (for users who asked), daily summaries and the
    managers' weekly report."""
    from inbox import digest
    from inbox.stats import weekly

    base = settings.get("base_url")
    return {
        "notifications": digest.email_notifications(base_url=base),
        "summaries": digest.daily_summaries(base_url=base),
        "weekly": weekly.send_due(base_url=base),
    }


@huey.task()
@with_db
def process_intake(intake_id: int) -> str:
    """Store what an accepted webhook carries (its retries are ``retry_intake``'s)."""
    return intake.process(intake_id, messaging.INTAKE)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("retry-intake")
@with_db
def retry_intake() -> int:
    """Webhooks kept but not stored: a process killed mid-way, or an attempt that failed."""
    return intake.retry_due(messaging.INTAKE)


@huey.task()
@with_db
def intake_at_start(started_at: str) -> int:
    """Queued once when a consumer starts: webhooks a killed process kept but never stored
    are stored now rather than a minute later."""
    return intake.retry_due(messaging.INTAKE, received_before=dt.datetime.fromisoformat(started_at))


@huey.task()
@with_db
def poll_twilio_channel(channel_id: int) -> str:
    try:
        with huey.lock_task(f"poll-twilio-{channel_id}"):
            result = messaging.poll(channel_id)
    except TaskLockedException:
        return "already polling"
    return result.error or f"stored {result.stored}"


@huey.task()
def ping() -> str:
    return "pong"
