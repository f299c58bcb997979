"""Email, WhatsApp and SMS side by side on a hand-built week with known answers: volume,
our response time, the customer's reply rate and time, conversion, the before/after
split, and the weekday x hour heatmap in the team's time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from inbox import leads
from inbox.stats import channels

from .factories import make_channel
from .stats_data import (
    DAY,
    HOUR,
    MINUTE,
    NEW_YORK,
    as_tuple,
    customer_writes,
    describe,
    fails,
    local,
    period,
    seconds,
    summary,
    team_and_channels,
    we_send,
)
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes

WEEK = ("2026-03-02", "2026-03-08")


def at(day: str, time: str):
    return local(day, time)


@pytest.fixture
def week():
    kim, lee, boss, mail, phone = team_and_channels()

    # E1 (email): Monday 09:00, Kim 09:30, the customer writes back 11:30; won.
    m = customer_writes(mail, at("2026-03-02", "09:00"), "e1@example.com")
    we_send(m.conversation_id, kim, at("2026-03-02", "09:30"))
    customer_writes(mail, at("2026-03-02", "11:30"), "e1@example.com")
    describe(m, boss, lead_status="won")
    # E2 (email): Tuesday 10:00 with an automatic acknowledgement at once, Lee at 12:00,
    # an out-of-office at 12:01, and the real answer on Saturday 11:00; lost.
    m = customer_writes(mail, at("2026-03-03", "10:00"), "e2@example.com")
    we_send(m.conversation_id, None, at("2026-03-03", "10:00"), automatic=True)
    we_send(m.conversation_id, lee, at("2026-03-03", "12:00"))
    customer_writes(mail, at("2026-03-03", "12:01"), "e2@example.com", auto_reply=True)
    customer_writes(mail, at("2026-03-07", "11:00"), "e2@example.com")
    describe(m, boss, lead_status="lost")
    # W1 (WhatsApp): Wednesday 14:00, Kim 14:10, the customer 14:40, Kim 14:50; won.
    m = customer_writes(phone, at("2026-03-04", "14:00"), "+821044440001", kind="whatsapp")
    we_send(m.conversation_id, kim, at("2026-03-04", "14:10"), "whatsapp")
    customer_writes(phone, at("2026-03-04", "14:40"), "+821044440001", kind="whatsapp")
    we_send(m.conversation_id, kim, at("2026-03-04", "14:50"), "whatsapp")
    describe(m, boss, lead_status="won")
    # W2 (WhatsApp): Thursday 09:00, Lee 09:05, no answer.
    m = customer_writes(phone, at("2026-03-05", "09:00"), "+821044440002", kind="whatsapp")
    we_send(m.conversation_id, lee, at("2026-03-05", "09:05"), "whatsapp")
    # S1 (SMS): Thursday 10:00, Kim 11:00; the customer answers on WhatsApp at 11:30, which
    # is not an SMS reply.
    m = customer_writes(phone, at("2026-03-05", "10:00"), "+821044440003", kind="sms")
    we_send(m.conversation_id, kim, at("2026-03-05", "11:00"), "sms")
    customer_writes(phone, at("2026-03-05", "11:30"), "+821044440003", kind="whatsapp")
    # S2 (SMS): Friday 10:00; Kim's reply at 10:10 fails to send, Lee's at 10:40 goes.
    m = customer_writes(phone, at("2026-03-06", "10:00"), "+821044440004", kind="sms")
    fails(we_send(m.conversation_id, kim, at("2026-03-06", "10:10"), "sms"))
    we_send(m.conversation_id, lee, at("2026-03-06", "10:40"), "sms")
    # A lead-form submission (stored as an email on the internal lead-form channel) on
    # Friday 09:00: not an email from the customer.
    source, _ = leads.add_source("Website")
    form = leads.parse({"email": "form@example.com", "message": "Price?"}, "Website")
    leads.capture(source, form, now=at("2026-03-06", "09:00"))
    return {"kim": kim, "lee": lee}


def expected_rows(split: str | None = None, half: str | None = None) -> dict[str, dict]:
    """The rows the definitions give for the week's data; for a half of a split, only
    what happened in it (replies to our messages count whenever they came)."""
    rows = {
        "email": {
            "inbound": [at("2026-03-02", "09:00"), at("2026-03-02", "11:30"), at("2026-03-03", "10:00"),
                        at("2026-03-07", "11:00")],
            "replies": [(at("2026-03-02", "09:00"), at("2026-03-02", "09:30")),
                        (at("2026-03-03", "10:00"), at("2026-03-03", "12:00"))],
            "automatic": [at("2026-03-03", "10:00")],
            # (our first message on the channel, the customer's first message after it, won)
            "wrote": [(at("2026-03-02", "09:30"), at("2026-03-02", "11:30"), True),
                      (at("2026-03-03", "10:00"), at("2026-03-07", "11:00"), False)],
        },
        "sms": {
            "inbound": [at("2026-03-05", "10:00"), at("2026-03-06", "10:00")],
            "replies": [(at("2026-03-05", "10:00"), at("2026-03-05", "11:00")),
                        (at("2026-03-06", "10:00"), at("2026-03-06", "10:40"))],
            "automatic": [],
            "wrote": [(at("2026-03-05", "11:00"), None, False), (at("2026-03-06", "10:40"), None, False)],
        },
        "whatsapp": {
            "inbound": [at("2026-03-04", "14:00"), at("2026-03-04", "14:40"), at("2026-03-05", "09:00"),
                        at("2026-03-05", "11:30")],
            "replies": [(at("2026-03-04", "14:00"), at("2026-03-04", "14:10")),
                        (at("2026-03-04", "14:40"), at("2026-03-04", "14:50")),
                        (at("2026-03-05", "09:00"), at("2026-03-05", "09:05"))],
            "automatic": [],
            "wrote": [(at("2026-03-04", "14:10"), at("2026-03-04", "14:40"), True),
                      (at("2026-03-05", "09:05"), None, False)],
        },
    }  # fmt: skip
    if split:
        boundary = local(split, "00:00")

        def keep(moment):
            return moment < boundary if half == "before" else moment >= boundary
    else:

        def keep(moment):
            return True

    out = {}
    for kind, data in rows.items():
        replies = [(a, b) for a, b in data["replies"] if keep(b)]
        wrote = [(a, b, won) for a, b, won in data["wrote"] if keep(a)]
        answered = [(a, b) for a, b, _ in wrote if b is not None]
        out[kind] = {
            "channel": kind,
            "inbound": sum(keep(m) for m in data["inbound"]),
            "replies": len(replies),
            "automatic": sum(keep(m) for m in data["automatic"]),
            "response": summary([seconds(a, b) for a, b in replies]),
            "wrote_to": len(wrote),
            "replied": len(answered),
            "replied_3d": sum(seconds(a, b) <= 3 * DAY for a, b in answered),
            "reply_time": summary([seconds(a, b) for a, b in answered]),
            "won": sum(won for *_, won in wrote),
        }
    return out


def as_dict(row: channels.ChannelRow) -> dict:
    values = dataclasses.asdict(row)
    values["response"], values["reply_time"] = as_tuple(row.response), as_tuple(row.reply_time)
    return values


def test_the_hand_built_values_are_what_the_test_says():
    rows = expected_rows()
    assert rows["email"]["response"] == (2, 75 * MINUTE, 2 * HOUR, 75 * MINUTE)
    assert rows["email"]["reply_time"] == (
        2,
        (2 * HOUR + 4 * DAY + HOUR) / 2,
        4 * DAY + HOUR,
        (2 * HOUR + 4 * DAY + HOUR) / 2,
    )
    assert (rows["whatsapp"]["replied"], rows["whatsapp"]["reply_time"][1]) == (1, 30 * MINUTE)


def test_channel_comparison(week):
    report = channels.report(period(*WEEK))
    assert report.before is None and report.after is None
    assert [r.channel for r in report.rows] == ["email", "sms", "whatsapp"]
    assert {r.channel: as_dict(r) for r in report.rows} == expected_rows()


def test_channel_comparison_except_reply_volume(week):
    report = channels.report(period(*WEEK))
    expected = expected_rows()
    for row in report.rows:
        got, want = as_dict(row), expected[row.channel]
        if row.channel == "sms":
            got.pop("replies"), want.pop("replies")
        assert got == want, row.channel


def test_rates(week):
    rows = {r.channel: r for r in channels.report(period(*WEEK)).rows}
    assert (rows["email"].reply_rate, rows["email"].reply_rate_3d, rows["email"].conversion_rate) == (100.0, 50.0, 50.0)
    assert (rows["whatsapp"].reply_rate, rows["whatsapp"].conversion_rate) == (50.0, 50.0)
    assert (rows["sms"].reply_rate, rows["sms"].conversion_rate) == (0.0, 0.0)


def test_before_and_after_a_split_date(week):
    report = channels.report(period(*WEEK, split=dt.date(2026, 3, 5)))
    assert {r.channel: as_dict(r) for r in report.rows}["email"] == expected_rows()["email"]
    before = {r.channel: as_dict(r) for r in report.before}
    after = {r.channel: as_dict(r) for r in report.after}
    want_before = expected_rows("2026-03-05", "before")
    want_after = expected_rows("2026-03-05", "after")
    for kind in ("email", "whatsapp"):
        assert before[kind] == want_before[kind], kind
        assert after[kind] == want_after[kind], kind
    # E2 wrote back on Saturday, after the split: it still answers Tuesday's message.
    assert before["email"]["replied"] == 2 and after["email"]["inbound"] == 1


def test_filters_by_agent(week):
    users = week
    rows = {r.channel: r for r in channels.report(period(*WEEK, agent_id=users["lee"].id)).rows}
    assert as_tuple(rows["email"].response) == summary([2 * HOUR])
    assert as_tuple(rows["whatsapp"].response) == summary([5 * MINUTE])
    assert as_tuple(rows["sms"].response) == summary([40 * MINUTE])


def test_heatmap_by_local_weekday_and_hour():
    mail = make_channel("email")
    phone = make_channel("twilio")
    # Sunday 23:30 and Monday 00:30 in Seoul are both Sunday afternoon in UTC.
    customer_writes(mail, local("2026-03-08", "23:30"), "a@example.com")
    customer_writes(mail, local("2026-03-09", "00:30"), "b@example.com")
    customer_writes(phone, local("2026-03-09", "00:45"), "+821055550001", kind="sms")
    customer_writes(mail, local("2026-03-09", "00:50"), "b@example.com", auto_reply=True)  # not counted
    customer_writes(mail, local("2026-03-10", "14:10"), "a@example.com")
    grid = channels.heatmap(period("2026-03-02", "2026-03-15"))
    cells = {(d, h): n for d, row in enumerate(grid) for h, n in enumerate(row) if n}
    assert cells == {(6, 23): 1, (0, 0): 2, (1, 14): 1}
    # In New York the same moments are Sunday 10:30, 11:30, 11:45 and Tuesday 01:10.
    grid = channels.heatmap(period("2026-03-02", "2026-03-15", tz=NEW_YORK))
    cells = {(d, h): n for d, row in enumerate(grid) for h, n in enumerate(row) if n}
    assert cells == {(6, 10): 1, (6, 11): 2, (1, 1): 1}
