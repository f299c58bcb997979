"""Notifications by email and the daily summary, through the team mailbox's real SMTP."""

import datetime as dt
import email
import email.policy
from zoneinfo import ZoneInfo

import pytest

from inbox import channel_config, digest, notifications, users
from inbox.db import utcnow

from .factories import make_user, receive
from .test_email_channel import smtp  # noqa: F401  (the real SMTP server fixture)


@pytest.fixture
def mailbox_channel(smtp):  # noqa: F811
    smtp.messages.clear()
    smtp.refuse_code = None
    return channel_config.add_email_channel(
        "Team mailbox",
        {
            "imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "none", "imap_username": "u",
            "imap_password": "p", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
            "smtp_username": "smtp-user", "smtp_password": "smtp-pass", "from_address": "team@example.com",
            "from_name": "Sales Team",
        },
    )  # fmt: skip


def sent(smtp):  # noqa: F811
    return [email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in smtp.messages]


def test_notifications_are_emailed_once_to_users_who_asked(smtp, mailbox_channel, email_channel):  # noqa: F811
    wants = make_user("agent", "Wants Mail", "wants@example.com", locale="en")
    quiet = make_user("agent", "No Mail", "quiet@example.com", locale="en")
    users.set_email_preferences(wants, notify_by_email=True, summary_hour=None)
    receive(email_channel, address="lead@example.com")
    for user in (wants, quiet):
        notifications.notify(user, "sla_breached", None, name="Grace Lee")
    assert digest.email_notifications(base_url="https://inbox.example.com") == 1
    assert digest.email_notifications() == 0  # once
    (mail,) = sent(smtp)
    assert mail["To"] == "wants@example.com"
    assert mail["Subject"] == "Grace Lee has waited longer than the target"
    assert mail["Auto-Submitted"] == "auto-generated"


def test_daily_summary_is_sent_once_at_the_chosen_local_hour_in_the_users_language(
    smtp,  # noqa: F811
    mailbox_channel,
    email_channel,
):
    receive(email_channel, address="lead@example.com", minutes_ago=5)
    manager = make_user("manager", "김민지", "minji@example.com", locale="ko", timezone="Asia/Seoul")
    now = utcnow()
    local_hour = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Asia/Seoul")).hour
    users.set_email_preferences(manager, notify_by_email=False, summary_hour=(local_hour + 1) % 24)
    assert digest.daily_summaries(now=now) == 0  # not the hour yet
    users.set_email_preferences(manager, notify_by_email=False, summary_hour=local_hour)
    assert digest.daily_summaries(now=now) == 1
    assert digest.daily_summaries(now=now) == 0  # once a day
    (mail,) = sent(smtp)
    body = mail.get_content()
    assert mail["To"] == "minji@example.com"
    assert "현재 답장 대기: 1건" in body  # the lead waiting, in the manager's language
    assert "미배정 대기: 1건" in body


def test_no_team_mailbox_means_no_email_and_no_error(email_channel):
    user = make_user("agent")
    users.set_email_preferences(user, notify_by_email=True, summary_hour=None)
    notifications.notify(user, "reminder", None, note="x")
    assert digest.email_notifications() == 0
