"""Response-time statistics on a hand-built week of conversations with known answers.

Every expected figure is computed here from the moments the test chose (the team works
in Seoul, 09:00-18:00 Monday to Friday): wall-clock and business seconds, median, p90
(nearest rank), average, SLA attainment, and the groupings by agent, channel, lead
source, campaign, weekday, hour and week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from inbox import conversations, team
from inbox.models import Message
from inbox.stats import replies
from inbox.stats.figures import Summary
from inbox.stats.period import Filters

from .factories import make_channel, make_user
from .stats_data import (
    DAY,
    HOUR,
    MINUTE,
    NEW_YORK,
    SEOUL,
    as_tuple,
    conversation_of,
    customer_writes,
    describe,
    fails,
    local,
    percent,
    period,
    seconds,
    summary,
    team_and_channels,
    we_send,
)
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes

NEW_LEAD_TARGET = HOUR  # the default SLA rules: new leads 1 h, everyone else 24 h
OTHER_TARGET = 24 * HOUR


@dataclass
class Reply:
    """One human reply the dataset contains, with what the test knows about it."""

    agent: str
    channel: str
    source: str
    campaign: str
    waiting_from: dt.datetime  # naive UTC
    sent: dt.datetime  # naive UTC
    business: int  # seconds inside 09:00-18:00 on working days, worked out by hand
    first: bool
    lead_status: str  # at the moment of the reply

    @property
    def wall(self) -> int:
        return seconds(self.waiting_from, self.sent)

    @property
    def met(self) -> bool:
        return self.wall <= (NEW_LEAD_TARGET if self.lead_status == "new" else OTHER_TARGET)

    def local(self, moment: dt.datetime, tz=SEOUL) -> dt.datetime:
        return moment.replace(tzinfo=dt.UTC).astimezone(tz)


def expected(rows: list[Reply]) -> dict:
    firsts = [r for r in rows if r.first]
    return {
        "first": summary([r.wall for r in firsts]),
        "first_business": summary([r.business for r in firsts]),
        "all": summary([r.wall for r in rows]),
        "all_business": summary([r.business for r in rows]),
        "sla": (sum(r.met for r in rows), len(rows)),
    }


def got(stats: replies.ResponseStats) -> dict:
    return {
        "first": as_tuple(stats.first),
        "first_business": as_tuple(stats.first_business),
        "all": as_tuple(stats.all),
        "all_business": as_tuple(stats.all_business),
        "sla": (stats.sla_met, stats.sla_total),
    }


@pytest.fixture
def week():
    """Two weeks from Monday 2026-03-02 in Seoul. Returns (agents by name, replies)."""
    kim, lee, boss, mail, phone = team_and_channels()
    rows: list[Reply] = []

    # c1: a new lead by email, assigned to Lee, answered by Kim. A note and an automatic
    # acknowledgement come first and do not stop the clock: 09:00 -> 10:30 is 90 min.
    m = customer_writes(mail, local("2026-03-02", "09:00"), "c1@example.com")
    describe(m, boss, source="naver", campaign="spring")
    conversations.assign(conversation_of(m), boss, lee)
    we_send(m.conversation_id, None, local("2026-03-02", "09:01"), automatic=True)
    conversations.add_note(conversation_of(m), lee, "Kim knows this customer")
    we_send(m.conversation_id, kim, local("2026-03-02", "10:30"))
    rows.append(Reply("kim", "email", "naver", "spring", local("2026-03-02", "09:00"), local("2026-03-02", "10:30"),
                      90 * MINUTE, True, "new"))  # fmt: skip

    # c2: an existing customer ("contacted", 24 h target) writes Monday 17:30. Kim's reply
    # at 17:45 fails to send; the conversation goes to Lee, who answers Tuesday 09:30:
    # 16 h wall clock, 30 + 30 min = 1 h of business time, within 24 h.
    m = customer_writes(mail, local("2026-03-02", "17:30"), "c2@example.com")
    describe(m, boss, source="google", campaign="brand", lead_status="contacted")
    conversations.assign(conversation_of(m), boss, kim)
    fails(we_send(m.conversation_id, kim, local("2026-03-02", "17:45")))
    conversations.assign(conversation_of(m), boss, lee)
    we_send(m.conversation_id, lee, local("2026-03-03", "09:30"))
    rows.append(Reply("lee", "email", "google", "brand", local("2026-03-02", "17:30"), local("2026-03-03", "09:30"),
                      HOUR, True, "contacted"))  # fmt: skip

    # c3: SMS, two questions on Tuesday, each answered by Kim; only the first is a first response.
    m = customer_writes(phone, local("2026-03-03", "14:00"), "+821011110003", kind="sms")
    describe(m, boss, source="naver", campaign="summer")
    we_send(m.conversation_id, kim, local("2026-03-03", "14:20"), "sms")
    customer_writes(phone, local("2026-03-03", "15:00"), "+821011110003", kind="sms")
    we_send(m.conversation_id, kim, local("2026-03-03", "15:05"), "sms")
    rows.append(Reply("kim", "sms", "naver", "summer", local("2026-03-03", "14:00"), local("2026-03-03", "14:20"),
                      20 * MINUTE, True, "new"))  # fmt: skip
    rows.append(Reply("kim", "sms", "naver", "summer", local("2026-03-03", "15:00"), local("2026-03-03", "15:05"),
                      5 * MINUTE, False, "new"))  # fmt: skip

    # c4: WhatsApp, answered by Lee in 45 min. The customer's out-of-office answer does not
    # make anyone wait, so Lee's next message and an automatic touch in Kim's name are not
    # responses.
    m = customer_writes(phone, local("2026-03-04", "11:00"), "+821011110004", kind="whatsapp")
    we_send(m.conversation_id, lee, local("2026-03-04", "11:45"), "whatsapp")
    customer_writes(phone, local("2026-03-04", "11:46"), "+821011110004", kind="whatsapp", auto_reply=True)
    we_send(m.conversation_id, lee, local("2026-03-04", "12:00"), "whatsapp")
    we_send(m.conversation_id, kim, local("2026-03-04", "12:30"), "whatsapp", automatic=True)
    rows.append(Reply("lee", "whatsapp", "", "", local("2026-03-04", "11:00"), local("2026-03-04", "11:45"),
                      45 * MINUTE, True, "new"))  # fmt: skip

    # c5: Friday 17:00 -> Monday 10:00 across the weekend: 65 h wall, 1 h + 1 h business.
    m = customer_writes(mail, local("2026-03-06", "17:00"), "c5@example.com")
    we_send(m.conversation_id, kim, local("2026-03-09", "10:00"))
    rows.append(Reply("kim", "email", "", "", local("2026-03-06", "17:00"), local("2026-03-09", "10:00"),
                      2 * HOUR, True, "new"))  # fmt: skip

    # c6: Sunday 23:40 -> Monday 00:10 in Seoul (both Sunday afternoon in UTC): 30 min,
    # no business time; the wait started on Sunday at 23 h, the reply is in the second week.
    m = customer_writes(mail, local("2026-03-08", "23:40"), "c6@example.com")
    we_send(m.conversation_id, kim, local("2026-03-09", "00:10"))
    rows.append(Reply("kim", "email", "", "", local("2026-03-08", "23:40"), local("2026-03-09", "00:10"),
                      0, True, "new"))  # fmt: skip

    # c7: answered, closed, and reopened by the customer the next day: the reply after the
    # reopening is a first response again.
    m = customer_writes(mail, local("2026-03-03", "10:00"), "c7@example.com")
    we_send(m.conversation_id, lee, local("2026-03-03", "10:10"))
    conversations.close(conversation_of(m), lee)
    customer_writes(mail, local("2026-03-04", "09:00"), "c7@example.com")
    we_send(m.conversation_id, lee, local("2026-03-04", "09:30"))
    rows.append(Reply("lee", "email", "", "", local("2026-03-03", "10:00"), local("2026-03-03", "10:10"),
                      10 * MINUTE, True, "new"))  # fmt: skip
    rows.append(Reply("lee", "email", "", "", local("2026-03-04", "09:00"), local("2026-03-04", "09:30"),
                      30 * MINUTE, True, "new"))  # fmt: skip

    return {"kim": kim, "lee": lee, "boss": boss}, rows


TWO_WEEKS = ("2026-03-02", "2026-03-15")


def test_summary_uses_the_middle_value_and_the_nearest_rank_p90():
    assert as_tuple(Summary.of([])) == (0, None, None, None)
    assert as_tuple(Summary.of([7])) == (1, 7, 7, 7)
    # 1..10: median between 5 and 6; p90 is the 9th value (ceil(9.0)); average 5.5.
    assert as_tuple(Summary.of(range(1, 11))) == (10, 5.5, 9, 5.5)
    # 1..11: median the 6th value; p90 the 10th value (ceil(9.9)).
    assert as_tuple(Summary.of(range(11, 0, -1))) == (11, 6, 10, 6)
    # 19 quick answers and one very slow one: the slow one is above the p90.
    assert Summary.of([60] * 19 + [36000]).p90 == 60


def test_the_hand_built_values_are_what_the_test_says(week):
    _, rows = week
    walls = sorted(r.wall for r in rows)
    # 5, 10, 20, 30, 30, 45, 90 min; 16 h; 65 h.
    assert walls == [300, 600, 1200, 1800, 1800, 2700, 5400, 16 * HOUR, 65 * HOUR]
    assert summary(walls) == (9, 1800, 65 * HOUR, sum(walls) / 9)


def test_overall_response_times_wall_clock_and_business(week):
    _, rows = week
    report = replies.report(period(*TWO_WEEKS))
    assert got(report.overall) == expected(rows)
    # Spelled out: the 8 first responses (sorted) 0.17, 0.33, 0.5, 0.5, 0.75, 1.5, 16, 65 h.
    assert report.overall.first.count == 8
    assert report.overall.first.median == (30 * MINUTE + 45 * MINUTE) / 2
    assert report.overall.first.p90 == 65 * HOUR  # ceil(7.2) = 8th of 8
    assert report.overall.all_business.median == 30 * MINUTE
    assert report.overall.attainment == percent(7, 9)


def test_failed_replies_notes_and_automatic_messages_have_no_response_time(week):
    timed = Message.select().where(Message.response_seconds.is_null(False))
    assert timed.count() == len(week[1])
    failed = Message.get(Message.status == "failed")
    assert failed.response_seconds is None and not failed.first_response


def test_by_agent_counts_who_replied_not_who_was_assigned(week):
    users, rows = week
    report = replies.report(period(*TWO_WEEKS))
    assert [g.label for g in report.by_agent] == ["Agent Kim", "Agent Lee"]
    for group in report.by_agent:
        name = "kim" if group.label == "Agent Kim" else "lee"
        assert group.key == users[name].id
        assert got(group.stats) == expected([r for r in rows if r.agent == name])


def test_by_channel_source_and_campaign(week):
    _, rows = week
    report = replies.report(period(*TWO_WEEKS))
    assert [g.key for g in report.by_channel] == ["email", "sms", "whatsapp"]
    for group in report.by_channel:
        assert got(group.stats) == expected([r for r in rows if r.channel == group.key])
    assert sorted(g.key for g in report.by_source) == ["", "google", "naver"]
    for group in report.by_source:
        assert got(group.stats) == expected([r for r in rows if r.source == group.key])
    assert sorted(g.key for g in report.by_campaign) == ["", "brand", "spring", "summer"]
    for group in report.by_campaign:
        assert got(group.stats) == expected([r for r in rows if r.campaign == group.key])


def test_by_weekday_and_hour_of_the_wait_in_the_team_time_zone(week):
    _, rows = week
    report = replies.report(period(*TWO_WEEKS))
    assert [g.key for g in report.by_weekday] == list(range(7))
    assert [g.key for g in report.by_hour] == list(range(24))
    for group in report.by_weekday:
        mine = [r for r in rows if r.local(r.waiting_from).weekday() == group.key]
        assert got(group.stats) == expected(mine), group.key
    for group in report.by_hour:
        mine = [r for r in rows if r.local(r.waiting_from).hour == group.key]
        assert got(group.stats) == expected(mine), group.key
    # The Sunday 23:40 wait (14:40 UTC) is Sunday, 23 h.
    assert report.by_weekday[6].stats.all.count == 1
    assert report.by_hour[23].stats.all.count == 1
    assert report.by_hour[14].stats.all.count == 1  # only c3's 14:00 KST question


def test_weekly_trend_by_local_week_of_the_reply(week):
    _, rows = week
    report = replies.report(period(*TWO_WEEKS))
    first_week, second_week = dt.date(2026, 3, 2), dt.date(2026, 3, 9)
    assert [g.key for g in report.weekly] == [first_week, second_week]

    def week_of(r: Reply) -> dt.date:
        day = r.local(r.sent).date()
        return day - dt.timedelta(days=day.weekday())

    for group in report.weekly:
        assert got(group.stats) == expected([r for r in rows if week_of(r) == group.key])
    # Monday 00:10 in Seoul is still Sunday in UTC; it belongs to the second week.
    assert report.weekly[1].stats.all.count == 2


def test_the_period_is_a_range_of_local_days(week):
    _, rows = week
    # The first week: the Monday 00:10 reply (Sunday 15:10 UTC) is not in it.
    report = replies.report(period("2026-03-02", "2026-03-08"))
    assert got(report.overall) == expected([r for r in rows if r.sent < local("2026-03-09", "00:00")])
    assert report.overall.all.count == 7
    report = replies.report(period("2026-03-09", "2026-03-15"))
    assert report.overall.all.count == 2


def test_filters_by_agent_channel_source_and_campaign(week):
    users, rows = week
    f = period(*TWO_WEEKS, agent_id=users["kim"].id)
    assert got(replies.report(f).overall) == expected([r for r in rows if r.agent == "kim"])
    f = period(*TWO_WEEKS, channel="sms")
    assert got(replies.report(f).overall) == expected([r for r in rows if r.channel == "sms"])
    f = period(*TWO_WEEKS, source="naver")
    assert got(replies.report(f).overall) == expected([r for r in rows if r.source == "naver"])
    f = period(*TWO_WEEKS, campaign="brand")
    assert got(replies.report(f).overall) == expected([r for r in rows if r.campaign == "brand"])


def test_business_time_skips_a_holiday_and_recomputes_after_the_hours_change():
    kim = make_user("agent", "Agent Kim")
    mail = make_channel("email")
    team.put("holidays", ["2026-03-03"])  # Tuesday
    # Monday 17:00 -> Wednesday 10:00: 41 h wall; Monday 17-18 and Wednesday 9-10 count.
    m = customer_writes(mail, local("2026-03-02", "17:00"), "h@example.com")
    we_send(m.conversation_id, kim, local("2026-03-04", "10:00"))
    overall = replies.report(period("2026-03-02", "2026-03-08")).overall
    assert (overall.all.median, overall.all_business.median) == (41 * HOUR, 2 * HOUR)
    # Opening at 09:30 instead: Monday 17:00-18:00 and Wednesday 09:30-10:00.
    team.put("business_hours", {str(d): [["09:30", "18:00"]] for d in range(5)} | {"5": [], "6": []})
    assert replies.recompute() == 1
    overall = replies.report(period("2026-03-02", "2026-03-08")).overall
    assert (overall.all.median, overall.all_business.median) == (41 * HOUR, HOUR + 30 * MINUTE)


def test_sla_attainment_in_business_time():
    kim = make_user("agent", "Agent Kim")
    mail = make_channel("email")
    phone = make_channel("twilio")
    team.put("sla_business_time", True)
    team.put("sla_rules", [{"lead_status": "new", "channel": "whatsapp", "minutes": 15},
                           {"lead_status": "new", "channel": None, "minutes": 60}])  # fmt: skip
    # A new lead's mail at Friday 17:30 answered Monday 09:30: 64 h wall, exactly 1 h of
    # business time, which meets the 1 h target (breached only when over it).
    a = customer_writes(mail, local("2026-03-06", "17:30"), "a@example.com")
    we_send(a.conversation_id, kim, local("2026-03-09", "09:30"))
    # Monday 17:30 -> Tuesday 09:31: 61 business minutes, over the target.
    b = customer_writes(mail, local("2026-03-09", "17:30"), "b@example.com")
    we_send(b.conversation_id, kim, local("2026-03-10", "09:31"))
    # WhatsApp new lead, 15 min target: 16 min is over it.
    c = customer_writes(phone, local("2026-03-10", "11:00"), "+821022220003", kind="whatsapp")
    we_send(c.conversation_id, kim, local("2026-03-10", "11:16"), "whatsapp")
    # A customer (not a new lead, 24 h): Saturday 10:00 -> Monday 17:00 is 8 business hours.
    d = customer_writes(mail, local("2026-03-07", "10:00"), "d@example.com")
    describe(d, kim, lead_status="interested")
    we_send(d.conversation_id, kim, local("2026-03-09", "17:00"))

    overall = replies.report(period("2026-03-02", "2026-03-15")).overall
    assert (overall.sla_met, overall.sla_total) == (2, 4)
    assert overall.attainment == 50.0
    assert as_tuple(overall.all_business) == summary([HOUR, 61 * MINUTE, 16 * MINUTE, 8 * HOUR])
    walls = [64 * HOUR, 16 * HOUR + MINUTE, 16 * MINUTE, 2 * DAY + 7 * HOUR]
    assert as_tuple(overall.all) == summary(walls)


def test_a_different_team_time_zone_with_a_daylight_saving_change():
    team.put("timezone", "America/New_York")
    kim = make_user("agent", "Agent Kim")
    mail = make_channel("email")
    # Friday 17:30 EST -> Monday 09:30 EDT (clocks went forward on Sunday 8 March): 63 h
    # wall clock, 30 + 30 min of business time in New York.
    a = customer_writes(mail, local("2026-03-06", "17:30", NEW_YORK), "a@example.com")
    we_send(a.conversation_id, kim, local("2026-03-09", "09:30", NEW_YORK))
    # Sunday 23:00 -> 23:50 in New York, already Monday 03:00-03:50 in UTC.
    b = customer_writes(mail, local("2026-03-08", "23:00", NEW_YORK), "b@example.com")
    we_send(b.conversation_id, kim, local("2026-03-08", "23:50", NEW_YORK))
    # Monday 2026-03-09 00:30 in New York is 04:30 UTC: outside a period ending 8 March.
    c = customer_writes(mail, local("2026-03-09", "00:20", NEW_YORK), "c@example.com")
    we_send(c.conversation_id, kim, local("2026-03-09", "00:30", NEW_YORK))

    assert seconds(local("2026-03-06", "17:30", NEW_YORK), local("2026-03-09", "09:30", NEW_YORK)) == 63 * HOUR
    f = Filters.from_args({"from": "2026-03-02", "to": "2026-03-15"}, now=dt.datetime(2026, 3, 20))
    assert f.tz == NEW_YORK
    report = replies.report(f)
    assert as_tuple(report.overall.all) == summary([63 * HOUR, 50 * MINUTE, 10 * MINUTE])
    assert as_tuple(report.overall.all_business) == summary([HOUR, 0, 0])
    by_weekday = {g.key: g.stats.all.count for g in report.by_weekday}
    assert by_weekday == {0: 1, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1}  # Fri 17 h, Sun 23 h, Mon 0 h
    by_hour = {g.key: g.stats.all.count for g in report.by_hour if g.stats.all.count}
    assert by_hour == {0: 1, 17: 1, 23: 1}
    weekly = {g.key: g.stats.all.count for g in report.weekly}
    assert weekly == {dt.date(2026, 3, 2): 1, dt.date(2026, 3, 9): 2}
    first_week = Filters.from_args({"from": "2026-03-02", "to": "2026-03-08"})
    assert replies.report(first_week).overall.all.count == 1
    assert replies.report(first_week).overall.all.median == 50 * MINUTE
