"""Cadence arithmetic: when a client's next review should meet, and when to open it.

All dates are calendar days in the client's time zone: a review is due on a day, not at an
instant, so daylight-saving changes never move it. Months are added by calendar month with the
day clamped to the month's end (31 Jan + 1 month = 28 or 29 Feb), counted from the first
meeting's day of the month so that a cadence never drifts (31 Jan, 28 Feb, 31 Mar, ...). A
meeting that slipped or came early keeps the grid: the next is the first grid date more than
half a period after it.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from states.templates.schema import Cadence

HALF_PERIOD_DAYS = 15  # per month of the period: half a month, half a quarter (45 days), ...
MONTHS = {
    Cadence.MONTHLY: 1,
    Cadence.QUARTERLY: 3,
    Cadence.SEMIANNUAL: 6,
    Cadence.ANNUAL: 12,
}


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, clamped to the last day of the target month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def next_meeting(cadence: Cadence, first: date, last: date | None) -> date | None:
    """The day the review after `last` should meet: the first date of the client's grid (every
    period from its first meeting) that is more than half a period after `last`, so that a
    meeting held early or late still leaves about a period to the next; None without a cadence."""
    step = MONTHS.get(cadence)
    if step is None:
        return None
    if last is None:
        return first
    after = last + timedelta(days=HALF_PERIOD_DAYS * step)
    periods = max(0, ((after.year - first.year) * 12 + after.month - first.month) // step)
    target = add_months(first, periods * step)
    while target <= after:
        periods += 1
        target = add_months(first, periods * step)
    return target


def opens_on(meeting: date, lead_weeks_max: int) -> date:
    """The day the review for a meeting on `meeting` is opened: its longest lead time before."""
    return meeting - timedelta(weeks=lead_weeks_max)
