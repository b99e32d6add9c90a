"""The account calendar as Prefect tasks: a daily pass, and follow-up's next review."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bootstrap import root
from states.calendar.recurrence import calendar_pass, ensure_next_review
from states.read import views
from tasks.runtime import xbr_task


@xbr_task(retries=2, retry_delay_seconds=5)
def open_next_review(review_id: int) -> dict[str, Any]:
    """Follow-up's last step: the client's next review of this kind, if it does not exist."""
    client = views.review_view(root().uow(), review_id).client
    catalog = root().catalog()
    plan = ensure_next_review(
        root().uow(), catalog, client, early=True, standards=root().standards()
    )
    return asdict(plan)


@xbr_task(retries=2, retry_delay_seconds=10)
def run_calendar_pass() -> list[dict[str, Any]]:
    """Every active client without its next review gets one when its cadence says so."""
    catalog = root().catalog()
    plans = calendar_pass(root().uow(), catalog, standards=root().standards())
    return [asdict(plan) for plan in plans if plan.review_id]
