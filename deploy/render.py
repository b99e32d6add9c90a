"""Rich renderings of reviews, lists, templates and the board for people at a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from states.read.views import ReviewView
from states.templates.schema import Template

console = Console()
STATUS_STYLE = {"done": "green", "skipped": "dim", "open": "yellow"}


def emit_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else; read models write their `to_json()`."""
    print(json.dumps(data, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else str(value)


def out(as_json: bool, data: Any, human: str | Callable[[], None]) -> None:
    """JSON for scripts, or the human form: a line of text or a rendering function."""
    if as_json:
        emit_json(data)
    elif callable(human):
        human()
    else:
        console.print(human)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def review(data: ReviewView) -> None:
    """One review: header, gate, checklist, audit trail."""
    gate = data.gate
    lines = [
        f"[bold]{data.name}[/]  (review {data.id}, template {data.template})",
        f"status [bold]{data.status}[/]  round {data.round}  meeting {_when(data.meeting_at)}",
        f"hours {data.actual_hours:g} of {data.budget_hours:g} budgeted",
    ]
    if gate:
        who = ", ".join(gate.eligible_approvers) or "nobody holds the role yet"
        waiting = ", ".join(gate.open_required_tasks) or "nothing: ready to approve"
        lines.append(
            f"gate [bold]{gate.trigger}[/] by {gate.accountable_role} ({who}); "
            f"waiting for: {waiting}"
        )
    console.print(Panel("\n".join(lines), title=data.client, expand=False))
    tasks = Table(title="Tasks")
    tasks.add_column("key", no_wrap=True)  # keys and emails are typed back into commands
    tasks.add_column("title", overflow="fold", min_width=16)
    tasks.add_column("assignee", no_wrap=True)
    tasks.add_column("due", no_wrap=True)
    tasks.add_column("status", no_wrap=True)
    phase = None
    for t in data.tasks:
        if t.phase != phase:
            phase = t.phase
            tasks.add_row(f"[bold]{phase}[/]", end_section=False)
        style = STATUS_STYLE.get(t.status, "")
        status = t.status + ("" if t.required else "?")
        tasks.add_row(
            f"  {t.key}",
            t.title,
            t.assignee or f"[red]{t.role}?[/]",
            t.due.date().isoformat() if t.due else "-",
            f"[{style}]{status}[/]",
        )
    console.print(tasks)
    audit = Table(title="Audit trail")
    audit.add_column("at", no_wrap=True)
    for column in ("step", "trigger", "actor", "comment"):
        audit.add_column(column, overflow="fold")
    for a in data.audit:
        step = f"{a.from_state or ''} -> {a.to_state}" if a.from_state != a.to_state else a.to_state
        audit.add_row(_when(a.at)[5:16], step, a.trigger, a.actor, a.comment)
    console.print(audit)


def rows(title: str, columns: list[str], items: list[dict[str, Any]]) -> None:
    """A plain table of dicts."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*(_cell(item.get(c)) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def template(t: Template) -> None:
    """A template: per phase its RACI, limits and tasks."""
    console.print(
        Panel(
            f"[bold]{t.title}[/] ({t.name}, type {t.review_type}, {t.cadence}, "
            f"{t.budget_hours:g} h)\n{t.description.strip()}",
            expand=False,
        )
    )
    for phase, spec in t.phases.items():
        raci = spec.raci
        head = (
            f"[bold]{phase}[/]  A: {raci.accountable}  R: {', '.join(raci.responsible)}"
            f"  WIP: {spec.wip_limit or '-'}  age warning: {spec.age_warning_days or '-'} d"
            + ("" if spec.approval else "  (no approval)")
        )
        console.print(head)
        for task in spec.tasks:
            due = f"{task.due.anchor}{task.due.business_days:+d}bd" if task.due else "-"
            optional = "" if task.required else " (optional)"
            console.print(f"   {task.key:<36} {task.role:<18} {due:<18} {task.title}{optional}")


def board(columns: list[dict[str, Any]]) -> None:
    """The Kanban board: a column per phase with its count against the WIP limit."""
    table = Table(title="Review board", show_lines=True)
    for col in columns:
        limit = col["wip_limit"] or "∞"
        over = col["wip_limit"] is not None and col["count"] >= col["wip_limit"]
        extra = [f"{col['queued']} queued"] if col["queued"] else []
        extra += [f"[red]{col['age_warnings']} stale[/]"] if col["age_warnings"] else []
        head = f"{col['phase']} {col['count']}/{limit}"
        table.add_column("\n".join([f"[red]{head}[/]" if over else head, *extra]))
    height = max((len(c["cards"]) for c in columns), default=0)
    for i in range(height):
        table.add_row(*(_board_card(c["cards"][i]) if i < len(c["cards"]) else "" for c in columns))
    if any(c["more"] for c in columns):
        table.add_row(*(f"[dim]+{c['more']} more[/]" if c["more"] else "" for c in columns))
    console.print(table)


def _board_card(card: dict[str, Any]) -> str:
    flags = []
    if card["age_warning"]:
        flags.append("[red]stale[/]")
    if card["overdue_tasks"]:
        flags.append(f"[red]{len(card['overdue_tasks'])} overdue[/]")
    if card["queued_for"]:
        flags.append(f"[yellow]waits for {card['queued_for']}[/]")
    meeting = card["meeting_at"][:10] if card["meeting_at"] else "no date"
    return (
        f"#{card['id']} {card['client']}\n{card['type']} {meeting}\n"
        f"{card['age_days']:g} d {' '.join(flags)}"
    )


def channel_results(title: str, results: dict[str, str], status: str = "no channel") -> None:
    """Each channel a message went to, and whether it took it (`status` when there was none)."""
    table = Table(title=title)
    table.add_column("channel", overflow="fold")
    table.add_column("result", overflow="fold")
    for channel, result in results.items():
        style = "green" if result == "sent" else "red"
        table.add_row(channel, f"[{style}]{result}[/{style}]")
    if not results:
        table.add_row("-", status)
    console.print(table)
