"""`xbr standard list|show|validate`: the standards a client can be assessed against."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from bootstrap import root
from deploy import render
from deploy.context import JsonOpt
from states.standards.catalog import load_standard_file, pick_standard
from states.standards.schema import Standard

standard_app = typer.Typer(no_args_is_help=True, help="Standards to assess clients against.")


def _summary(standard: Standard) -> dict[str, Any]:
    return {
        "name": standard.name,
        "title": standard.title,
        "framework": standard.framework,
        "groups": len(standard.groups),
        "items": len(standard.items),
        "by_evidence": sum(1 for i in standard.items if i.evidence_check),
    }


@standard_app.command("list")
def standard_list(as_json: JsonOpt = False) -> None:
    """The standards: shipped ones and your own in $XBR_HOME/standards."""
    rows = [_summary(s) for s in root().standards().values()]
    render.out(
        as_json,
        rows,
        lambda: render.rows(
            "Standards", ["name", "title", "framework", "items", "by_evidence"], rows
        ),
    )


@standard_app.command("show")
def standard_show(name: str, as_json: JsonOpt = False) -> None:
    """A standard's items by group: question, category, weight, severity, references."""
    standard = pick_standard(root().standards(), name)
    render.out(as_json, standard.model_dump(mode="json"), lambda: _show(standard))


def _show(standard: Standard) -> None:
    render.say(f"{standard.title} ({standard.name}, {len(standard.items)} items)")
    if standard.source:
        render.say(f"source: {standard.source}")
    for group in standard.groups:
        items = [i for i in standard.items if i.group == group.id]
        table = Table(title=Text(render.clean(f"{group.id} {group.title}")), show_lines=False)
        table.add_column("id", no_wrap=True)
        table.add_column("question", overflow="fold", ratio=1)
        for column in ("category", "weight", "if not met", "answered by"):
            table.add_column(column, no_wrap=True)
        for item in items:
            table.add_row(
                *(Text(render.clean(v)) for v in (item.id, item.question, item.category)),
                str(item.weight),
                Text(item.severity, style="red" if item.severity == "red" else "yellow"),
                Text(render.clean(item.evidence_check or "a person")),
            )
        render.console.print(table)


@standard_app.command("validate")
def standard_validate(file: Path, as_json: JsonOpt = False) -> None:
    """Check a standard file; errors name the file, the item and the field."""
    standard = load_standard_file(file)
    groups = Counter(i.group for i in standard.items)
    data = {"file": str(file), "valid": True, **_summary(standard), "per_group": dict(groups)}
    render.out(
        as_json,
        data,
        f"{file}: valid standard {standard.name} with {len(standard.items)} items in "
        f"{len(standard.groups)} groups",
    )
