"""The account calendar as Prefect tasks: a daily pass, and follow-up's next review."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from states import views
from states.recurrence import calendar_pass, ensure_next_review
from states.settings import Settings
from states.templates import load_catalog
from tasks.runtime import xbr_task
from tasks.store import uow


@xbr_task(retries=2, retry_delay_seconds=5)
def open_next_review(review_id: int) -> dict[str, Any]:
    """Follow-up's last step: the client's next review of this kind, if it does not exist."""
    client = views.review_view(uow(), review_id)["client"]
    catalog = load_catalog([Settings().template_dir])
    return asdict(ensure_next_review(uow(), catalog, client, early=True))


@xbr_task(retries=2, retry_delay_seconds=10)
def run_calendar_pass() -> list[dict[str, Any]]:
    """Every active client without its next review gets one when its cadence says so."""
    catalog = load_catalog([Settings().template_dir])
    return [asdict(plan) for plan in calendar_pass(uow(), catalog) if plan.review_id]
