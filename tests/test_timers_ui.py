"""The pages around timers: the waiting badge from the SLA policy, the "breached" filter,
the response-time settings, "Remind me" and the reminders page, the notification centre,
and the notifications that assigning and @mentions send."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from inbox import automation, canned, conversations, listing, notifications, reminders, sla, team
from inbox.db import utcnow
from inbox.models import AuditEvent, Conversation, FollowUp, Notification

from . import factories
from .conftest import login, post
from .test_queries import count_queries
from .test_routes import _english_and_fast_hashes, body, client_as

__all__ = ["_english_and_fast_hashes"]  # English pages, cheap password hashes

VALID_SLA = {
    "section": "sla",
    "rule_lead_status": ["new", "", ""],
    "rule_channel": ["", "whatsapp", ""],
    "rule_minutes": ["30", "120", ""],
    "sla_default_minutes": "480",
    "sla_business_time": "1",
    **{f"open_{d}": "09:00" for d in range(5)},
    **{f"close_{d}": "18:00" for d in range(5)},
    "closed_5": "1",
    "closed_6": "1",
    "holidays": "2026-01-01\n2026-02-17, 2026-02-17",
    "timezone": "Asia/Seoul",
}


def waiting(channel, name: str, minutes_ago: float, **kw) -> Conversation:
    msg = factories.receive(channel, address=f"{name.lower()}@example.com", name=name, minutes_ago=minutes_ago, **kw)
    return Conversation.get_by_id(msg.conversation_id)


def iso(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC).isoformat()


def timer_attrs(page: str, conv: Conversation) -> dict:
    row = re.search(rf'<li class="row[^"]*" id="conversation-{conv.id}".*?</li>', page, re.S)
    assert row, f"row {conv.id} not shown"
    span = re.search(r'<span class="waiting-timer ([^"]+)"([^>]*)>', row.group(0))
    assert span, "no waiting badge"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', span.group(2)))
    return {"class": span.group(1), **attrs}


# --- the waiting badge and the breached filter ------------------------------------------


def test_waiting_badge_carries_the_policy_deadline(client, agent, email_channel, twilio_channel):
    team.put("sla_rules", [{"lead_status": None, "channel": "sms", "minutes": 10}])
    team.put("sla_default_minutes", 60)
    sms = waiting(twilio_channel, "Sms", 9, kind="sms")
    mail = waiting(email_channel, "Mail", 20)
    login(client, agent)
    page = client.get("/inbox").get_data(as_text=True)
    a = timer_attrs(page, sms)
    assert a["deadline"] == iso(sms.waiting_since + dt.timedelta(minutes=10))
    assert a["soon"] == iso(sms.waiting_since + dt.timedelta(minutes=7.5))
    assert (a["class"], a["state"]) == ("sla-soon", "due_soon")
    b = timer_attrs(page, mail)
    assert b["deadline"] == iso(mail.waiting_since + dt.timedelta(minutes=60))
    assert (b["class"], b["state"]) == ("sla-ok", "on_track")
    assert b["format"] == "waiting {d}"
    header = client.get(f"/c/{sms.id}").get_data(as_text=True)
    assert f'data-deadline="{a["deadline"]}"' in header


def test_business_hours_move_the_deadline(client, agent, email_channel):
    team.put("sla_business_time", True)
    team.put("sla_rules", [])
    team.put("sla_default_minutes", 60)
    team.put("timezone", "Asia/Seoul")
    conv = waiting(email_channel, "Night", 1)
    friday_night = dt.datetime(2026, 11, 27, 14, 30)  # 23:30 in Seoul, a Friday
    Conversation.update(waiting_since=friday_night).where(Conversation.id == conv.id).execute()
    login(client, agent)
    a = timer_attrs(client.get("/inbox").get_data(as_text=True), conv)
    # Monday 09:00 Seoul (00:00 UTC) plus one business hour
    assert a["deadline"] == iso(dt.datetime(2026, 11, 30, 1, 0))
    assert a["soon"] == iso(dt.datetime(2026, 11, 30, 0, 45))


def test_breached_filter(client, agent, email_channel, twilio_channel):
    team.put("sla_rules", [
        {"lead_status": "new", "channel": "whatsapp", "minutes": 5},
        {"lead_status": "new", "channel": None, "minutes": 60},
        {"lead_status": None, "channel": "sms", "minutes": 30},
    ])  # fmt: skip
    team.put("sla_default_minutes", 240)
    wa_late = waiting(twilio_channel, "WaLate", 6, kind="whatsapp")  # new + whatsapp: 5 min
    new_ok = waiting(email_channel, "NewOk", 50)  # new: 60 min
    new_late = waiting(email_channel, "NewLate", 61)
    sms_late = waiting(twilio_channel, "SmsLate", 31, kind="sms")  # new + sms: the "new" rule, 60 min
    other_ok = waiting(email_channel, "OtherOk", 200)  # default 240 min
    other_late = waiting(email_channel, "OtherLate", 241)
    answered = waiting(email_channel, "Answered", 500)
    for conv in (other_ok, other_late, answered):
        conv.contact.lead_status = "contacted"
        conv.contact.save()
    Conversation.update(waiting_since=None).where(Conversation.id == answered.id).execute()
    closed = waiting(email_channel, "ClosedLate", 600)
    conversations.close(closed, agent)

    policy = sla.Policy.load()
    now = utcnow()
    expected = {c.id for c in (wa_late, new_late, other_late)}
    rows = listing.conversations(agent, listing.InboxFilter(breached=True), policy=policy).rows
    assert {r.conversation.id for r in rows} == expected
    # the SQL filter agrees with the policy's own definition
    for conv in Conversation.select():
        if conv.state == "open" and conv.waiting_since:
            state = policy.state(conv.waiting_since, conv.contact.lead_status, conv.last_inbound_channel, now)
            assert (state == "breached") == (conv.id in expected), conv.contact.name
    assert sms_late.id not in expected and new_ok.id not in expected

    login(client, agent)
    page = body(client.get("/inbox?breached=1"))
    assert 'id="filter-breached" checked' in page
    for name in ("WaLate", "NewLate", "OtherLate"):
        assert name in page
    for name in ("NewOk", "SmsLate", "OtherOk", "Answered", "ClosedLate"):
        assert name not in page
    assert "breached=1" in body(
        client.get("/inbox?breached=1", headers={"HX-Request": "true", "HX-Target": "inbox-list"})
    )


def test_breached_filter_counts_business_hours(agent, email_channel):
    team.put("sla_business_time", True)
    team.put("sla_rules", [])
    team.put("sla_default_minutes", 60)
    team.put("timezone", "UTC")
    team.put("business_hours", {str(d): [["09:00", "17:00"]] for d in range(7)})
    conv = waiting(email_channel, "Evening", 1)
    policy = sla.Policy.load()

    def breached(since, now):
        Conversation.update(waiting_since=since).where(Conversation.id == conv.id).execute()
        query = listing.base_query().where(listing.breached_condition(policy, now))
        return [c.id for c in query] == [conv.id]

    day = dt.datetime(2026, 6, 3)
    assert not breached(day.replace(hour=16, minute=30), day.replace(hour=23))  # 30 business minutes
    assert breached(day.replace(hour=16, minute=30), day + dt.timedelta(days=1, hours=9, minutes=31))
    assert not breached(day.replace(hour=16, minute=30), day + dt.timedelta(days=1, hours=9, minutes=29))
    assert breached(day.replace(hour=15), day.replace(hour=16))


def test_breached_filter_queries_do_not_grow_with_rows(client, agent, email_channel):
    for i in range(3):
        waiting(email_channel, f"Late{i}", 2000)
    login(client, agent)
    with count_queries() as small:
        assert client.get("/inbox?breached=1").status_code == 200
    for i in range(3, 30):
        waiting(email_channel, f"Late{i}", 2000)
    with count_queries() as large:
        page = client.get("/inbox?breached=1").get_data(as_text=True)
    assert page.count('class="waiting-timer sla-breached"') == 30
    assert len(small) == len(large)


def test_a_woken_conversation_shows_the_marker_until_someone_replies(client, agent, email_channel):
    conv = waiting(email_channel, "Sleeper", 5)
    conversations.snooze(conv, agent, utcnow() + dt.timedelta(hours=1))
    Conversation.update(snoozed_until=utcnow() - dt.timedelta(seconds=1)).where(Conversation.id == conv.id).execute()
    assert conversations.wake_due() == 1
    login(client, agent)
    page = body(client.get("/inbox"))
    assert re.search(rf'id="conversation-{conv.id}".*?class="badge woke"', page, re.S)
    from inbox import outbound

    outbound.send(Conversation.get_by_id(conv.id), kind="email", text="Back to you", author=agent)
    assert 'class="badge woke"' not in body(client.get("/inbox"))


# --- settings ----------------------------------------------------------------------------


def test_settings_are_for_managers(client, agent, manager, admin):
    login(client, agent)
    assert client.get("/settings/sla").status_code == 403
    assert post(client, "/settings/sla", VALID_SLA).status_code == 403
    assert team.get("sla_default_minutes") == 24 * 60
    assert "/settings/sla" not in body(client.get("/inbox"))
    for user in (manager, admin):
        other = client_as(client.application, user)
        page = body(other.get("/settings/sla"))
        assert "Reply targets" in page and "Follow-ups" in page and "New leads" in page
        assert 'href="/settings/sla"' in body(other.get("/inbox"))


def test_saving_reply_targets(client, manager):
    team.put("business_hours", {**team.get("business_hours"), "2": [["09:00", "12:00"], ["13:00", "18:00"]]})
    login(client, manager)
    response = post(client, "/settings/sla", VALID_SLA)
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/sla#section-sla")
    assert team.get("sla_rules") == [
        {"lead_status": "new", "channel": None, "minutes": 30},
        {"lead_status": None, "channel": "whatsapp", "minutes": 120},
    ]
    assert team.get("sla_default_minutes") == 480
    assert team.get("sla_business_time") is True
    hours = team.get("business_hours")
    assert hours["0"] == [["09:00", "18:00"]] and hours["5"] == [] and hours["6"] == []
    assert hours["2"] == [["09:00", "12:00"], ["13:00", "18:00"]]  # the lunch break is kept
    assert team.get("holidays") == ["2026-01-01", "2026-02-17"]
    assert team.get("timezone") == "Asia/Seoul"
    page = body(client.get("/settings/sla"))
    assert "Response targets saved." in page and "2026-02-17" in page

    # remove the first rule, leave the empty row empty
    response = post(client, "/settings/sla", {**VALID_SLA, "rule_remove": "0"})
    assert response.status_code == 303
    assert team.get("sla_rules") == [{"lead_status": None, "channel": "whatsapp", "minutes": 120}]


def test_add_another_rule_saves_nothing(client, manager):
    login(client, manager)
    response = post(client, "/settings/sla", {**VALID_SLA, "add_rule": "1"})
    assert response.status_code == 200
    assert len(re.findall(r'<tr class="sla-rule"', body(response))) == 3
    assert team.get("sla_rules") == team.DEFAULTS["sla_rules"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sla_default_minutes": "0"}, "sla_default_minutes", "Enter a whole number from 1 to 525600."),
        ({"sla_default_minutes": "abc"}, "sla_default_minutes", "Enter a whole number from 1 to 525600."),
        ({"rule_minutes": ["-5", "120", ""]}, "rule_0", "Enter a whole number from 1 to 525600."),
        ({"rule_lead_status": ["new", "new", ""], "rule_channel": ["", "", ""]}, "rule_1",
         "This rule repeats an earlier one."),
        ({"rule_lead_status": ["bogus", "", ""]}, "rule_0", "Choose a lead status from the list."),
        ({"rule_lead_status": ["", "", ""], "rule_channel": ["", "", ""]}, "rule_0",
         "Choose a lead status or a channel"),
        ({"open_1": "25:00"}, "open_1", "Enter a time as HH:MM"),
        ({"close_2": "08:00"}, "close_2", "The closing time must be after the opening time."),
        ({"holidays": "2026-01-01\nnext tuesday"}, "holidays", "Not a date: next, tuesday."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Choose a time zone from the list."),
    ],
)  # fmt: skip
def test_reply_target_errors_are_shown_at_the_field(client, manager, change, field, message):
    login(client, manager)
    response = post(client, "/settings/sla", {**VALID_SLA, **change})
    page = body(response)
    assert response.status_code == 400
    assert "Nothing was saved: check the marked fields." in page
    assert re.search(rf'id="error-{field}" role="alert">{re.escape(message)}', page), page[:200]
    assert team.get("sla_default_minutes") == 24 * 60  # nothing of the section was stored
    assert team.get("sla_rules") == team.DEFAULTS["sla_rules"]


def test_follow_up_and_lead_settings(client, manager):
    canned.save(None, manager, name="Nudge", shortcut="nudge", body="Any news?", channels="")
    canned.save(None, manager, name="Thanks", shortcut="thanks", body="Thanks!", channels="")
    login(client, manager)
    response = post(client, "/settings/sla", {
        "section": "followups", "cadence_days": "2, 5 10", "cadence_auto_send": "1",
        "cadence_template_1": "nudge", "cadence_template_3": "nudge", "quiet_start": "22:00",
        "quiet_end": "07:30", "reactivation_days": "",
    })  # fmt: skip
    assert response.status_code == 303, body(response)[:3000]
    assert team.get("cadence_days") == [2, 5, 10]
    assert team.get("cadence_auto_send") is True
    assert team.get("cadence_templates") == {"1": "nudge", "3": "nudge"}
    assert team.get("quiet_hours") == ["22:00", "07:30"]
    assert team.get("reactivation_days") == []
    page = body(client.get("/settings/sla"))
    assert page.count('name="cadence_template_') == 3

    response = post(client, "/settings/sla", {
        "section": "leads", "lead_ack_template": "/thanks", "lead_ack_delay_minutes": "2",
        "lead_reminder_minutes": "30,120", "lead_reengage_days": "0", "lead_reengage_auto_send": "1",
        "lead_reengage_template": "nudge",
    })  # fmt: skip
    assert response.status_code == 303
    assert team.get("lead_auto_assign") is False  # unchecked
    assert team.get("lead_ack_template") == "thanks"
    assert (team.get("lead_ack_delay_minutes"), team.get("lead_reminder_minutes")) == (2, [30, 120])
    assert team.get("lead_reengage_days") == 0  # off
    if "lead_reengage_template" in team.DEFAULTS:  # the re-engagement message, where the team has it
        assert (team.get("lead_reengage_auto_send"), team.get("lead_reengage_template")) == (True, "nudge")

    # quiet hours switched off; a reactivation template per step where the team has them
    response = post(client, "/settings/sla", {
        "section": "followups", "cadence_days": "2", "quiet_start": "", "quiet_end": "",
        "reactivation_days": "7, 30", "reactivation_template_2": "nudge",
    })  # fmt: skip
    assert response.status_code == 303
    assert team.get("quiet_hours") == [] and team.get("reactivation_days") == [7, 30]
    if "reactivation_templates" in team.DEFAULTS:
        assert team.get("reactivation_templates") == {"2": "nudge"}
        assert body(client.get("/settings/sla")).count('name="reactivation_template_') == 2

    bad = {
        "section": "followups", "cadence_days": "7, 3", "cadence_template_1": "missing", "quiet_start": "22:00",
        "quiet_end": "22:00", "reactivation_days": "x",
    }  # fmt: skip
    response = post(client, "/settings/sla", bad)
    page = body(response)
    assert response.status_code == 400
    assert "smallest first" in page and 'id="error-cadence_days"' in page
    assert 'id="error-quiet_end"' in page and 'id="error-reactivation_days"' in page
    assert 'value="7, 3"' in page  # typed values come back
    assert team.get("cadence_days") == [2]

    response = post(client, "/settings/sla", {"section": "leads", "lead_ack_template": "nope",
                                              "lead_ack_delay_minutes": "9999", "lead_reengage_days": "-1"})  # fmt: skip
    page = body(response)
    assert response.status_code == 400
    assert "There is no template /nope." in page
    assert 'id="error-lead_ack_delay_minutes"' in page and 'id="error-lead_reengage_days"' in page
    assert team.get("lead_ack_template") == "thanks"


# --- reminders -----------------------------------------------------------------------------


@pytest.fixture
def conv(email_channel):
    return waiting(email_channel, "Minji", 3)


def test_remind_me_with_a_preset(client, agent, conv):
    login(client, agent)
    before = utcnow()
    response = post(client, f"/c/{conv.id}/remind", {"preset": "3h", "note": "Send the revised quote"}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "timeline-refresh"
    assert "Reminder set for" in body(response)
    followup = FollowUp.get()
    assert (followup.owner_id, followup.kind, followup.note) == (agent.id, "manual", "Send the revised quote")
    assert before + dt.timedelta(hours=3) <= followup.due_at <= utcnow() + dt.timedelta(hours=3)
    timeline = body(client.get(f"/c/{conv.id}"))
    assert "Agent Kim set a reminder for" in timeline and ": Send the revised quote" in timeline


def test_remind_me_at_a_time_in_my_time_zone_and_the_reminders_page(client, agent, conv):
    login(client, agent)  # Asia/Seoul
    local = (utcnow() + dt.timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)
    response = post(client, f"/c/{conv.id}/remind", {"preset": "custom", "due_at": local.strftime("%Y-%m-%dT%H:%M"),
                                                     "note": "Call Minji"})  # fmt: skip
    assert response.status_code == 303  # a plain form goes back to the conversation
    followup = FollowUp.get()
    assert followup.due_at == local - dt.timedelta(hours=9)
    page = body(client.get("/reminders"))
    upcoming = page[page.index('id="upcoming-reminders"') : page.index('id="fired-reminders"')]
    assert "Call Minji" in upcoming and "Minji" in upcoming and f"/c/{conv.id}" in upcoming
    assert re.search(r", 9:30\sAM", upcoming)  # shown in the user's time zone (UTC 00:30)
    assert "Nothing fired lately." in page

    # it fires: listed under fired, with a notification
    assert automation.sweep_followups(now=followup.due_at + dt.timedelta(seconds=1)) == 1
    page = body(client.get("/reminders"))
    fired = page[page.index('id="fired-reminders"') :]
    assert "Call Minji" in fired and f'id="done-{followup.id}"' in fired
    assert "Nothing coming up." in page
    assert post(client, f"/reminders/{followup.id}/done").status_code == 303
    assert FollowUp.get_by_id(followup.id).done_at is not None
    assert 'class="badge done-badge"' in body(client.get("/reminders"))


def test_reminder_errors_come_back_in_the_header(client, agent, conv):
    login(client, agent)
    for form, message in [
        ({"preset": "custom", "due_at": "tomorrow"}, "Pick a date and time for the reminder."),
        ({"preset": "custom", "due_at": "2001-01-01T10:00"}, "Pick a time in the future."),
        ({"preset": "1h", "note": "x" * 300}, "The note is too long (at most 255 characters)."),
    ]:
        response = post(client, f"/c/{conv.id}/remind", form, htmx=True)
        assert response.status_code == 200 and message in body(response)
    assert post(client, f"/c/{conv.id}/remind", {"preset": "custom", "due_at": "x"}).status_code == 400
    assert FollowUp.select().count() == 0


def test_cancel_and_done_before_due_and_only_my_own(client, agent, manager, conv):
    mine = reminders.remind(conv, agent, utcnow() + dt.timedelta(hours=1), "one")
    early = reminders.remind(conv, agent, utcnow() + dt.timedelta(hours=2), "two")
    theirs = reminders.remind(conv, manager, utcnow() + dt.timedelta(hours=1), "theirs")
    login(client, agent)
    assert "theirs" not in body(client.get("/reminders"))
    assert post(client, f"/reminders/{theirs.id}/cancel").status_code == 404
    assert post(client, f"/reminders/{theirs.id}/done").status_code == 404
    assert post(client, f"/reminders/{mine.id}/cancel").status_code == 303
    assert post(client, f"/reminders/{early.id}/done").status_code == 303
    assert "Nothing coming up." in body(client.get("/reminders"))
    # neither fires; the manager's does
    assert automation.sweep_followups(now=utcnow() + dt.timedelta(hours=3)) == 1
    assert FollowUp.get_by_id(theirs.id).fired_at is not None


# --- notifications -------------------------------------------------------------------------


def test_notification_centre(client, agent, manager, conv):
    for kind, params in [
        ("reminder", {"note": "call back"}),
        ("sla_breached", {"name": "Minji", "minutes": 60}),
        ("sla_escalated", {"name": "Minji", "minutes": 120}),
        ("snooze_ended", {"name": "Minji"}),
        ("new_lead", {}),
        ("dormant_replied", {}),
        ("cadence_task", {"step": 2}),
        ("assigned", {"by": "Manager Lee", "name": "Minji"}),
        ("mention", {"by": "Manager Lee", "name": "Minji", "excerpt": "@agent can you call?"}),
    ]:
        notifications.notify(agent, kind, conv, **params)
    notifications.notify(manager, "new_lead", conv)
    login(client, agent)
    count = client.get("/notifications/count", headers={"HX-Request": "true"})
    assert re.search(r'id="notification-count">9<', body(count))
    assert 'id="notification-count">9<' in body(client.get("/inbox"))  # the bell of every page
    page = body(client.get("/notifications"))
    for text in [
        "Reminder: Minji — call back",
        "Minji has waited longer than the 60-minute target",
        "Escalated: Minji has waited over 120 minutes",
        "Snooze ended: Minji",
        "New lead: Minji",
        "Minji, a dormant lead, wrote again",
        "Follow up with Minji (step 2)",
        "Manager Lee assigned Minji to you",
        "Manager Lee mentioned you on Minji: @agent can you call?",
    ]:
        assert text in page, text
    assert page.count('class="notification ') == 9 and page.count(" unread") >= 9

    first = Notification.select().where(Notification.user == agent).order_by(Notification.id).get()
    response = client.get(f"/notifications/{first.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/c/{conv.id}")
    assert notifications.unread_count(agent) == 8
    other = Notification.get(Notification.user == manager)
    assert client.get(f"/notifications/{other.id}").status_code == 404

    assert post(client, "/notifications/read").status_code == 303
    assert notifications.unread_count(agent) == 0 and notifications.unread_count(manager) == 1
    assert 'id="notification-count"' not in body(client.get("/notifications/count"))


def test_the_count_is_one_cheap_query_and_stops_polling_after_logout(client, agent):
    login(client, agent)
    with count_queries() as counter:
        assert client.get("/notifications/count", headers={"HX-Request": "true"}).status_code == 200
    counts = [sql for sql in counter.statements if "notification" in sql.lower()]
    assert len(counts) == 1 and counts[0].upper().startswith("SELECT COUNT")
    post(client, "/logout")
    assert client.get("/notifications/count", headers={"HX-Request": "true"}).status_code == 286
    response = client.get("/notifications/count")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_assigning_notifies_the_new_assignee_but_not_oneself(agent, manager, conv):
    conversations.assign(conv, manager, agent)
    (n,) = notifications.recent(agent)
    assert (n.kind, n.conversation_id, n.params) == ("assigned", conv.id, {"by": "Manager Lee", "name": "Minji"})
    conversations.assign(conv, manager, manager)
    assert notifications.recent(manager) == []
    conversations.assign(conv, manager, None)
    assert len(notifications.recent(agent)) == 1


def test_assigning_in_the_page_notifies(client, agent, manager, conv):
    login(client, manager)
    post(client, f"/c/{conv.id}/assign", {"assignee_id": agent.id}, htmx=True)
    assert [n.kind for n in notifications.recent(agent)] == ["assigned"]


def test_mentions_in_notes_notify(client, agent, manager, admin, conv):
    colleague = factories.make_user("agent", "Sarah Park", "sarah.p@example.com")
    login(client, manager)
    text = "@Sarah Park and @AGENT please check; mail admin@example.com, not @nobody. @Manager Lee"
    post(client, f"/c/{conv.id}/reply", {"mode": "note", "text": text}, htmx=True)
    (s,) = notifications.recent(colleague)
    (a,) = notifications.recent(agent)
    assert s.kind == a.kind == "mention"
    assert a.params == {"by": "Manager Lee", "name": "Minji", "excerpt": text}
    assert notifications.recent(admin) == []  # an address is not a mention
    assert notifications.recent(manager) == []  # nor is one's own name
    conversations.add_note(conv, manager, "ping @sarah.p")
    assert len(notifications.recent(colleague)) == 2
    conversations.add_note(conv, manager, "write to x@sarah.p.example")
    assert len(notifications.recent(colleague)) == 2


def test_reminder_set_is_a_readable_timeline_line(client, agent, conv):
    reminders.remind(conv, agent, utcnow() + dt.timedelta(days=1), "")
    event = AuditEvent.get(AuditEvent.action == "reminder_set")
    login(client, agent)
    page = html.unescape(client.get(f"/c/{conv.id}").get_data(as_text=True))
    assert f'id="auditevent-{event.id}"' in page
    assert re.search(r"Agent Kim set a reminder for [^<]*\d", page)
