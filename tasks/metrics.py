"""The week's lean metrics as a Markdown artifact in Prefect, keyed "lean-metrics"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect.artifacts import create_markdown_artifact

from states.metrics import metrics, msp_zone
from tasks.runtime import xbr_task
from tasks.store import uow


def is_monday(now: datetime | None = None) -> bool:
    """Whether it is Monday in the MSP's zone (XBR_TIMEZONE): the day the week's metrics come."""
    return (now or datetime.now(msp_zone())).astimezone(msp_zone()).weekday() == 0


def metrics_markdown(data: dict[str, Any]) -> str:
    """The metrics as Markdown: headline numbers, then cycle time, weeks and hours as tables."""
    lead, flow, hours = data["lead_time"], data["throughput"], data["hours"]
    lines = [
        f"# Lean metrics {data['since']} to {data['until']} ({data['timezone']})",
        "",
        f"- **Throughput:** {flow['closed']} reviews closed, {flow['per_week']:g} a week "
        f"(goal {flow['goal_per_week']:g}; met in {flow['weeks_met']} of {len(flow['weeks'])} "
        "weeks)",
        f"- **Lead time**, needed to closed: median {_days(lead['median_days'])}, "
        f"85% within {_days(lead['p85_days'])}",
        f"- **Hours:** {hours['actual_hours']:g} of {hours['budget_hours']:g} budgeted "
        f"({hours['over']} over budget, {hours['under']} under)",
        f"- **Open on {data['until']}:** {_open_at_end(data)}",
        "",
        "## Cycle time per phase",
        "",
        *_table(
            ["phase", "reviews", "median days"],
            [[r["phase"], r["reviews"], _days(r["median_days"])] for r in data["cycle_time"]],
        ),
        "",
        "## Hours per review",
        "",
        *_table(
            ["review", "budget", "actual", "verdict"],
            [
                [r["name"], r["budget_hours"], r["actual_hours"], r["verdict"]]
                for r in hours["reviews"]
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:g} d"


def _open_at_end(data: dict[str, Any]) -> str:
    last = data["wip"][-1]
    counts = [f"{phase} {n}" for phase, n in last.items() if phase != "day" and n]
    return ", ".join(counts) or "none"


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_None._"]
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


@xbr_task(retries=2, retry_delay_seconds=10)
def publish_weekly_metrics(goal_per_week: float = 1.0) -> str:
    """The last seven days' lean metrics as the "lean-metrics" Markdown artifact."""
    today = datetime.now(msp_zone()).date()
    data = metrics(uow(), today - timedelta(days=7), today - timedelta(days=1), goal_per_week)
    artifact_id = create_markdown_artifact(
        key="lean-metrics",
        markdown=metrics_markdown(data),
        description=f"Lean metrics of the week {data['since']} to {data['until']}",
    )
    return str(artifact_id)
