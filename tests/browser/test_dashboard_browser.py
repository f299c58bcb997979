"""The manager dashboard in the browser, on the demo data: the four views with their
charts in English and Korean, CSV downloads that carry the page's numbers, filters kept
in the URL and the permalink, the agents' refusal, and the live "Right now" tiles."""

from __future__ import annotations

import codecs
import csv
import gettext
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

import inbox
from inbox import demo
from inbox.models import Channel, Message, User
from inbox.stats import now, replies
from inbox.stats.period import Filters

from .. import factories
from .helpers import assert_same_page, log_in, mark_page, png_colours

pytestmark = pytest.mark.browser

KO_CATALOG = Path(inbox.__file__).resolve().parent / "translations" / "ko" / "LC_MESSAGES" / "messages.mo"
HANGUL = re.compile(r"[\uac00-\ud7a3]")

# View, its tab label, the number of charts it draws, and the tables compared with their CSV.
VIEWS = {
    "now": ("Right now", 1, ["agents"]),
    "responses": ("Response times", 3, ["overall", "by_agent", "by_channel", "by_weekday"]),
    "funnel": ("Lead funnel", 1, ["overall", "rates", "by_source", "by_agent"]),
    "channels": ("Channels", 2, ["channels", "heatmap"]),
}
PATHS = {"now": "/stats", "responses": "/stats/responses", "funnel": "/stats/funnel", "channels": "/stats/channels"}
TILES = {
    "tile-waiting": "waiting",
    "tile-breached": "breached",
    "tile-unassigned": "unassigned",
    "tile-followups": "followups_overdue",
    "tile-new-leads": "new_leads_unanswered",
}

# A table as the page shows it: header texts, then per row the row label (<th>) and the
# raw number of each cell (data-value; the heatmap keeps it in the title).
PAGE_TABLE = """section => {
    const table = section.querySelector("table");
    if (!table) return {heads: [], rows: []};
    const heads = [...table.querySelectorAll("thead th")].map(th => th.textContent.trim());
    const rows = [...table.querySelectorAll("tbody tr")].map(tr => [...tr.children].map(
        cell => cell.tagName === "TH" ? cell.textContent.trim() : (cell.dataset.value ?? cell.title)));
    return {heads, rows};
}"""
DRAWN = "svg => svg.querySelectorAll('g.series rect, g.series path, g.series circle').length"


@pytest.fixture
def manager():
    """The demo team and customers, and a manager who reads English."""
    demo.load("demo password 1")
    return factories.make_user("manager", "Manager Lee", "lead@example.com", locale="en")


def korean(msgid: str) -> str | None:
    """The compiled Korean translation of a string, or None while it has none."""
    if not KO_CATALOG.exists():
        return None
    with KO_CATALOG.open("rb") as fh:
        text = gettext.GNUTranslations(fh).gettext(msgid)
    return text if HANGUL.search(text) else None


def open_view(page, view: str) -> None:
    page.locator(f"#tab-{view}").click()
    expect(page.locator(f"#tab-{view}")).to_have_attribute("aria-current", "page")
    expect(page).to_have_url(re.compile(rf"{re.escape(PATHS[view])}(\?|$)"))
    expect(page.locator("#nav-stats")).to_have_attribute("aria-current", "page")


def assert_right_now_tiles(page) -> None:
    snapshot = now.snapshot()
    assert snapshot.waiting > 0, "the demo data has customers waiting"
    for tile, field in TILES.items():
        expect(page.locator(f"#{tile} .figure")).to_have_text(str(getattr(snapshot, field)))


def assert_charts_drawn(page, count: int) -> None:
    charts = page.locator("section.chart")
    expect(charts).to_have_count(count)
    for i in range(count):
        chart = charts.nth(i)
        svg = chart.locator("svg").first
        expect(svg).to_be_visible()
        title = svg.locator("title").first.text_content()
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, f"chart {title!r} has no size: {box}"
        assert svg.evaluate(DRAWN) > 0, f"chart {title!r} draws no bars, lines or dots"
        image = png_colours(page, chart.screenshot())
        assert image["width"] > 100 and image["height"] > 100, (title, image)
        assert image["colours"] > 8, f"the screenshot of chart {title!r} is blank: {image}"


