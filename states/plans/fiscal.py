"""Fiscal quarters of a client whose fiscal year starts in a given month (1 = January).

A fiscal year is named by the calendar year in which it ends: with a July start, FY2027 runs
from 2026-07-01 to 2027-06-30; with a January start it is calendar 2027."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from states.errors import InvalidInput

YEAR_MIN, YEAR_MAX = 2000, 2100
_QUARTER = re.compile(r"(?:FY)?([0-9]{4})-?Q([1-4])", re.IGNORECASE)


def validate_start_month(value: int) -> int:
    """The month a fiscal year starts in, 1 to 12, or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise InvalidInput(
            f"fiscal_year_start must be a month, 1 to 12 (1 = January), not {repr(value)[:20]}"
        )
    return value


def month_index(day: date) -> int:
    """Months since year 0, so that month arithmetic is integer arithmetic."""
    return day.year * 12 + day.month - 1


def _first_of(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class FiscalQuarter:
    """Quarter 1 to 4 of the fiscal year that ends in calendar year `year`."""

    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"a fiscal quarter is 1 to 4, not {self.quarter}")

    @classmethod
    def of(cls, day: date, start_month: int) -> FiscalQuarter:
        """The fiscal quarter that holds `day`."""
        months_in = (day.month - validate_start_month(start_month)) % 12
        # from its start month on, a year that does not start in January ends next year
        year = day.year + 1 if start_month > 1 and day.month >= start_month else day.year
        return cls(year, months_in // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> FiscalQuarter:
        """A quarter as people write it: FY2027-Q1, fy2027-q1, 2027-Q1 or 2027Q1."""
        found = _QUARTER.fullmatch("".join(text.split()))
        if found is None or not YEAR_MIN <= int(found[1]) <= YEAR_MAX:
            raise InvalidInput(
                f"quarter {text[:40]!r} is not a fiscal quarter from {YEAR_MIN} to {YEAR_MAX}; "
                "write e.g. FY2027-Q3"
            )
        return cls(int(found[1]), int(found[2]))

    @property
    def label(self) -> str:
        """The quarter as shown and stored, e.g. FY2027-Q1."""
        return f"FY{self.year}-Q{self.quarter}"

    def _first_month(self, start_month: int) -> int:
        # FY2027 with a July start begins in July 2026; with a January start, in January 2027
        year = self.year if validate_start_month(start_month) == 1 else self.year - 1
        return month_index(date(year, start_month, 1)) + 3 * (self.quarter - 1)

    def months(self, start_month: int) -> list[date]:
        """The first day of each of the quarter's three months."""
        first = self._first_month(start_month)
        return [_first_of(first + offset) for offset in range(3)]

    def start(self, start_month: int) -> date:
        """The quarter's first day."""
        return _first_of(self._first_month(start_month))

    def end(self, start_month: int) -> date:
        """The quarter's last day."""
        return _first_of(self._first_month(start_month) + 3) - timedelta(days=1)

    def next(self, n: int = 1) -> FiscalQuarter:
        """The quarter `n` quarters later (earlier when `n` is negative)."""
        index = self.year * 4 + self.quarter - 1 + n
        return FiscalQuarter(index // 4, index % 4 + 1)

    def previous(self) -> FiscalQuarter:
        """The quarter before this one."""
        return self.next(-1)


def quarters_from(first: FiscalQuarter, count: int) -> list[FiscalQuarter]:
    """`count` consecutive quarters, `first` the first of them."""
    return [first.next(offset) for offset in range(count)]


def months_in_quarter_running(
    quarter: FiscalQuarter, start_month: int, starts: date, ends: date | None
) -> int:
    """How many of the quarter's months a recurring line runs: from the month of `starts`
    through the month of `ends`, both whole; with no `ends`, it runs on."""
    return months_running(month_index(quarter.start(start_month)), starts, ends)


def months_running(first: int, starts: date, ends: date | None) -> int:
    """How many of the three months from month index `first` (a quarter's) a line covers."""
    last = first + 2 if ends is None else min(first + 2, month_index(ends))
    return max(0, last - max(first, month_index(starts)) + 1)
