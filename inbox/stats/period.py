"""The period and filters of a statistics view, read from and written back to URL
arguments so that every view has a permalink."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from peewee import SQL, NodeList

from .. import team
from ..db import is_postgres, utcnow
from ..models import CHANNEL_KINDS, Contact

if TYPE_CHECKING:
    import numpy as np

PRESETS = (7, 30, 90, 365)
_EPOCH_TIME = dt.datetime(1970, 1, 1)
EPOCH_DAY = dt.date(1970, 1, 1)
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    """Local dates ``start``..``end`` (both included) in the team time zone, and optional
    filters. ``split`` divides the period for before/after comparisons."""

    start: dt.date
    end: dt.date
    tz: ZoneInfo
    agent_id: int | None = None
    channel: str | None = None
    source: str | None = None
    campaign: str | None = None
    split: dt.date | None = None

    @classmethod
    def from_args(cls, args: Mapping, now: dt.datetime | None = None) -> Filters:
        tz = ZoneInfo(team.get("timezone"))
        today = (now or utcnow()).replace(tzinfo=dt.UTC).astimezone(tz).date()
        end = _date(args.get("to")) or today
        days = _int(args.get("days"))
        start = _date(args.get("from"))
        if start is None:
            start = end - dt.timedelta(days=(days if days and 0 < days <= MAX_DAYS else DEFAULT_DAYS) - 1)
        if start > end:
            start, end = end, start
        start = max(start, end - dt.timedelta(days=MAX_DAYS - 1))
        channel = args.get("channel") if args.get("channel") in CHANNEL_KINDS else None
        split = _date(args.get("split"))
        if split is not None and not start < split <= end:
            split = None
        return cls(
            start=start, end=end, tz=tz, agent_id=_int(args.get("agent")), channel=channel,
            source=(args.get("source") or "").strip()[:255] or None,
            campaign=(args.get("campaign") or "").strip()[:255] or None, split=split,
        )  # fmt: skip

    def args(self, **override) -> dict:
        """URL arguments that reproduce these filters (for links and exports)."""
        values = {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "agent": self.agent_id,
            "channel": self.channel, "source": self.source, "campaign": self.campaign,
            "split": self.split.isoformat() if self.split else None,
        }  # fmt: skip
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc(self, day: dt.date) -> dt.datetime:
        """Local midnight starting ``day``, as naive UTC."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)

    @property
    def start_utc(self) -> dt.datetime:
        return self.utc(self.start)

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive: local midnight after ``end``."""
        return self.utc(self.end + dt.timedelta(days=1))

    def on_contact(self, query):
        """``query`` (which joins the contact table) narrowed to the source and campaign
        filters."""
        if self.source:
            query = query.where(Contact.source == self.source)
        if self.campaign:
            query = query.where(Contact.campaign == self.campaign)
        return query

    def halves(self) -> tuple[Filters, Filters] | None:
        """(before, after) the split date, or None without one."""
        if self.split is None:
            return None
        return replace(self, end=self.split - dt.timedelta(days=1), split=None), replace(
            self, start=self.split, split=None
        )

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1))


class LocalClock:
    """Local time of epoch seconds in a time zone, worked out per quarter hour (exact for
    every time zone offset in use): the same few thousand quarter hours come back for
    tens of thousands of rows. The offset from UTC is looked up once per UTC hour, and
    per quarter hour in the hours when it changes (no time zone changes it twice within
    an hour)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._hours: dict[int, int | None] = {}

    def _offset(self, epoch: int) -> int:
        moment = dt.datetime.fromtimestamp(epoch, self.tz)
        return int(moment.utcoffset().total_seconds())

    def offset(self, epoch: int) -> int:
        """The local offset from UTC, in seconds, at ``epoch`` (exact to the quarter hour)."""
        hour = epoch // 3600
        offset = self._hours.get(hour, False)
        if offset is False:
            offset = self._offset(hour * 3600)
            if offset != self._offset(hour * 3600 + 3600):
                offset = None
            self._hours[hour] = offset
        return self._offset(epoch // 900 * 900) if offset is None else offset

    def text(self, epoch: int | None) -> str:
        """ "YYYY-MM-DD HH:MM" in local time; "" for None."""
        if epoch is None:
            return ""
        return (_EPOCH_TIME + dt.timedelta(seconds=epoch + self.offset(epoch))).strftime("%Y-%m-%d %H:%M")

    def calendar(self, quarters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each quarter hour (epoch // 900, best given once each): the local day (days
        since 1970-01-01), weekday (0 = Monday) and hour."""
        import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

        offsets = np.fromiter((self.offset(q * 900) for q in quarters.tolist()), np.int64, len(quarters))
        days, seconds = np.divmod(quarters * 900 + offsets, 86400)
        return days, (days + 3) % 7, seconds // 3600  # 1970-01-01 was a Thursday

    def weekday_hour_counts(self, quarters: list[int]) -> list[list[int]]:
        """How many of ``quarters`` (epoch // 900) fall on each local weekday (rows, Monday
        first) and hour."""
        import numpy as np  # noqa: PLC0415  (loaded with the first report, not with the app)

        grid = np.zeros((7, 24), dtype=np.int64)
        if quarters:
            distinct, counts = np.unique(np.asarray(quarters, dtype=np.int64), return_counts=True)
            _, weekdays, hours = self.calendar(distinct)
            np.add.at(grid, (weekdays, hours), counts)
        return grid.tolist()


def epoch(column):
    """SQL for a naive-UTC timestamp column (or expression) as integer epoch seconds."""
    if is_postgres():
        return NodeList((SQL("CAST(EXTRACT(EPOCH FROM"), column, SQL(") AS BIGINT)")))
    if sqlite3.sqlite_version_info >= (3, 38):
        # The same whole seconds as strftime('%s'), in half the time (tens of thousands of rows).
        return NodeList((SQL("unixepoch("), column, SQL(")")))
    return NodeList((SQL("CAST(strftime('%s',"), column, SQL(") AS INTEGER)")))


def unindexed(column):
    """``column`` as an expression no index serves (SQLite's unary ``+``, the same value of
    any type), for a filter that must not draw SQLite's planner away from a better index:
    with no ANALYZE statistics it takes any equality for the more selective, and would
    read every message of an agent's whole history to find those of the period.
    PostgreSQL plans from statistics and gets the column as it is."""
    return column if is_postgres() else NodeList((SQL("+"), column), glue="")


def raw_rows(query) -> list[tuple]:
    """The rows of ``query`` as the database returns them, without peewee's conversion
    of every value (the statistics select numbers, strings and epoch seconds)."""
    return list(query.model._meta.database.execute(query))


INT, TEXT = "int", "text"


def columns(query, kinds: tuple[str, ...]) -> list[list]:
    """The rows of ``query`` as one list per selected column (``kinds``: INT or TEXT per
    column, None allowed in both), in one and the same row order.

    On SQLite each column comes back as a single JSON array (json_group_array over the
    query), parsed in C: building a Python tuple per row costs several times what the
    query itself does when a period holds tens of thousands of rows."""
    database = query.model._meta.database
    if is_postgres():
        rows = list(database.execute(query))
        return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in kinds]
    sql, params = query.sql()
    names = [f"c{i}" for i in range(len(kinds))]
    parts = ", ".join(f"json_group_array({name})" for name in names)
    wrapped = f"WITH q ({', '.join(names)}) AS ({sql}) SELECT COUNT(*), {parts} FROM q"
    count, *texts = database.execute_sql(wrapped, params).fetchone()
    if not count:
        return [[] for _ in kinds]
    return [json.loads(text) for text in texts]
