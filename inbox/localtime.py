"""Local time for automatic touches and reminders: a contact's time zone, the team's
quiet hours, local days and business mornings. The acknowledgement, the follow-up plan,
the re-engagement and the waiting-lead reminders all read time through here, so that
"not at night" and "one a day" mean the same everywhere.

All moments in and out are naive UTC, as in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import team
from .models import Contact, Message

MORNING = dt.time(8, 0)  # "the next morning" when quiet hours are switched off
DEFAULT_QUIET = (dt.time(21, 0), dt.time(8, 0))
WEEKEND = (5, 6)  # Saturday, Sunday


def parse_quiet(value) -> tuple[dt.time, dt.time] | None:
    """(start, end) local times from the team setting; None when switched off (no value,
    or start == end). An unreadable value falls back to 21:00-08:00."""
    if not value:
        return None
    try:
        start, end = (dt.time.fromisoformat(v) for v in value)
    except (TypeError, ValueError):
        start, end = DEFAULT_QUIET
    return None if start == end else (start, end)


def zone(*names: str | None) -> ZoneInfo:
    """The first of ``names`` that is a known time zone, else UTC."""
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class Clock:
    """A contact's local time zone with the team's quiet hours."""

    tz: ZoneInfo
    quiet: tuple[dt.time, dt.time] | None

    @classmethod
    def for_contact(cls, contact: Contact, team_values: dict | None = None) -> Clock:
        values = team_values or team.snapshot()
        return cls(zone(contact.timezone, values.get("timezone")), parse_quiet(values.get("quiet_hours")))

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.replace(tzinfo=dt.UTC).astimezone(self.tz)

    def utc(self, day: dt.date, at: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, at, tzinfo=self.tz).astimezone(dt.UTC).replace(tzinfo=None)

    def is_quiet(self, moment: dt.datetime) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        t = self.local(moment).time()
        if start < end:
            return start <= t < end
        return t >= start or t < end  # across midnight, 21:00-08:00

    def end_of_quiet(self, moment: dt.datetime) -> dt.datetime:
        """When the quiet hours ``moment`` is in end (``moment`` itself outside them)."""
        if not self.is_quiet(moment):
            return moment
        start, end = self.quiet
        local = self.local(moment)
        day = local.date()
        if start > end and local.time() >= start:
            day += dt.timedelta(days=1)
        return self._awake(self.utc(day, end))

    def next_morning(self, moment: dt.datetime) -> dt.datetime:
        """The end of the quiet hours on the local day after ``moment``'s."""
        day = self.local(moment).date() + dt.timedelta(days=1)
        return self._awake(self.utc(day, self.quiet[1] if self.quiet else MORNING))

    def next_business_morning(self, moment: dt.datetime) -> dt.datetime:
        """The next weekday morning after ``moment``'s local day."""
        when = self.next_morning(moment)
        while self.local(when).weekday() in WEEKEND:
            when = self.next_morning(when)
        return when

    def day_bounds(self, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The local calendar day of ``moment``, as a UTC [start, end)."""
        day = self.local(moment).date()
        return self.utc(day, dt.time(0)), self.utc(day + dt.timedelta(days=1), dt.time(0))

    def _awake(self, moment: dt.datetime) -> dt.datetime:
        # A daylight-saving jump can turn a local time into another; step out of quiet hours.
        for _ in range(200):
            if not self.is_quiet(moment):
                break
            moment += dt.timedelta(minutes=15)
        return moment


def automatic_touches_on_local_day(conversation_id: int, moment: dt.datetime, clock: Clock) -> int:
    """Automatic messages of ours to the conversation on ``moment``'s local day. Failed
    sends do not count: the customer received nothing."""
    start, end = clock.day_bounds(moment)
    return (
        Message.select()
        .where(
            (Message.conversation == conversation_id)
            & (Message.sent_at >= start)
            & (Message.sent_at < end)
            & (Message.direction == "out")
            & Message.automatic
            & (Message.status != "failed")
        )
        .count()
    )
