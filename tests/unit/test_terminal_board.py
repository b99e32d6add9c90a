"""`xbr board` on a terminal: columns when they fit, one phase after the other when they do
not, every phase named whole either way and a hostile client name printed as text."""

from __future__ import annotations

from typing import Any

import pytest

from deploy import render

PHASES = ["needed", "scheduling", "scheduled", "staging", "prep", "delivery", "follow_up",
          "qa_review"]  # fmt: skip


def columns(client: str) -> list[dict[str, Any]]:
    card = {"id": 7, "client": client, "type": "qbr", "meeting_at": "2027-01-12T15:00:00+00:00",
            "age_days": 3, "age_warning": True, "overdue_tasks": ["a"],
            "queued_for": None}  # fmt: skip
    return [
        {
            "phase": p,
            "wip_limit": 2 if p == "delivery" else None,
            "count": 2 if p == "delivery" else 0,
            "queued": 1 if p == "delivery" else 0,
            "age_warnings": 0,
            "cards": [card] if p == "staging" else [],
            "more": 0,
        }  # fmt: skip
        for p in PHASES
    ]


@pytest.mark.parametrize("width", [80, 100, 160])
def test_every_phase_is_named_whole_at_any_width(
    width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(render.console, "_width", width)
    render.board(columns("[bold]Acme[/bold] <b>"))
    out = capsys.readouterr().out
    for phase in PHASES:
        assert phase in out, f"{phase} cut at {width} columns:\n{out}"
    assert "…" not in out
    assert "[bold]Acme[/bold] <b>" in out
    assert "1 queued" in out
    assert "1 overdue" in out


def test_a_narrow_terminal_lists_the_phases_one_after_the_other(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(render.console, "_width", 80)
    render.board(columns("Acme Law"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Review board"
    assert "delivery 2/2 · 1 queued" in lines
    assert "  #7 Acme Law · qbr 2027-01-12 · 3 d stale 1 overdue" in lines
    assert max(len(line) for line in lines) <= 80
