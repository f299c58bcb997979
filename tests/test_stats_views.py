"""The dashboard's pages and exports as a manager uses them: who may see them, CSV files
with the page's numbers, streamed per-conversation exports, odd filters, and the weekly
report email through the team mailbox's real SMTP server."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io

import pytest
from bs4 import BeautifulSoup

from inbox import outbound, team
from inbox.db import utcnow
from inbox.models import Conversation
from inbox.stats import weekly

from .conftest import login, post
from .factories import make_user, receive
from .test_digest import mailbox_channel  # noqa: F401  (the team mailbox on the real SMTP server)
from .test_email_channel import smtp  # noqa: F401

VIEWS = {
    "now": ["agents"],
    "responses": ["overall", "by_agent", "by_channel", "by_source", "by_campaign", "by_weekday", "by_hour", "weekly"],
    "funnel": ["overall", "rates", "by_source", "by_campaign", "by_ad_set", "by_agent"],
    "channels": ["channels", "before", "after", "heatmap"],
}
PAGES = {"now": "/stats", "responses": "/stats/responses", "funnel": "/stats/funnel", "channels": "/stats/channels"}


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("INBOX_DEFAULT_LOCALE", "en")


@pytest.fixture
def traffic(email_channel, agent, manager):
    """Three customers over the last days: two answered by people, one still waiting."""
    now = utcnow()
    for i, (minutes_ago, answer_after) in enumerate([(3000, 30), (1500, 200), (40, None)]):
        msg = receive(email_channel, address=f"c{i}@example.com", name=f"Customer {i}", minutes_ago=minutes_ago)
        conv = Conversation.get_by_id(msg.conversation_id)
        if answer_after is not None:
            at = now - dt.timedelta(minutes=minutes_ago - answer_after)
            outbound.send(conv, kind="email", text="Thanks!", author=agent, at=at)
    return now


def csv_of(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheet programs then read Korean names right
    return list(csv.reader(io.StringIO(text[1:])))


def test_agents_get_403_on_every_view_and_every_export(client, agent, traffic):
    login(client, agent)
    urls = [*PAGES.values(), "/stats/conversations.csv?days=30"]
    urls += [f"/stats/{view}.csv?table={table}&split=2020-01-01" for view, names in VIEWS.items() for table in names]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your role does not allow this." in response.get_data(as_text=True)


def test_every_table_downloads_with_the_numbers_on_the_page(client, manager, traffic):
    login(client, manager)
    today = traffic.date()
    args = f"from={(today - dt.timedelta(days=6)).isoformat()}&to={today.isoformat()}&split={(today - dt.timedelta(days=1)).isoformat()}"
    for view, names in VIEWS.items():
        page = client.get(f"{PAGES[view]}?{args}")
        assert page.status_code == 200
        soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
        for name in names:
            link = soup.select_one(f"#csv-{name}")
            assert link is not None, (view, name)
            rows = csv_of(client.get(link["href"]))
            header, body = rows[0], rows[1:]
            section = soup.select_one(f"#table-{name}")
            if name == "heatmap":
                cells = [[td.get("title") for td in tr.select("td")] for tr in section.select("tbody tr")]
                assert [row[1:] for row in body] == cells
                continue
            shown = [th.get_text(strip=True) for th in section.select("thead th")]
            page_rows = section.select("tbody tr")
            assert len(page_rows) == len(body), (view, name)
            for tr, row in zip(page_rows, body, strict=True):
                cells = tr.find_all(["th", "td"])
                for label, cell in zip(shown, cells, strict=True):
                    value = row[header.index(label)]
                    if cell.name == "td":
                        assert cell["data-value"] == value, (view, name, label)
                    else:
                        assert cell.get_text(strip=True) == value, (view, name, label)


def test_response_figures_on_the_page(client, manager, traffic):
    login(client, manager)
    rows = csv_of(client.get("/stats/responses.csv?table=overall&days=7"))
    header, (row,) = rows[0], rows[1:]
    assert row[header.index("Replies")] == "2"
    assert row[header.index("First response median")] == "115.0"  # (30 + 200) / 2 minutes
    assert row[header.index("First response p90")] == "200.0"
    page = client.get("/stats/responses?days=7").get_data(as_text=True)
    assert "1 h 55 min" in page  # the same median, as a person reads it


def test_conversation_export_streams_every_active_conversation_with_its_timers(client, manager, traffic):
    login(client, manager)
    response = client.get("/stats/conversations.csv?days=7")
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith("attachment; filename=conversations-")
    rows = csv_of(response)
    header, body = rows[0], rows[1:]
    assert len(body) == 3
    by_contact = {row[header.index("Contact")]: row for row in body}
    waiting = by_contact["Customer 2"]
    assert waiting[header.index("Waiting since")] != ""
    assert waiting[header.index("Replies in period")] == "0"
    answered = by_contact["Customer 0"]
    assert answered[header.index("Waiting since")] == ""
    assert answered[header.index("First response in period (min)")] == "30.0"
    assert answered[header.index("Replies within target")] == "1"
    # Filters are kept: nobody else's conversations for an agent filter of nobody.
    rows = csv_of(client.get("/stats/conversations.csv?days=7&agent=999999"))
    assert len(rows) == 1


def test_exported_cells_that_would_start_a_formula_are_neutralised(client, manager, email_channel):
    names = ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "+1-800", "-2+3", "\tTab"]
    for i, name in enumerate(names):
        receive(email_channel, address=f"f{i}@example.com", name=name, minutes_ago=30)
    login(client, manager)
    rows = csv_of(client.get("/stats/conversations.csv?days=7"))
    contacts = sorted(row[rows[0].index("Contact")] for row in rows[1:])
    assert contacts == sorted("'" + name for name in names)
    assert rows[1][0].isdigit()  # numbers stay numbers


@pytest.mark.parametrize(
    "query",
    ["from=garbage&to=2026-13-45", "days=-5", "days=99999999999999999999", "agent=abc", "channel=fax",
     "from=2030-01-01&to=2020-01-01", "split=yesterday", "source=" + "x" * 5000],
)  # fmt: skip
def test_odd_filters_fall_back_to_sensible_defaults(client, manager, traffic, query):
    login(client, manager)
    for path in PAGES.values():
        assert client.get(f"{path}?{query}").status_code == 200, (path, query)
    assert client.get(f"/stats/responses.csv?table=overall&{query}").status_code == 200


def test_unknown_export_table_is_a_404_with_the_reason(client, manager):
    login(client, manager)
    response = client.get("/stats/funnel.csv?table=secrets")
    assert response.status_code == 404
    assert "There is no table called secrets here." in response.get_data(as_text=True)


def test_permalink_reproduces_the_view(client, manager, traffic):
    login(client, manager)
    page = client.get("/stats/funnel?from=2026-01-05&to=2026-02-01&channel=sms&source=naver-ad")
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    link = soup.select_one("#permalink")["href"]
    assert "from=2026-01-05" in link and "to=2026-02-01" in link and "channel=sms" in link and "source=naver-ad" in link
    assert client.get(link).status_code == 200


def test_weekly_report_goes_to_managers_once_in_their_language(smtp, mailbox_channel, traffic):  # noqa: F811
    make_user("manager", "김민지", "minji@example.com", locale="ko")
    make_user("agent", "Agent Kim", "agent-kim@example.com", locale="en")
    team.put("timezone", "Asia/Seoul")
    team.put("weekly_report_day", 0)
    team.put("weekly_report_hour", 8)
    monday_9 = dt.datetime(2026, 11, 23, 0, 0)  # Monday 09:00 in Seoul
    assert weekly.send_due(monday_9 - dt.timedelta(hours=2), base_url="https://inbox.example.com") == 0  # 07:00
    managers = weekly.send_due(monday_9, base_url="https://inbox.example.com")
    assert managers >= 1
    assert weekly.send_due(monday_9 + dt.timedelta(hours=1)) == 0  # once a week
    mails = [email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in smtp.messages]
    recipients = {m["To"] for m in mails}
    assert "minji@example.com" in recipients and "agent-kim@example.com" not in recipients
    (korean,) = [m for m in mails if m["To"] == "minji@example.com"]
    body = korean.get_content()
    assert "2026-11-16" in body and "2026-11-22" in body  # last week, Monday to Sunday
    assert "https://inbox.example.com/stats/responses?from=2026-11-16&to=2026-11-22" in body
    assert korean["Subject"] == "주간 받은편지함 보고서, 2026-11-16"
    assert "첫 응답 중앙값" in body


def test_managers_choose_when_the_weekly_report_goes_out(client, manager):
    login(client, manager)
    page = client.get("/settings/sla").get_data(as_text=True)
    assert 'id="section-report"' in page
    response = post(
        client, "/settings/sla", {"section": "report", "weekly_report_day": "4", "weekly_report_hour": "17"}
    )
    assert response.status_code == 303
    assert (team.get("weekly_report_day"), team.get("weekly_report_hour")) == (4, 17)
    bad = post(client, "/settings/sla", {"section": "report", "weekly_report_day": "4", "weekly_report_hour": "25"})
    assert bad.status_code == 400
    assert team.get("weekly_report_hour") == 17  # nothing saved
    post(client, "/settings/sla", {"section": "report", "weekly_report_day": "", "weekly_report_hour": "8"})
    assert team.get("weekly_report_enabled") is False
    assert 'value="" selected' in client.get("/settings/sla").get_data(as_text=True)
    assert weekly.send_due(dt.datetime(2026, 11, 23, 0, 0)) == 0  # switched off
