"""Every statistics table as columns and rows, built once from a report and shown both
on the page and in its CSV export, so the two always carry the same numbers.

Durations are minutes and rates are percentages, both rounded to one decimal; the page
formats minutes as hours and minutes, the CSV keeps the number."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..labels import CHANNEL_NAMES, lead_status_label
from . import channels, funnel, now, replies
from .figures import Summary

WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
NONE = _l("(none)")
UNASSIGNED = _l("(nobody)")


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

    def column(self, key: str) -> list:
        index = [c.key for c in self.columns].index(key)
        return [row[index] for row in self.rows]


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summary_columns(prefix: str, label: str, on_page: bool = True) -> list[Column]:
    return [
        Column(f"{prefix}_median", _l("%(what)s median", what=label), "minutes"),
        Column(f"{prefix}_p90", _l("%(what)s p90", what=label), "minutes", on_page),
        Column(f"{prefix}_average", _l("%(what)s average", what=label), "minutes", on_page),
    ]


def _summary(s: Summary) -> list:
    return [minutes(s.median), minutes(s.p90), minutes(s.average)]


RESPONSE_COLUMNS = [
    Column("replies", _l("Replies")),
    Column("first_responses", _l("First responses")),
    *_summary_columns("first", _l("First response")),
    *_summary_columns("first_business", _l("First response, business hours"), on_page=False),
    *_summary_columns("response", _l("Response")),
    *_summary_columns("response_business", _l("Response, business hours"), on_page=False),
    Column("sla", _l("Within target"), "percent"),
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
        Table("overall", _l("All replies"), [Column("group", _l("Period"), "text"), *RESPONSE_COLUMNS],
              [_response_row(_l("All"), report.overall)]),  # fmt: skip
        table("by_agent", _l("By agent"), _l("Agent"), report.by_agent, lambda g: g.label or UNASSIGNED),
        table("by_channel", _l("By channel"), _l("Channel"), report.by_channel,
              lambda g: CHANNEL_NAMES.get(g.key, g.label)),  # fmt: skip
        table("by_source", _l("By lead source"), _l("Source"), report.by_source, lambda g: g.label or NONE),
        table("by_campaign", _l("By campaign"), _l("Campaign"), report.by_campaign, lambda g: g.label or NONE),
        table("by_weekday", _l("By weekday the customer wrote"), _l("Weekday"), report.by_weekday,
              lambda g: WEEKDAYS[g.key]),  # fmt: skip
        table("by_hour", _l("By hour the customer wrote"), _l("Hour"), report.by_hour),
        table("weekly", _l("By week"), _l("Week of"), report.weekly),
    ]


FUNNEL_COLUMNS = [
    Column("leads", _l("Leads")),
    Column("contacted", _l("Contacted")),
    Column("contacted_1h", _l("Contacted within 1 h")),
    Column("contacted_24h", _l("Contacted within 24 h")),
    Column("wrote_to", _l("Written to")),
    Column("responded", _l("Responded")),
    Column("responded_3d", _l("Responded within 3 days")),
    Column("interested", lead_status_label("interested")),
    Column("won", lead_status_label("won")),
    Column("lost", lead_status_label("lost")),
    Column("dormant", lead_status_label("dormant")),
    Column("contact_rate", _l("Contact rate"), "percent"),
    Column("contact_rate_1h", _l("Contact rate within 1 h"), "percent"),
    Column("contact_rate_24h", _l("Contact rate within 24 h"), "percent"),
    Column("response_rate", _l("Response rate"), "percent"),
    Column("response_rate_3d", _l("Response rate within 3 days"), "percent"),
    Column("conversion_rate", _l("Conversion rate"), "percent"),
    Column("touches", _l("Touches before a reply"), "number"),
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
        "rates", _l("Reactivation and follow-ups"),
        [Column("measure", _l("Measure"), "text"), Column("part", _l("Count")), Column("whole", _l("Out of")),
         Column("rate", _l("Rate"), "percent")],
        [[_l("Reactivation: dormant leads who wrote after a reactivation touch"), report.reactivation.part,
          report.reactivation.whole, percent(report.reactivation.rate)],
         [_l("Follow-ups done of those due"), report.followups.part, report.followups.whole,
          percent(report.followups.rate)]],
    )  # fmt: skip
    return [
        Table("overall", _l("All leads"), [Column("group", _l("Period"), "text"), *FUNNEL_COLUMNS],
              [_funnel_row(_l("All"), report.overall)]),  # fmt: skip
        rates,
        table("by_source", _l("By lead source"), _l("Source"), report.by_source),
        table("by_campaign", _l("By campaign"), _l("Campaign"), report.by_campaign),
        table("by_ad_set", _l("By ad set"), _l("Ad set"), report.by_ad_set),
        table("by_agent", _l("By owner"), _l("Owner"), report.by_agent, UNASSIGNED),
    ]


CHANNEL_COLUMNS = [
    Column("channel", _l("Channel"), "text"),
    Column("inbound", _l("Customer messages")),
    Column("replies", _l("Our replies")),
    Column("automatic", _l("Automatic messages")),
    Column("response_median", _l("Our response median"), "minutes"),
    Column("response_p90", _l("Our response p90"), "minutes"),
    Column("wrote_to", _l("Conversations we wrote to")),
    Column("reply_rate", _l("Customer reply rate"), "percent"),
    Column("reply_rate_3d", _l("Customer reply rate within 3 days"), "percent"),
    Column("reply_median", _l("Customer reply time median"), "minutes"),
    Column("conversion_rate", _l("Won"), "percent"),
]


def _channel_rows(rows: list[channels.ChannelRow]) -> list[list]:
    return [
        [CHANNEL_NAMES.get(r.channel, r.channel), r.inbound, r.replies, r.automatic, minutes(r.response.median),
         minutes(r.response.p90), r.wrote_to, percent(r.reply_rate), percent(r.reply_rate_3d),
         minutes(r.reply_time.median), percent(r.conversion_rate)]
        for r in rows
    ]  # fmt: skip


def channel_tables(report: channels.ChannelReport, grid: list[list[int]]) -> list[Table]:
    tables = [Table("channels", _l("Channels side by side"), CHANNEL_COLUMNS, _channel_rows(report.rows))]
    if report.before is not None:
        tables.append(Table("before", _l("Before the split date"), CHANNEL_COLUMNS, _channel_rows(report.before)))
        tables.append(Table("after", _l("From the split date"), CHANNEL_COLUMNS, _channel_rows(report.after)))
    hours = [Column(f"h{h:02d}", f"{h:02d}") for h in range(24)]
    tables.append(Table("heatmap", _l("Customer messages by weekday and hour"),
                        [Column("weekday", _l("Weekday"), "text"), *hours],
                        [[WEEKDAYS[d], *grid[d]] for d in range(7)]))  # fmt: skip
    return tables


def now_tables(snapshot: now.RightNow) -> list[Table]:
    return [
        Table(
            "agents", _l("Per agent"),
            [Column("agent", _l("Agent"), "text"), Column("open", _l("Open, assigned")),
             Column("waiting", _l("Waiting on them")), Column("breached", _l("Past target"))],
            [[a.name, a.open, a.waiting, a.breached] for a in snapshot.agents],
        )  # fmt: skip
    ]


def csv_rows(table: Table) -> Iterator[list]:
    yield [str(c.label) for c in table.columns]
    for row in table.rows:
        yield [v if v is None or isinstance(v, int | float) else str(v) for v in row]


def find(tables: Iterable[Table], name: str) -> Table | None:
    return next((t for t in tables if t.name == name), None)
