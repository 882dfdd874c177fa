"""Working days at the hotline: weekends and Vietnamese public holidays do not count towards a
deadline. The holidays are data (``holidays`` table, loaded from the province file), so the
administrator adds next year's Tết when the government announces it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from tickets.codes import HOTLINE_TZ

SATURDAY, SUNDAY = 5, 6


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    weekend: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    end_of_day: time = time(17, 0)

    @classmethod
    def of(cls, holidays: Iterable[date]) -> WorkingCalendar:
        return cls(frozenset(holidays))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, day: date, days: int) -> date:
        """The ``days``-th working day after ``day`` (``day`` itself never counts)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = day
        left = days
        while left > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current

    def deadline(self, received: datetime, days: int) -> datetime:
        """End of the working day ``days`` working days after the day the ticket arrived, at
        the hotline's local time (a ticket received on Friday with 3 days is due Wednesday
        17:00; Tết and other holidays are skipped)."""
        local_day = received.astimezone(HOTLINE_TZ).date()
        due = self.add_working_days(local_day, days)
        return datetime.combine(due, self.end_of_day, tzinfo=HOTLINE_TZ)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count