def download_csv(page, link_id: str) -> tuple[str, list[list[str]]]:
    with page.expect_download() as info:
        page.locator(f"#{link_id}").click()
    download = info.value
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8), f"{link_id}: no UTF-8 BOM"
    return download.suggested_filename, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def assert_page_matches_csv(page, view: str, name: str, f: Filters) -> None:
    section = page.locator(f"#table-{name}")
    shown = section.evaluate(PAGE_TABLE)
    filename, rows = download_csv(page, f"csv-{name}")
    assert filename == f"{view}-{name}-{f.start}-{f.end}.csv"
    head, body = rows[0], rows[1:]
    where = f"{view}/{name}"
    assert shown["rows"], f"{where}: the page shows no rows"
    assert len(shown["rows"]) == len(body), f"{where}: {len(shown['rows'])} rows on the page, {len(body)} in the CSV"
    # The heatmap's corner cell has no header; every other column is found by its header.
    columns = [0 if (j == 0 and not h) else head.index(h) if h in head else None for j, h in enumerate(shown["heads"])]
    missing = [h for h, k in zip(shown["heads"], columns, strict=True) if k is None]
    assert not missing, f"{where}: page columns {missing} not in the CSV header {head}"
    numbers = 0
    for r, (on_page, in_csv) in enumerate(zip(shown["rows"], body, strict=True)):
        assert len(on_page) == len(columns), f"{where} row {r}: {on_page}"
        for value, k, h in zip(on_page, columns, shown["heads"], strict=True):
            assert value == in_csv[k], f"{where} row {r} column {h!r}: page {value!r}, CSV {in_csv[k]!r}"
            numbers += bool(re.fullmatch(r"-?\d+(\.\d+)?", value) and float(value))
    assert numbers, f"{where}: no non-zero number to compare"


