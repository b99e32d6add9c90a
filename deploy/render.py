"""Rich renderings of reviews, lists, templates and the board for people at a terminal.

Every value from a person, a file or the network is data here: control characters (escape
sequences, carriage returns, bidirectional overrides) never reach the terminal, and a value is
never read as Rich markup (`safe` in markup we write, plain `Text` in table cells, `say` for
a line of text).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from states.read.views import ReviewView
from states.templates.schema import Template
from states.text import CONTROLS_BUT_LINES


def clean(value: object) -> str:
    """A value as a terminal may show it: without control characters (newlines kept)."""
    return CONTROLS_BUT_LINES.sub("", str(value))


def safe(value: object) -> str:
    """A value to put into Rich markup we write: shown as it is, never read as markup."""
    return escape(clean(value))


class _Terminal(Console):
    """A console that drops control characters from every string it renders, ours or data."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(clean(text), **options)


console = _Terminal()
errors = _Terminal(stderr=True)
STATUS_STYLE = {"done": "green", "skipped": "dim", "open": "yellow"}


def emit_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else; read models write their `to_json()`."""
    print(json.dumps(data, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else str(value)


def out(as_json: bool, data: Any, human: str | Callable[[], None]) -> None:
    """JSON for scripts, or the human form: a line of text (shown as it is) or a rendering
    function."""
    if as_json:
        emit_json(data)
    elif callable(human):
        human()
    else:
        say(human)


def say(text: str, **options: Any) -> None:
    """A line of text with values in it, shown as it is: no markup, no control characters,
    and not broken at the terminal's width (an address stays one piece to copy)."""
    options.setdefault("soft_wrap", True)
    console.print(clean(text), markup=False, highlight=False, **options)


def warn(text: str) -> None:
    """A line on standard error, shown as it is."""
    errors.print(clean(text), markup=False, highlight=False, soft_wrap=True)


