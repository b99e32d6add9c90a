"""The review's internal meetings: the staff's prep meeting before the client meeting and the
post-meeting after it, on the template's business days and at the client meeting's local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from states.calendar.business_days import Anchor, anchor_dates, working_calendar
from states.store.models import Review
from states.templates.schema import Template

PREP, POST = "prep", "post"


@dataclass(frozen=True)
class Meeting:
    """One internal meeting: which one, when it starts (UTC) and how long it lasts."""

    name: str
    start: datetime
    duration: timedelta


def internal_meetings(session: Session, review: Review, template: Template) -> list[Meeting]:
    """The prep and post meetings of a review with a meeting date; one the template gives no
    hours to is not held."""
    if review.meeting_at is None:
        return []
    cal = working_calendar(session, review.client)
    meeting = review.meeting_at
    local = (meeting if meeting.tzinfo else meeting.replace(tzinfo=UTC)).astimezone(cal.tz)
    schedule = template.schedule
    anchors = anchor_dates(
        start=local.date(),
        meeting=local.date(),
        prep_days_before=schedule.prep_meeting_business_days_before,
        staging_days_before_prep=schedule.staging_done_business_days_before_prep,
        post_days_after=schedule.post_meeting_business_days_after,
        cal=cal,
    )
    found = []
    wanted = [
        (PREP, Anchor.PREP_MEETING, schedule.prep_meeting_hours),
        (POST, Anchor.POST_MEETING, schedule.post_meeting_hours),
    ]
    for name, anchor, hours in wanted:
        day = anchors[anchor]
        if hours and day is not None:
            start = datetime.combine(day, local.time(), tzinfo=cal.tz).astimezone(UTC)
            found.append(Meeting(name, start, timedelta(hours=hours)))
    return found
