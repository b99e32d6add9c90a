"""The review's dates: task due dates and when a waiting review wakes, from its template."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache

import orjson
from sqlalchemy import inspect

from states.calendar.business_days import (
    Anchor,
    WorkingCalendar,
    add_business_days,
    anchor_dates,
    due_at,
    local_date,
    working_calendar,
)
from states.lifecycle.machine import Phase
from states.store.models import Review, ReviewTask
from states.templates.schema import Template


def review_template(review: Review) -> Template:
    """The template as it was when the review started (later edits do not change it)."""
    return _template_of(orjson.dumps(review.template_snapshot, option=orjson.OPT_SORT_KEYS))


@lru_cache(maxsize=64)
def _template_of(snapshot: bytes) -> Template:
    # keyed by the snapshot's whole text: the reviews of one template share one frozen model
    return Template.model_validate_json(snapshot)


def calendar_of(review: Review) -> WorkingCalendar:
    """The working calendar of the review's client (its zone, its holidays)."""
    session = inspect(review).session
    assert session is not None, "a review's dates are set inside its unit of work"
    return working_calendar(session, review.client)


def _anchors(review: Review, template: Template, cal: WorkingCalendar) -> dict[Anchor, date | None]:
    tz = cal.tz
    return anchor_dates(
        start=local_date(review.created_at, tz),
        meeting=local_date(review.meeting_at, tz) if review.meeting_at else None,
        prep_days_before=template.schedule.prep_meeting_business_days_before,
        staging_days_before_prep=template.schedule.staging_done_business_days_before_prep,
        post_days_after=template.schedule.post_meeting_business_days_after,
        cal=cal,
    )


def set_due_dates(
    review: Review, template: Template, tasks: Iterable[ReviewTask] | None = None
) -> None:
    """Due dates of every task (the review's, or `tasks` of a review being opened) from the
    start day and the meeting, in the client's zone."""
    cal = calendar_of(review)
    anchors = _anchors(review, template, cal)
    specs = {spec.key: spec for _, spec in template.tasks()}
    for task in review.tasks if tasks is None else tasks:
        rule = specs[task.key].due
        if rule is not None:
            task.due_at = due_at(
                anchors[rule.anchor], rule.business_days, cal, template.schedule.due_hour
            )


def set_wake(review: Review, template: Template) -> None:
    """A scheduled review wakes when its staging must start, so that staging ends on time."""
    if review.status != Phase.SCHEDULED or review.meeting_at is None:
        review.wake_at = None
        return
    cal = calendar_of(review)
    done = _anchors(review, template, cal)[Anchor.STAGING_DONE]
    assert done is not None
    start = add_business_days(done, -template.schedule.staging_business_days, cal)
    review.wake_at = datetime.combine(start, time(template.schedule.day_start_hour), tzinfo=cal.tz)
