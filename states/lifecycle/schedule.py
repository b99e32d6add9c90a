"""The review's dates: task due dates and when a waiting review wakes, from its template."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from states.calendar.business_days import (
    Anchor,
    add_business_days,
    anchor_dates,
    due_at,
    local_date,
    zone,
)
from states.lifecycle.machine import Phase
from states.store.models import Review, ReviewTask
from states.templates.schema import Template


def review_template(review: Review) -> Template:
    """The template as it was when the review started (later edits do not change it)."""
    return Template.model_validate(review.template_snapshot)


def _anchors(review: Review, template: Template) -> dict[Anchor, date | None]:
    tz = zone(review.client.timezone)
    return anchor_dates(
        start=local_date(review.created_at, tz),
        meeting=local_date(review.meeting_at, tz) if review.meeting_at else None,
        prep_days_before=template.schedule.prep_meeting_business_days_before,
        staging_days_before_prep=template.schedule.staging_done_business_days_before_prep,
        post_days_after=template.schedule.post_meeting_business_days_after,
    )


def set_due_dates(
    review: Review, template: Template, tasks: Iterable[ReviewTask] | None = None
) -> None:
    """Due dates of every task (the review's, or `tasks` of a review being opened) from the
    start day and the meeting, in the client's zone."""
    tz = zone(review.client.timezone)
    anchors = _anchors(review, template)
    specs = {spec.key: spec for _, spec in template.tasks()}
    for task in review.tasks if tasks is None else tasks:
        rule = specs[task.key].due
        if rule is not None:
            task.due_at = due_at(
                anchors[rule.anchor], rule.business_days, tz, template.schedule.due_hour
            )


def set_wake(review: Review, template: Template) -> None:
    """A scheduled review wakes when its staging must start, so that staging ends on time."""
    done = _anchors(review, template)[Anchor.STAGING_DONE]
    if review.status != Phase.SCHEDULED or done is None:
        review.wake_at = None
        return
    start = add_business_days(done, -template.schedule.staging_business_days)
    tz = zone(review.client.timezone)
    review.wake_at = datetime.combine(start, time(template.schedule.day_start_hour), tzinfo=tz)
