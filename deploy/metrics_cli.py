"""`xbr metrics`: lead time, cycle time, throughput against the goal, work in progress and hours,
as tables, as JSON, and the cumulative flow diagram as a PNG."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from deploy import render
from deploy.context import JsonOpt, settings, uow
from states.errors import InvalidInput
from states.lifecycle.machine import OPEN_PHASES
from states.read.metrics import metrics, msp_zone

WEEKS_SHOWN = 4


def metrics_command(
    since: Annotated[
        str | None,
        typer.Option(help="First day, YYYY-MM-DD (default: the Monday four weeks back)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD (default: today).")
    ] = None,
    goal: Annotated[float, typer.Option(help="Reviews a week the team aims at.")] = 1.0,
    png: Annotated[
        Path | None, typer.Option(help="Write the cumulative flow diagram to this PNG file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Lean metrics: lead time, cycle time per phase, throughput per week against the goal,
    work in progress per day and hours against budget (days in XBR_TIMEZONE)."""
    last = _day("--until", until) if until else datetime.now(msp_zone(settings())).date()
    first = _day("--since", since) if since else default_since(last)
    data = metrics(uow(), first, last, goal, msp_zone(settings()))
    if png is not None:
        try:
            write_flow_diagram(data, png)
        except OSError as error:
            raise InvalidInput(
                f"--png {png}: {error.strerror}; give a file path you can write"
            ) from None
    render.out(as_json, data, lambda: show(data, png))


def default_since(until: date) -> date:
    """The Monday that makes the window the last WEEKS_SHOWN ISO weeks up to `until`."""
    return until - timedelta(days=until.weekday(), weeks=WEEKS_SHOWN - 1)


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def show(data: dict[str, Any], png: Path | None) -> None:
    """The metrics for people: the headline numbers, then a table per metric."""
    lead, flow, hours = data["lead_time"], data["throughput"], data["hours"]
    lines = [
        f"[bold]Lean metrics[/] {data['since']} to {data['until']} "
        f"({render.safe(data['timezone'])})",
        f"lead time, needed to closed: median {_d(lead['median_days'])}, "
        f"85% within {_d(lead['p85_days'])}",
        f"throughput: {flow['closed']} closed, {flow['per_week']:g} a week (goal "
        f"{flow['goal_per_week']:g}, met in {flow['weeks_met']} of {len(flow['weeks'])} weeks)",
        f"hours: {hours['actual_hours']:g} of {hours['budget_hours']:g} budgeted "
        f"({hours['over']} over budget, {hours['under']} under)",
    ]
    render.console.print("\n".join(lines), soft_wrap=True)
    render.rows("Lead time", ["id", "name", "closed_at", "days"], lead["reviews"])
    render.rows("Cycle time (median days)", ["phase", "reviews", "median_days"], [
        row for row in data["cycle_time"] if row["reviews"]
    ])  # fmt: skip
    render.rows("Throughput", ["week", "closed", "met"], flow["weeks"])
    render.rows("Work in progress at the end of each day", ["day", *_phases()], data["wip"])
    render.rows(
        "Hours",
        ["id", "name", "budget_hours", "actual_hours", "difference", "verdict"],
        hours["reviews"],
    )
    if png is not None:
        render.console.print(f"cumulative flow diagram written: {png}", soft_wrap=True)


def _d(days: float | None) -> str:
    return "-" if days is None else f"{days:g} d"


def _phases() -> list[str]:
    return [p.value for p in OPEN_PHASES]


def write_flow_diagram(data: dict[str, Any], path: Path) -> None:
    """The cumulative flow diagram as a PNG: open reviews per phase at the end of each day,
    stacked with the latest phase at the bottom, as work flows down into it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days = date2num([date.fromisoformat(row["day"]) for row in data["wip"]])
    phases = _phases()[::-1]
    figure = Figure(figsize=(10, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.stackplot(days, *[[row[p] for row in data["wip"]] for p in phases], labels=phases)
    axes.xaxis_date()
    axes.set_title(f"Cumulative flow, {data['since']} to {data['until']}")
    axes.set_ylabel("open reviews")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), reverse=True, fontsize="small")
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
