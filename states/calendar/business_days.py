"""Business-day arithmetic and due dates, in the client's time zone and by its holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from states.calendar.public_holidays import NOWHERE, Place, holidays_in, place_of
from states.errors import InvalidInput
from states.store.models import Client


class Anchor(StrEnum):
    """The dates a task's due rule counts from."""

    START = "start"  # the day the review was started
    MEETING = "meeting"  # the client meeting
    PREP_MEETING = "prep_meeting"  # the internal pre-meeting
    STAGING_DONE = "staging_done"  # the day staging must be finished
    POST_MEETING = "post_meeting"  # the internal post-meeting


@dataclass(frozen=True)
class WorkingCalendar:
    """The days a client's people work: Monday to Friday in its time zone, less the public
    holidays of its place (none without a country)."""

    tz: ZoneInfo
    place: Place = NOWHERE

    def holiday(self, day: date) -> str | None:
        """The public holiday `day` is, if any."""
        country, subdivision = self.place
        return holidays_in(country, subdivision, day.year).get(day) if country else None

    def is_business_day(self, day: date) -> bool:
        """A weekday that is not a public holiday."""
        return day.weekday() < 5 and self.holiday(day) is None


def working_calendar(session: Session, client: Client) -> WorkingCalendar:
    """The client's working calendar: its time zone and its (or the MSP's) holidays."""
    return WorkingCalendar(zone(client.timezone), place_of(session, client))


def is_business_day(day: date, cal: WorkingCalendar) -> bool:
    """A weekday that is not a public holiday of the calendar's place."""
    return cal.is_business_day(day)


def add_business_days(day: date, n: int, cal: WorkingCalendar) -> date:
    """Move `n` business days from `day`; with n == 0, roll a weekend or holiday forward."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    if remaining == 0:
        while not cal.is_business_day(day):
            day += timedelta(days=1)
        return day
    while remaining:
        day += timedelta(days=step)
        if cal.is_business_day(day):
            remaining -= 1
    return day


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or one clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day `moment` falls on in `tz`."""
    return moment.astimezone(tz).date()


def anchor_dates(
    start: date,
    meeting: date | None,
    prep_days_before: int,
    staging_days_before_prep: int,
    post_days_after: int,
    cal: WorkingCalendar,
) -> dict[Anchor, date | None]:
    """The dates each due rule counts from; the meeting-relative ones are None until it is set."""
    if meeting is None:
        return {a: (start if a is Anchor.START else None) for a in Anchor}
    prep = add_business_days(meeting, -prep_days_before, cal)
    return {
        Anchor.START: start,
        Anchor.MEETING: meeting,
        Anchor.PREP_MEETING: prep,
        Anchor.STAGING_DONE: add_business_days(prep, -staging_days_before_prep, cal),
        Anchor.POST_MEETING: add_business_days(meeting, post_days_after, cal),
    }


def due_at(
    anchor: date | None, business_days: int, cal: WorkingCalendar, hour: int
) -> datetime | None:
    """End of the business day `business_days` from `anchor`, local `hour`, as UTC."""
    if anchor is None:
        return None
    day = add_business_days(anchor, business_days, cal)
    return datetime.combine(day, time(hour), tzinfo=cal.tz).astimezone(UTC)


# How far ahead a meeting may be set: further is a typo (2062 for 2026), and far dates
# overflow once moved between time zones.
MEETING_HORIZON = timedelta(days=3 * 365)


def parse_moment(text: str, tz: ZoneInfo, what: str = "{meeting}") -> datetime:
    """An ISO date-time with its time of day, at most three years ahead; without an offset it
    is read in `tz`, where it must exist (not in the hour skipped when the clocks go forward).
    Returned in UTC."""
    try:
        local = datetime.fromisoformat(text.strip())
        moment = (local.replace(tzinfo=tz) if local.tzinfo is None else local).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{what} {text[:40]!r} is not an ISO date-time; use e.g. 2026-12-15T14:00"
        ) from None
    if "T" not in text.upper() and " " not in text.strip():  # a date alone: midnight, a typo
        raise InvalidInput(
            f"{what} {text[:40]!r} has no time of day; give the meeting's time too, "
            f"e.g. {local.date().isoformat()}T10:00"
        )
    if local.tzinfo is None and moment.astimezone(tz).replace(tzinfo=None) != local:
        raise InvalidInput(
            f"{what} {text[:40]!r} does not exist in {tz.key}: the clocks go forward then; "
            "give another time"
        )
    if moment > datetime.now(UTC) + MEETING_HORIZON:
        raise InvalidInput(
            f"{what} {moment.date().isoformat()} is more than three years ahead; "
            "give a date within three years"
        )
    return moment
