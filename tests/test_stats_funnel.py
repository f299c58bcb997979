"""The lead funnel on a hand-built week of leads with known answers: leads in, contacted
within 1 h / 24 h, responded within 3 days / ever, interested, won, lost, dormant, the
rates, touches before a reply, the groupings, and the reactivation and follow-up rates."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from inbox import automation, contacts, conversations, reminders, team
from inbox.models import Contact, FollowUp
from inbox.stats import funnel

from .factories import make_channel, make_user
from .stats_data import (
    contact_of,
    conversation_of,
    created_at,
    customer_writes,
    describe,
    fails,
    local,
    percent,
    period,
    team_and_channels,
    we_send,
)
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes

WEEK = ("2026-03-02", "2026-03-08")  # Monday to Sunday in Seoul
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@dataclasses.dataclass
class Lead:
    """What the test knows about one lead: its moments (naive UTC) and where it ended."""

    source: str
    campaign: str
    ad_set: str
    agent: str | None
    lead_at: dt.datetime
    first_human: dt.datetime | None = None
    first_out: dt.datetime | None = None
    first_reply: dt.datetime | None = None
    touches: int = 0  # our messages before the customer's first reply
    interested: bool = False
    status: str = "new"


def row_for(leads: list[Lead]) -> dict:
    """The funnel row the definitions give for these leads."""
    contacted = [x for x in leads if x.first_human]
    wrote = [x for x in leads if x.first_out]
    responded = [x for x in wrote if x.first_reply]
    return {
        "leads": len(leads),
        "contacted": len(contacted),
        "contacted_1h": sum(x.first_human - x.lead_at <= dt.timedelta(hours=1) for x in contacted),
        "contacted_24h": sum(x.first_human - x.lead_at <= dt.timedelta(hours=24) for x in contacted),
        "wrote_to": len(wrote),
        "responded": len(responded),
        "responded_3d": sum(x.first_reply - x.first_out <= dt.timedelta(days=3) for x in responded),
        "interested": sum(x.interested or x.status in ("interested", "won") for x in leads),
        "won": sum(x.status == "won" for x in leads),
        "lost": sum(x.status == "lost" for x in leads),
        "dormant": sum(x.status == "dormant" for x in leads),
        "touches": sum(x.touches for x in responded),
    }


@pytest.fixture
def week():
    """Leads of the week of Monday 2026-03-02 in Seoul, and a few just outside it."""
    kim, lee, boss, mail, phone = team_and_channels()
    leads: dict[str, Lead] = {}

    def arrives(at, address, channel=mail, kind=None):
        m = customer_writes(channel, at, address, kind=kind)
        created_at(contact_of(m), at)
        return m

    # L1: Kim answers in 40 min, the customer answers back, becomes interested, then won.
    m = arrives(local("2026-03-02", "10:00"), "l1@example.com")
    describe(m, boss, source="naver", campaign="spring", ad_set="set-a", owner_id=kim.id)
    we_send(m.conversation_id, kim, local("2026-03-02", "10:40"))
    customer_writes(mail, local("2026-03-02", "12:00"), "l1@example.com")
    describe(m, kim, lead_status="interested")
    describe(m, kim, lead_status="won")
    leads["l1"] = Lead("naver", "spring", "set-a", "kim", local("2026-03-02", "10:00"),
                       first_human=local("2026-03-02", "10:40"), first_out=local("2026-03-02", "10:40"),
                       first_reply=local("2026-03-02", "12:00"), touches=1, interested=True, status="won")  # fmt: skip

    # L2: an automatic acknowledgement a minute in (we wrote to them, nobody contacted them),
    # Lee answers after 2 h; the customer writes back 3 days and 3 h after our first message.
    m = arrives(local("2026-03-02", "11:00"), "l2@example.com")
    describe(m, boss, source="naver", campaign="spring", ad_set="set-b", owner_id=lee.id)
    we_send(m.conversation_id, None, local("2026-03-02", "11:01"), automatic=True)
    we_send(m.conversation_id, lee, local("2026-03-02", "13:00"))
    customer_writes(mail, local("2026-03-05", "14:01"), "l2@example.com")
    describe(m, lee, lead_status="lost")
    leads["l2"] = Lead("naver", "spring", "set-b", "lee", local("2026-03-02", "11:00"),
                       first_human=local("2026-03-02", "13:00"), first_out=local("2026-03-02", "11:01"),
                       first_reply=local("2026-03-05", "14:01"), touches=2, status="lost")  # fmt: skip

    # L3: a note and a reply that failed to send are no contact; Kim's reply 25 h later is.
    # The customer's out-of-office answer is not a response. Assigned to Lee, owned by Kim.
    m = arrives(local("2026-03-03", "09:00"), "l3@example.com")
    describe(m, boss, source="google", campaign="brand", ad_set="set-c", owner_id=kim.id)
    conversations.assign(conversation_of(m), boss, lee)
    conversations.add_note(conversation_of(m), kim, "will call")
    fails(we_send(m.conversation_id, kim, local("2026-03-03", "09:20")))
    we_send(m.conversation_id, kim, local("2026-03-04", "10:00"))
    customer_writes(mail, local("2026-03-04", "10:05"), "l3@example.com", auto_reply=True)
    describe(m, kim, lead_status="contacted")
    leads["l3"] = Lead("google", "brand", "set-c", "kim", local("2026-03-03", "09:00"),
                       first_human=local("2026-03-04", "10:00"), first_out=local("2026-03-04", "10:00"),
                       status="contacted")  # fmt: skip

    # L4 + L6: the same person wrote first by SMS on Tuesday 16:00 (Lee answered at 16:30)
    # and again by email on Wednesday 15:00; the SMS contact is merged into the email one.
    # One lead, from Tuesday 16:00, contacted in 30 min, replied (the email) 22.5 h later.
    sms = arrives(local("2026-03-03", "16:00"), "+821033330006", phone, "sms")
    we_send(sms.conversation_id, lee, local("2026-03-03", "16:30"), "sms")
    m = arrives(local("2026-03-04", "15:00"), "l4@example.com")
    describe(m, boss, source="google", campaign="brand", owner_id=lee.id)
    contacts.merge(contact_of(m), contact_of(sms), boss)
    leads["l4"] = Lead("google", "brand", "", "lee", local("2026-03-03", "16:00"),
                       first_human=local("2026-03-03", "16:30"), first_out=local("2026-03-03", "16:30"),
                       first_reply=local("2026-03-04", "15:00"), touches=1)  # fmt: skip

    # L5: we wrote first: Lee creates the contact Thursday 09:00 and writes at 09:30; the
    # customer answers at 09:50 and buys.
    contact = contacts.create(lee, emails=["l5@example.com"], name="Five", source="naver", campaign="autumn",
                              ad_set="set-a", owner_id=lee.id)  # fmt: skip
    created_at(contact, local("2026-03-05", "09:00"))
    conv_id = conversation_of_contact(contact)
    we_send(conv_id, lee, local("2026-03-05", "09:30"))
    customer_writes(mail, local("2026-03-05", "09:50"), "l5@example.com")
    contacts.update(Contact.get_by_id(contact.id), lee, lead_status="won")
    leads["l5"] = Lead("naver", "autumn", "set-a", "lee", local("2026-03-05", "09:00"),
                       first_human=local("2026-03-05", "09:30"), first_out=local("2026-03-05", "09:30"),
                       first_reply=local("2026-03-05", "09:50"), touches=1, status="won")  # fmt: skip

    # L7: nobody answers, nobody owns it.
    m = arrives(local("2026-03-06", "20:00"), "l7@example.com")
    describe(m, boss, source="facebook", campaign="fb-1", ad_set="set-d")
    leads["l7"] = Lead("facebook", "fb-1", "set-d", None, local("2026-03-06", "20:00"))

    # L8: answered in 30 min, never wrote back, went dormant.
    m = arrives(local("2026-03-02", "08:00"), "l8@example.com")
    describe(m, boss, source="naver", campaign="spring", ad_set="set-a", owner_id=kim.id)
    we_send(m.conversation_id, kim, local("2026-03-02", "08:30"))
    describe(m, kim, lead_status="dormant")
    leads["l8"] = Lead("naver", "spring", "set-a", "kim", local("2026-03-02", "08:00"),
                       first_human=local("2026-03-02", "08:30"), first_out=local("2026-03-02", "08:30"),
                       status="dormant")  # fmt: skip

    # L10: Sunday 23:30 in Seoul, the last half hour of the week; no owner, assigned to Kim.
    m = arrives(local("2026-03-08", "23:30"), "l10@example.com")
    conversations.assign(conversation_of(m), boss, kim)
    leads["l10"] = Lead("", "", "", "kim", local("2026-03-08", "23:30"))

    # Outside the week: Sunday 1 March 23:30 and Monday 9 March 00:10 in Seoul (the latter
    # still 8 March in UTC).
    arrives(local("2026-03-01", "23:30"), "l9@example.com")
    arrives(local("2026-03-09", "00:10"), "l11@example.com")
    return {"kim": kim, "lee": lee}, leads


def conversation_of_contact(contact: Contact) -> int:
    return contact.conversations.get().id


def values(row: funnel.FunnelRow) -> dict:
    return dataclasses.asdict(row)


def test_overall_funnel(week):
    _, leads = week
    report = funnel.report(period(*WEEK))
    expected = row_for(list(leads.values()))
    assert values(report.overall) == expected
    # Spelled out: 8 leads; 6 contacted (4 within 1 h, 5 within 24 h); we wrote to 6, 4
    # responded (3 within 3 days) after 1 + 2 + 1 + 1 touches; 2 won (so interested).
    assert expected == {
        "leads": 8, "contacted": 6, "contacted_1h": 4, "contacted_24h": 5, "wrote_to": 6, "responded": 4,
        "responded_3d": 3, "interested": 2, "won": 2, "lost": 1, "dormant": 1, "touches": 5,
    }  # fmt: skip


def test_funnel_rates(week):
    report = funnel.report(period(*WEEK))
    row = report.overall
    assert row.contact_rate == percent(6, 8)
    assert row.contact_rate_1h == percent(4, 8)
    assert row.contact_rate_24h == percent(5, 8)
    assert row.response_rate == percent(4, 6)
    assert row.response_rate_3d == percent(3, 6)
    # "Share of answered leads that reached won": answered = got a human reply.
    assert row.conversion_rate == percent(2, 6)
    assert row.touches_before_reply == 5 / 4


@pytest.mark.parametrize("name, attribute", [("source", "source"), ("campaign", "campaign"), ("ad_set", "ad_set")])
def test_funnel_by_attribution(week, name, attribute):
    _, leads = week
    groups = getattr(funnel.report(period(*WEEK)), f"by_{name}")
    keys = {getattr(x, attribute) for x in leads.values()}
    assert {g.key for g in groups} == keys
    for group in groups:
        assert values(group.row) == row_for([x for x in leads.values() if getattr(x, attribute) == group.key])
    counts = [g.row.leads for g in groups]
    assert counts == sorted(counts, reverse=True)  # biggest first


def test_funnel_by_owner_else_assignee(week):
    users, leads = week
    groups = funnel.report(period(*WEEK)).by_agent
    ids = {users["kim"].id: "kim", users["lee"].id: "lee", None: None}
    assert {ids[g.key] for g in groups} == {"kim", "lee", None}
    for group in groups:
        assert values(group.row) == row_for([x for x in leads.values() if x.agent == ids[group.key]])
    by_name = {g.label: g.row.leads for g in groups}
    assert by_name == {"Agent Kim": 4, "Agent Lee": 3, "": 1}


def test_funnel_filters(week):
    users, leads = week
    all_leads = list(leads.values())
    report = funnel.report(period(*WEEK, source="naver"))
    assert values(report.overall) == row_for([x for x in all_leads if x.source == "naver"])
    report = funnel.report(period(*WEEK, campaign="brand"))
    assert values(report.overall) == row_for([x for x in all_leads if x.campaign == "brand"])
    report = funnel.report(period(*WEEK, agent_id=users["lee"].id))
    assert values(report.overall) == row_for([x for x in all_leads if x.agent == "lee"])
    # Only the merged lead ever wrote by SMS.
    report = funnel.report(period(*WEEK, channel="sms"))
    assert values(report.overall) == row_for([leads["l4"]])


def test_a_merged_away_contact_is_not_a_second_lead(week):
    merged = Contact.select().where(Contact.merged_into.is_null(False))
    assert merged.count() == 1
    report = funnel.report(period(*WEEK))
    assert report.overall.leads == 8  # not 9


def _dormant_lead(channel, agent, address: str, reply_at: dt.datetime):
    """A lead that wrote an hour before our reply; with one cadence step of 1 day and a
    reactivation 2 days later, it goes dormant at reply + 1 day and gets the reactivation
    touch at reply + 3 days (a task for its owner)."""
    m = customer_writes(channel, reply_at - dt.timedelta(hours=1), address)
    created_at(contact_of(m), reply_at - dt.timedelta(hours=1))
    contacts.update(contact_of(m), agent, owner_id=agent.id)
    we_send(m.conversation_id, agent, reply_at)
    return m


def test_a_lead_that_was_interested_and_then_lost_counts_as_interested():
    kim = make_user("agent", "Agent Kim")
    mail = make_channel("email")
    m = customer_writes(mail, local("2026-03-02", "10:00"), "x@example.com")
    created_at(contact_of(m), local("2026-03-02", "10:00"))
    we_send(m.conversation_id, kim, local("2026-03-02", "10:20"))
    describe(m, kim, lead_status="interested")
    describe(m, kim, lead_status="lost")
    row = funnel.report(period(*WEEK)).overall
    assert (row.leads, row.interested, row.lost, row.won) == (1, 1, 1, 0)


@pytest.fixture
def reactivation():
    """Three leads (Monday 09:00) answered by Kim at 10:00. With one cadence step of 1 day
    and a reactivation touch 2 days after dormancy: all dormant on Tuesday, C writes on
    Wednesday (before its touch), A and B get the touch on Thursday 10:00 and A writes
    back two hours later; A is then marked lost."""
    team.put("cadence_days", [1])
    team.put("lead_reengage_days", 0)  # the plan is the one cadence step
    team.put("reactivation_days", [2])
    kim = make_user("agent", "Agent Kim")
    mail = make_channel("email")
    t0 = local("2026-03-02", "10:00")
    a = _dormant_lead(mail, kim, "a@example.com", t0)
    b = _dormant_lead(mail, kim, "b@example.com", t0)
    c = _dormant_lead(mail, kim, "c@example.com", t0)
    automation.sweep_followups(now=t0 + DAY)  # the cadence ends: all three dormant
    assert {contact_of(m).lead_status for m in (a, b, c)} == {"dormant"}
    customer_writes(mail, t0 + 2 * DAY, "c@example.com")
    automation.sweep_followups(now=t0 + 3 * DAY)
    touched = FollowUp.select().where((FollowUp.kind == "reactivation") & FollowUp.fired_at.is_null(False))
    assert sorted((f.conversation_id, f.meta["outcome"]) for f in touched) == [
        (a.conversation_id, "task"), (b.conversation_id, "task"),
    ]  # fmt: skip
    customer_writes(mail, t0 + 3 * DAY + 2 * HOUR, "a@example.com")
    assert contact_of(a).lead_status == "interested"  # back from dormancy
    contacts.update(contact_of(a), kim, lead_status="lost")
    return a, b, c


def test_reactivation_rate(reactivation):
    report = funnel.report(period(*WEEK))
    # A and B got a touch on Thursday; A wrote after it. C wrote before its touch: none.
    assert (report.reactivation.part, report.reactivation.whole) == (1, 2)
    assert report.reactivation.rate == 50.0
    assert funnel.report(period("2026-03-09", "2026-03-15")).reactivation.whole == 0


def test_a_lead_back_from_dormancy_was_interested(reactivation):
    # A went back to "interested" when it wrote after the touch, then was lost; C is
    # interested now; B is dormant.
    row = funnel.report(period(*WEEK)).overall
    assert (row.leads, row.lost, row.dormant) == (3, 1, 1)
    assert row.interested == 2


@pytest.fixture
def followups():
    """Manual follow-ups around the week of 2 March (the real clock is long past them)."""
    kim = make_user("agent", "Agent Kim")
    lee = make_user("agent", "Agent Lee")
    mail = make_channel("email")
    conv = conversation_of(customer_writes(mail, local("2026-03-01", "10:00"), "f@example.com"))
    due = {
        "done": reminders.schedule(conv, local("2026-03-02", "10:00"), owner=kim),
        "open": reminders.schedule(conv, local("2026-03-03", "10:00"), owner=kim),
        "cancelled_early": reminders.schedule(conv, local("2026-03-04", "10:00"), owner=lee),
        "cancelled_late": reminders.schedule(conv, local("2026-03-05", "10:00"), owner=lee),
        "sunday_night": reminders.schedule(conv, local("2026-03-08", "23:30"), owner=lee),
        "next_week": reminders.schedule(conv, local("2026-03-09", "00:30"), owner=lee),
    }
    reminders.complete(due["done"])
    # Cancelled on Tuesday, before it was due: it never was a follow-up to do.
    FollowUp.update(cancelled_at=local("2026-03-03", "12:00")).where(FollowUp.id == due["cancelled_early"].id).execute()
    reminders.cancel(due["cancelled_late"])  # cancelled now, long after it was due
    return kim, lee, mail


def test_follow_up_rate(followups):
    kim, _, _ = followups
    report = funnel.report(period(*WEEK))
    # Due in the week and counted: done, open, cancelled_late, sunday_night (Sunday 23:30
    # in Seoul); next_week is Monday 00:30 in Seoul. One of the four was done.
    assert (report.followups.part, report.followups.whole) == (1, 4)
    assert report.followups.rate == 25.0
    kims = funnel.report(period(*WEEK, agent_id=kim.id)).followups
    assert (kims.part, kims.whole) == (1, 2)


def test_a_cadence_step_that_stopped_on_its_own_is_not_a_follow_up(followups):
    kim, _, mail = followups
    # Kim answers Monday 09:00; the lead is won before the first cadence step (Tuesday
    # 09:00), which then stops without anyone doing anything.
    won = contact_of(customer_writes(mail, local("2026-03-02", "08:30"), "won@example.com"))
    we_send(won.conversations.get().id, kim, local("2026-03-02", "09:00"))
    contacts.update(won, kim, lead_status="won")
    automation.sweep_followups(now=local("2026-03-03", "09:00"))
    assert FollowUp.get(FollowUp.kind == "cadence").meta["outcome"] == "stopped"
    report = funnel.report(period(*WEEK))
    assert (report.followups.part, report.followups.whole) == (1, 4)
