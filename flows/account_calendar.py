"""The `account-calendar` flow: every active client has its next review."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.metrics import is_monday, publish_weekly_metrics
from tasks.recurrence import run_calendar_pass


@flow(name="account-calendar", log_prints=True)
def account_calendar() -> list[dict[str, object]]:
    """Open the next review of every active client whose cadence says it is time (its meeting's
    longest lead time before the date), and the first review of a new client."""
    opened = run_calendar_pass()
    get_run_logger().info("opened %s reviews: %s", len(opened), [o["client"] for o in opened])
    if is_monday():  # the week's lean metrics, once a week
        publish_weekly_metrics()
    return opened