def when(moment: datetime | None) -> str:
    """A moment for a person at a terminal: 2026-12-15 19:00 UTC, or - for none."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def review(data: ReviewView) -> None:
    """One review: header, gate, checklist, audit trail."""
    gate = data.gate
    lines = [
        f"[bold]{safe(data.name)}[/]  (review {data.id}, template {safe(data.template)})",
        f"status [bold]{data.status}[/]  round {data.round}  meeting {when(data.meeting_at)}",
        f"hours {data.actual_hours:g} of {data.budget_hours:g} budgeted",
    ]
    if gate:
        who = safe(", ".join(gate.eligible_approvers) or "nobody holds the role yet")
        items = gate.open_required_items
        unanswered = [f"{len(items)} assessment items (xbr assess {data.id})"] if items else []
        open_work = [*gate.open_required_tasks, *unanswered]
        waiting = safe(", ".join(open_work) or "nothing: ready to approve")
        lines.append(
            f"gate [bold]{gate.trigger}[/] by {gate.accountable_role} ({who}); "
            f"waiting for: {waiting}"
        )
    console.print(Panel("\n".join(lines), title=_text(data.client), expand=False))
    tasks = Table(title="Tasks")
    tasks.add_column("key", no_wrap=True)  # keys and emails are typed back into commands
    tasks.add_column("title", overflow="fold", min_width=12)
    tasks.add_column("assignee", overflow="fold")  # folded, not dropped, on 80 columns
    tasks.add_column("due", no_wrap=True)
    tasks.add_column("status", no_wrap=True)
    phase = None
    for t in data.tasks:
        if t.phase != phase:
            phase = t.phase
            tasks.add_row(f"[bold]{safe(phase)}[/]", end_section=False)
        style = STATUS_STYLE.get(t.status, "")
        status = t.status + ("" if t.required else "?")
        tasks.add_row(
            _text(f"  {t.key}"),
            _text(t.title),
            _text(t.assignee) if t.assignee else f"[red]{safe(t.role)}?[/]",
            t.due.date().isoformat() if t.due else "-",
            f"[{style}]{safe(status)}[/]",
        )
    console.print(tasks)
    audit = Table(title="Audit trail")
    audit.add_column("at", no_wrap=True)
    for column in ("step", "trigger", "actor", "comment"):
        audit.add_column(column, overflow="fold")
    for a in data.audit:
        step = f"{a.from_state or ''} -> {a.to_state}" if a.from_state != a.to_state else a.to_state
        audit.add_row(when(a.at)[5:16], *map(_text, (step, a.trigger, a.actor, a.comment)))
    console.print(audit)


def rows(title: str, columns: list[str], items: list[dict[str, Any]]) -> None:
    """A plain table of dicts."""
    table = Table(title=_text(title))
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*(_cell(item.get(c)) for c in columns))
    console.print(table)


def _text(value: object) -> Text:
    """A table cell that shows the value as it is (None as nothing)."""
    return Text("" if value is None else clean(value))


def _cell(value: Any) -> Text:
    if value is None:
        return Text("-")
    if isinstance(value, list):
        return Text(clean(", ".join(str(v) for v in value)))
    return Text(clean(value))


def template(t: Template) -> None:
    """A template: per phase its RACI, limits and tasks."""
    console.print(
        Panel(
            f"[bold]{safe(t.title)}[/] ({safe(t.name)}, type {safe(t.review_type)}, "
            f"{t.cadence}, {t.budget_hours:g} h)\n{safe(t.description.strip())}",
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
            say(f"   {task.key:<36} {task.role:<18} {due:<18} {task.title}{optional}")


BOARD_COLUMN_WIDTH = 14  # a phase's name and count on one line; narrower, the board is a list


def board(columns: list[dict[str, Any]]) -> None:
    """The Kanban board: a column per phase with its count against the WIP limit (on a
    terminal too narrow for the columns, one phase after the other)."""
    if console.width < BOARD_COLUMN_WIDTH * len(columns):
        _board_list(columns)
        return
    table = Table(title="Review board", show_lines=True)
    for col in columns:
        table.add_column("\n".join(_board_head(col)))
    height = max((len(c["cards"]) for c in columns), default=0)
    for i in range(height):
        table.add_row(*(_board_card(c["cards"][i]) if i < len(c["cards"]) else "" for c in columns))
    if any(c["more"] for c in columns):
        table.add_row(*(f"[dim]+{c['more']} more[/]" if c["more"] else "" for c in columns))
    console.print(table)


def _board_head(col: dict[str, Any]) -> list[str]:
    """A column's name with its count against its limit (red when full), its queue and stale
    cards."""
    limit = col["wip_limit"] or "∞"
    over = col["wip_limit"] is not None and col["count"] >= col["wip_limit"]
    head = f"{col['phase']} {col['count']}/{limit}"
    extra = [f"{col['queued']} queued"] if col["queued"] else []
    extra += [f"[red]{col['age_warnings']} stale[/]"] if col["age_warnings"] else []
    return [f"[red]{head}[/]" if over else head, *extra]


def _board_list(columns: list[dict[str, Any]]) -> None:
    console.print("[bold]Review board[/]")
    for col in columns:
        console.print("[bold]" + " · ".join(_board_head(col)) + "[/]")
        for card in col["cards"]:
            console.print("  " + _board_card(card).replace("\n", " · ").rstrip())
        if col["more"]:
            console.print(f"  [dim]+{col['more']} more[/]")


def _board_card(card: dict[str, Any]) -> str:
    flags = []
    if card["age_warning"]:
        flags.append("[red]stale[/]")
    if card["overdue_tasks"]:
        flags.append(f"[red]{len(card['overdue_tasks'])} overdue[/]")
    if card["queued_for"]:
        flags.append(f"[yellow]waits for {safe(card['queued_for'])}[/]")
    meeting = card["meeting_at"][:10] if card["meeting_at"] else "no date"
    return (
        f"#{card['id']} {safe(card['client'])}\n{safe(card['type'])} {meeting}\n"
        f"{card['age_days']:g} d {' '.join(flags)}"
    )


def channel_results(title: str, results: dict[str, str], status: str = "no channel") -> None:
    """Each channel a message went to, and whether it took it (`status` when there was none)."""
    table = Table(title=title)
    table.add_column("channel", overflow="fold")
    table.add_column("result", overflow="fold")
    for channel, result in results.items():
        style = "green" if result == "sent" else "red"
        table.add_row(_text(channel), Text(clean(result), style=style))
    if not results:
        table.add_row("-", status)
    console.print(table)