def test_the_dashboard_in_english_and_korean(page, manager, artifacts):
    log_in(page, manager)
    page.locator("#nav-stats").click()
    expect(page).to_have_url(re.compile(r"/stats$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#now-tiles .tile")).to_have_count(len(TILES))
    expect(page.locator("#tile-waiting .what")).to_have_text("Waiting for a reply")
    assert_right_now_tiles(page)

    for view, (label, charts, _tables) in VIEWS.items():
        open_view(page, view)
        expect(page.locator(f"#tab-{view}")).to_have_text(label)
        expect(page).to_have_title(re.compile(rf"^{re.escape(label)} · "))
        assert_charts_drawn(page, charts)
        page.screenshot(path=str(artifacts / f"dashboard-{view}-en.png"), full_page=True)

    open_view(page, "now")
    page.locator("#switch-language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page).to_have_url(re.compile(r"/stats\?from=[-\d]+&to=[-\d]+$"))  # the same view, now in Korean
    expect(page.locator("#switch-language")).to_have_text("English")
    assert_right_now_tiles(page)
    if not KO_CATALOG.exists():
        pytest.skip("Korean labels not checked: inbox/translations/ko/LC_MESSAGES/messages.mo is not compiled yet")
    # The shared navigation is translated already; the dashboard's own strings show their
    # translation once the catalog has one, and the English source until then.
    nav = page.locator("nav.mainnav")
    for msgid in ("Inbox", "Contacts"):
        assert korean(msgid), f"{msgid!r} has no Korean translation"
        expect(nav).to_contain_text(korean(msgid))
    expect(page.locator("#nav-stats")).to_have_text(korean("Dashboard") or "Dashboard")
    expect(page.locator("#tile-waiting .what")).to_have_text(korean("Waiting for a reply") or "Waiting for a reply")

    for view, (label, charts, _tables) in VIEWS.items():
        open_view(page, view)
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        expect(page.locator(f"#tab-{view}")).to_have_text(korean(label) or label)
        if view != "now":
            expect(page.locator("#stats-filters button.primary")).to_have_text(korean("Show") or "Show")
        assert_charts_drawn(page, charts)
        page.screenshot(path=str(artifacts / f"dashboard-{view}-ko.png"), full_page=True)


def test_csv_downloads_carry_the_numbers_on_the_page(page, manager):
    log_in(page, manager)
    page.locator("#nav-stats").click()
    f = Filters.from_args({})
    for view, (_label, _charts, names) in VIEWS.items():
        open_view(page, view)
        for name in names:
            assert_page_matches_csv(page, view, name, f)

    # One row per conversation with a customer message or a reply in the period; the demo's
    # current customers all wrote within the last 30 days.
    filename, rows = download_csv(page, "csv-conversations")
    assert filename == f"conversations-{f.start}-{f.end}.csv"
    assert rows[0][:2] == ["Conversation", "Contact"]
    in_period = (Message.sent_at >= f.start_utc) & (Message.sent_at < f.end_utc)
    active = Message.select(Message.conversation).where(Message.direction.in_(["in", "out"]) & in_period).distinct()
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(c for (c,) in active.tuples())
    assert {customer[0] for customer in demo.CUSTOMERS} <= {row[1] for row in rows[1:]}

    # In Korean the page and its CSV share the translated headers, so columns still match.
    page.locator("#switch-language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    for view, name in (("channels", "channels"), ("responses", "by_agent"), ("funnel", "overall")):
        open_view(page, view)
        assert_page_matches_csv(page, view, name, f)


def test_filters_live_in_the_url_and_the_permalink_reproduces_the_view(page, manager):
    log_in(page, manager)
    page.locator("#nav-stats").click()
    open_view(page, "responses")
    month = Filters.from_args({})
    expect(page.locator("#response-tiles .tile").nth(3).locator(".figure")).to_have_text(
        str(replies.report(month).overall.all.count)
    )

    page.locator("#stats-filters .presets").get_by_role("link", name="7 days", exact=True).click()
    expect(page).to_have_url(re.compile(r"/stats/responses\?days=7$"))
    week = Filters.from_args({"days": "7"})
    expect(page.locator("#stats-filters input[name=from]")).to_have_value(week.start.isoformat())
    expect(page.locator("#stats-filters input[name=to]")).to_have_value(week.end.isoformat())
    expect(page.locator("p.period")).to_contain_text(f"{week.start} to {week.end} (7 days)")
    expect(page.locator("#permalink")).to_have_attribute("href", f"/stats/responses?from={week.start}&to={week.end}")
    expect(page.locator("#response-tiles .tile").nth(3).locator(".figure")).to_have_text(
        str(replies.report(week).overall.all.count)
    )

    # Thirty days typed in, one agent chosen, then Show.
    sarah = User.get(User.email == "sarah.park@example.com")
    page.locator("#stats-filters input[name=from]").fill(month.start.isoformat())
    page.locator("#stats-filters select[name=agent]").select_option(label="Sarah Park")
    page.locator("#stats-filters button.primary").click()
    expect(page).to_have_url(re.compile(rf"[?&]from={month.start}&to={month.end}&agent={sarah.id}(&|$)"))
    chosen = Filters.from_args({"from": month.start.isoformat(), "to": month.end.isoformat(), "agent": str(sarah.id)})
    report = replies.report(chosen)
    assert report.overall.all.count > 0, "Sarah answered a demo customer this month"
    expect(page.locator("#response-tiles .tile").nth(3).locator(".figure")).to_have_text(str(report.overall.all.count))
    expect(page.locator("#table-by_agent tbody th")).to_have_text(["Sarah Park"])
    expect(page.locator("p.period")).to_contain_text(f"{month.start} to {month.end} (30 days)")

    # The links of the view keep the filters: the permalink, the other tabs and the CSVs.
    query = f"from={month.start}&to={month.end}&agent={sarah.id}"
    permalink = page.locator("#permalink")
    expect(permalink).to_have_attribute("href", f"/stats/responses?{query}")
    expect(page.locator("#tab-funnel")).to_have_attribute("href", f"/stats/funnel?{query}")
    expect(page.locator("#csv-by_agent")).to_have_attribute("href", f"/stats/responses.csv?{query}&table=by_agent")
    shown = page.locator(".stats-page").inner_text()

    permalink.click()
    expect(page).to_have_url(re.compile(rf"/stats/responses\?{re.escape(query)}$"))
    expect(page.locator("#stats-filters select[name=agent]")).to_have_value(str(sarah.id))
    assert page.locator(".stats-page").inner_text() == shown

    # Opened afresh, as a colleague following the link would.
    other = page.context.new_page()
    other.goto(f"/stats/responses?{query}")
    assert other.locator(".stats-page").inner_text() == shown
    other.close()


def test_the_funnel_columns_are_korean_for_a_korean_manager(page, manager):
    if not KO_CATALOG.exists():
        pytest.skip("inbox/translations/ko/LC_MESSAGES/messages.mo is not compiled yet")
    log_in(page, manager)
    page.locator("#switch-language").click()
    page.goto("/stats/funnel")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    heads = page.locator("#table-overall thead th").all_inner_texts()
    for msgid in ("Leads", "Contacted", "Interested", "Won", "Lost", "Dormant"):
        label = korean(msgid) or msgid
        assert label in heads, f"{msgid!r}: {label!r} not among the funnel columns {heads}"


def test_an_agent_is_refused_the_dashboard(page, user):
    log_in(page, user)
    expect(page.locator("nav.mainnav")).to_contain_text("Inbox")
    expect(page.locator("#nav-stats")).to_have_count(0)
    for path in ("/stats", "/stats/responses?days=7", "/stats/funnel", "/stats/channels"):
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.locator(".error-reason")).to_have_text("Your role does not allow this.")
        expect(page.locator("section.chart")).to_have_count(0)
    for path in ("/stats/responses.csv?table=overall", "/stats/conversations.csv", "/stats?part=live"):
        assert page.request.get(path, headers={"HX-Request": "true"}).status == 403, path


def test_right_now_refreshes_without_a_reload(page, manager):
    log_in(page, manager)
    page.locator("#nav-stats").click()
    live = page.locator("#now-live")
    expect(live).to_have_attribute("hx-trigger", "every 30s")
    expect(live).to_have_attribute("hx-get", "/stats?part=live")
    assert_right_now_tiles(page)

    fragment = page.request.get("/stats?part=live", headers={"HX-Request": "true"})
    assert fragment.ok
    body = fragment.text()
    assert 'id="now-tiles"' in body and 'id="table-agents"' in body
    assert "<html" not in body and 'id="now-live"' not in body, "the refresh must return the tiles only"

    before = now.snapshot()
    mark_page(page)
    mailbox = Channel.get(Channel.name == "Demo mailbox")
    factories.receive(
        mailbox, address="jiwoo@example.com", name="Jiwoo Han", subject="Bulk order",
        text="Do you ship 300 units to Busan?",
    )  # fmt: skip
    after = now.snapshot()
    assert after.waiting == before.waiting + 1
    # A new contact on the mailbox is a new lead: an agent owns it at once.
    assert after.unassigned == before.unassigned
    assert sum(a.waiting for a in after.agents) == sum(a.waiting for a in before.agents) + 1

    # What the 30-second trigger does, asked for now.
    page.evaluate("() => htmx.ajax('GET', '/stats?part=live', '#now-live')")
    expect(page.locator("#tile-waiting .figure")).to_have_text(str(after.waiting))
    assert_right_now_tiles(page)
    expect(page.locator("#now-live #now-tiles")).to_have_count(1)
    expect(page.locator("#now-live section.chart svg")).to_have_count(1)
    assert_same_page(page)
