"""Every statistics table as columns and rows, built once from a report and shown both
on the page and in its CSV export, so the two always carry the same numbers.

Durations are minutes and rates are percentages, both rounded to one decimal; the page
formats minutes as hours and minutes, the CSV keeps the number."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext

from ..labels import CHANNEL_NAMES, LEAD_STATUS
from . import channels, funnel, now, replies
from .figures import Summary

WEEKDAYS = (
    lazy_gettext("Mon"),
    lazy_gettext("Tue"),
    lazy_gettext("Wed"),
    lazy_gettext("Thu"),
    lazy_gettext("Fri"),
    lazy_gettext("Sat"),
    lazy_gettext("Sun"),
)
NONE = lazy_gettext("(none)")
UNASSIGNED = lazy_gettext("(nobody)")


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # a lazy translation
    kind: str = "count"  # text | count | minutes | percent | number
    on_page: bool = True  # False: only in the CSV (the page stays readable)


@dataclass
class Table:
    name: str
    title: object
    columns: list[Column]
    rows: list[list]

    @property
    def page_columns(self) -> list[tuple[int, Column]]:
        return [(i, c) for i, c in enumerate(self.columns) if c.on_page]


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summary_columns(prefix: str, label: str, on_page: bool = True) -> list[Column]:
    return [
        Column(f"{prefix}_median", lazy_gettext("%(what)s median", what=label), "minutes"),
        Column(f"{prefix}_p90", lazy_gettext("%(what)s p90", what=label), "minutes", on_page),
        Column(f"{prefix}_average", lazy_gettext("%(what)s average", what=label), "minutes", on_page),
    ]


def _summary(s: Summary) -> list:
    return [minutes(s.median), minutes(s.p90), minutes(s.average)]


RESPONSE_COLUMNS = [
    Column("replies", lazy_gettext("Replies")),
    Column("first_responses", lazy_gettext("First responses")),
    *_summary_columns("first", lazy_gettext("First response")),
    *_summary_columns("first_business", lazy_gettext("First response, business hours"), on_page=False),
    *_summary_columns("response", lazy_gettext("Response")),
    *_summary_columns("response_business", lazy_gettext("Response, business hours"), on_page=False),
    Column("sla", lazy_gettext("Within target"), "percent"),
]


def _response_row(label, s: replies.ResponseStats) -> list:
    return [
        label, s.all.count, s.first.count, *_summary(s.first), *_summary(s.first_business), *_summary(s.all),
        *_summary(s.all_business), percent(s.attainment),
    ]  # fmt: skip


def response_tables(report: replies.ResponseReport) -> list[Table]:
    def table(name, title, head, groups, label=lambda g: g.label) -> Table:
        return Table(name, title, [Column("group", head, "text"), *RESPONSE_COLUMNS],
                     [_response_row(label(g), g.stats) for g in groups])  # fmt: skip

    return [
        Table(
            "overall",
            lazy_gettext("All replies"),
            [Column("group", lazy_gettext("Period"), "text"), *RESPONSE_COLUMNS],
            [_response_row(lazy_gettext("All"), report.overall)],
        ),  # fmt: skip
        table(
            "by_agent",
            lazy_gettext("By agent"),
            lazy_gettext("Agent"),
            report.by_agent,
            lambda g: g.label or UNASSIGNED,
        ),
        table(
            "by_channel",
            lazy_gettext("By channel"),
            lazy_gettext("Channel"),
            report.by_channel,
            lambda g: CHANNEL_NAMES.get(g.key, g.label),
        ),  # fmt: skip
        table(
            "by_source",
            lazy_gettext("By lead source"),
            lazy_gettext("Source"),
            report.by_source,
            lambda g: g.label or NONE,
        ),
        table(
            "by_campaign",
            lazy_gettext("By campaign"),
            lazy_gettext("Campaign"),
            report.by_campaign,
            lambda g: g.label or NONE,
        ),
        table(
            "by_weekday",
            lazy_gettext("By weekday the customer wrote"),
            lazy_gettext("Weekday"),
            report.by_weekday,
            lambda g: WEEKDAYS[g.key],
        ),  # fmt: skip
        table("by_hour", lazy_gettext("By hour the customer wrote"), lazy_gettext("Hour"), report.by_hour),
        table("weekly", lazy_gettext("By week"), lazy_gettext("Week of"), report.weekly),
    ]


FUNNEL_COLUMNS = [
    Column("leads", lazy_gettext("Leads")),
    Column("contacted", lazy_gettext("Contacted")),
    Column("contacted_1h", lazy_gettext("Contacted within 1 h")),
    Column("contacted_24h", lazy_gettext("Contacted within 24 h")),
    Column("wrote_to", lazy_gettext("Written to")),
    Column("responded", lazy_gettext("Responded")),
    Column("responded_3d", lazy_gettext("Responded within 3 days")),
    Column("interested", LEAD_STATUS["interested"]),
    Column("won", LEAD_STATUS["won"]),
    Column("lost", LEAD_STATUS["lost"]),
    Column("dormant", LEAD_STATUS["dormant"]),
    Column("contact_rate", lazy_gettext("Contact rate"), "percent"),
    Column("contact_rate_1h", lazy_gettext("Contact rate within 1 h"), "percent"),
    Column("contact_rate_24h", lazy_gettext("Contact rate within 24 h"), "percent"),
    Column("response_rate", lazy_gettext("Response rate"), "percent"),
    Column("response_rate_3d", lazy_gettext("Response rate within 3 days"), "percent"),
    Column("conversion_rate", lazy_gettext("Conversion rate"), "percent"),
    Column("touches", lazy_gettext("Touches before a reply"), "number"),
]


def _funnel_row(label, r: funnel.FunnelRow) -> list:
    return [
        label, r.leads, r.contacted, r.contacted_1h, r.contacted_24h, r.wrote_to, r.responded, r.responded_3d,
        r.interested, r.won, r.lost, r.dormant, percent(r.contact_rate), percent(r.contact_rate_1h),
        percent(r.contact_rate_24h), percent(r.response_rate), percent(r.response_rate_3d),
        percent(r.conversion_rate), None if r.touches_before_reply is None else round(r.touches_before_reply, 1),
    ]  # fmt: skip


def funnel_tables(report: funnel.FunnelReport) -> list[Table]:
    def table(name, title, head, groups, empty=NONE) -> Table:
        return Table(name, title, [Column("group", head, "text"), *FUNNEL_COLUMNS],
                     [_funnel_row(g.label or empty, g.row) for g in groups])  # fmt: skip

    rates = Table(
        "rates", lazy_gettext("Reactivation and follow-ups"),
        [Column("measure", lazy_gettext("Measure"), "text"), Column("part", lazy_gettext("Count")), Column("whole", lazy_gettext("Out of")),
         Column("rate", lazy_gettext("Rate"), "percent")],
        [[lazy_gettext("Reactivation: dormant leads who wrote after a reactivation touch"), report.reactivation.part,
          report.reactivation.whole, percent(report.reactivation.rate)],
         [lazy_gettext("Follow-ups done of those due"), report.followups.part, report.followups.whole,
          percent(report.followups.rate)]],
    )  # fmt: skip
    return [
        Table(
            "overall",
            lazy_gettext("All leads"),
            [Column("group", lazy_gettext("Period"), "text"), *FUNNEL_COLUMNS],
            [_funnel_row(lazy_gettext("All"), report.overall)],
        ),  # fmt: skip
        rates,
        table("by_source", lazy_gettext("By lead source"), lazy_gettext("Source"), report.by_source),
        table("by_campaign", lazy_gettext("By campaign"), lazy_gettext("Campaign"), report.by_campaign),
        table("by_ad_set", lazy_gettext("By ad set"), lazy_gettext("Ad set"), report.by_ad_set),
        table("by_agent", lazy_gettext("By owner"), lazy_gettext("Owner"), report.by_agent, UNASSIGNED),
    ]


CHANNEL_COLUMNS = [
    Column("channel", lazy_gettext("Channel"), "text"),
    Column("inbound", lazy_gettext("Customer messages")),
    Column("replies", lazy_gettext("Our replies")),
    Column("automatic", lazy_gettext("Automatic messages")),
    Column("response_median", lazy_gettext("Our response median"), "minutes"),
    Column("response_p90", lazy_gettext("Our response p90"), "minutes"),
    Column("wrote_to", lazy_gettext("Conversations we wrote to")),
    Column("reply_rate", lazy_gettext("Customer reply rate"), "percent"),
    Column("reply_rate_3d", lazy_gettext("Customer reply rate within 3 days"), "percent"),
    Column("reply_median", lazy_gettext("Customer reply time median"), "minutes"),
    Column("conversion_rate", lazy_gettext("Won"), "percent"),
]


def _channel_rows(rows: list[channels.ChannelRow]) -> list[list]:
    return [
        [CHANNEL_NAMES.get(r.channel, r.channel), r.inbound, r.replies, r.automatic, minutes(r.response.median),
         minutes(r.response.p90), r.wrote_to, percent(r.reply_rate), percent(r.reply_rate_3d),
         minutes(r.reply_time.median), percent(r.conversion_rate)]
        for r in rows
    ]  # fmt: skip


def channel_tables(report: channels.ChannelReport, grid: list[list[int]]) -> list[Table]:
    tables = [Table("channels", lazy_gettext("Channels side by side"), CHANNEL_COLUMNS, _channel_rows(report.rows))]
    if report.before is not None:
        tables.append(
            Table("before", lazy_gettext("Before the split date"), CHANNEL_COLUMNS, _channel_rows(report.before))
        )
        tables.append(Table("after", lazy_gettext("From the split date"), CHANNEL_COLUMNS, _channel_rows(report.after)))
    hours = [Column(f"h{h:02d}", f"{h:02d}") for h in range(24)]
    tables.append(Table("heatmap", lazy_gettext("Customer messages by weekday and hour"),
                        [Column("weekday", lazy_gettext("Weekday"), "text"), *hours],
                        [[WEEKDAYS[d], *grid[d]] for d in range(7)]))  # fmt: skip
    return tables


def now_tables(snapshot: now.RightNow) -> list[Table]:
    return [
        Table(
            "agents",
            lazy_gettext("Per agent"),
            [
                Column("agent", lazy_gettext("Agent"), "text"),
                Column("open", lazy_gettext("Open, assigned")),
                Column("waiting", lazy_gettext("Waiting on them")),
                Column("breached", lazy_gettext("Past target")),
            ],
            [[a.name, a.open, a.waiting, a.breached] for a in snapshot.agents],
        )  # fmt: skip
    ]


def csv_rows(table: Table) -> Iterator[list]:
    yield [str(c.label) for c in table.columns]
    for row in table.rows:
        yield [v if v is None or isinstance(v, int | float) else str(v) for v in row]


def find(tables: Iterable[Table], name: str) -> Table | None:
    return next((t for t in tables if t.name == name), None)
