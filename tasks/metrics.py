"""The week's lean metrics as a Markdown artifact in Prefect, keyed "lean-metrics"."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect.artifacts import create_markdown_artifact

from bootstrap import root
from reports.metrics_page import metrics_markdown
from states.read.metrics import metrics, msp_zone
from states.settings import Settings
from tasks.runtime import xbr_task


def is_monday(now: datetime | None = None, settings: Settings | None = None) -> bool:
    """Whether it is Monday in the MSP's zone (XBR_TIMEZONE): the day the week's metrics come."""
    tz = msp_zone(settings or root().settings)
    return (now or datetime.now(tz)).astimezone(tz).weekday() == 0


@xbr_task(retries=2, retry_delay_seconds=10)
def publish_weekly_metrics(goal_per_week: float = 1.0) -> str:
    """The last seven days' lean metrics as the "lean-metrics" Markdown artifact."""
    tz = msp_zone(root().settings)
    today = datetime.now(tz).date()
    week = today - timedelta(days=7), today - timedelta(days=1)
    data = metrics(root().uow(), *week, goal_per_week, tz)
    artifact_id = create_markdown_artifact(
        key="lean-metrics",
        markdown=metrics_markdown(data),
        description=f"Lean metrics of the week {data['since']} to {data['until']}",
    )
    return str(artifact_id)
