"""The week's lean metrics as Markdown: headline numbers, cycle time, weeks and hours as tables."""

from __future__ import annotations

from typing import Any


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
