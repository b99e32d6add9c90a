"""The directory's trail on the command line: every change to people, roles, clients and their
settings is one audit row naming the operating-system user who ran the command; a refused
change and a change to the same values write none; `xbr directory log` shows them."""

from __future__ import annotations

import pytest

from deploy import render
from deploy.context import os_user
from tests.integration.conftest import Xbr


def test_each_change_to_the_directory_names_who_ran_the_command(xbr: Xbr) -> None:
    me = f"os user {os_user()}"
    before = xbr.json("directory", "log", "--limit", "500")
    xbr("person", "add", "Nora New", "--email", "nora@msp.example", "--role", "intern")
    xbr("person", "add", "Nora New", "--email", "nora@msp.example", "--role", "intern")  # has it
    xbr("person", "add", "Nora New", "--email", "nora@msp.example", "--role", "vcio")
    xbr("client", "assign", "Client qbr", "--role", "vcio", "--email", "nora@msp.example")
    xbr("client", "edit", "Client qbr", "--timezone", "Asia/Tokyo")
    xbr("client", "edit", "Client qbr", "--timezone", "Asia/Tokyo")  # as it is: no row
    xbr("client", "fiscal-year", "Client qbr", "--start", "7")
    xbr("client", "thresholds", "Client qbr", "--set", "secure_score_target=80")
    code, _, err = xbr("client", "edit", "Client qbr", "--timezone", "Mars/Olympus", ok=False)
    assert code == 2
    assert "unknown time zone" in err

    trail = xbr.json("directory", "log", "--limit", "500")  # newest first
    changes = trail[: len(trail) - len(before)]
    assert [(c["change"], c["what"]) for c in changes] == [
        ("thresholds_set", "Client qbr: secure_score_target=80.0"),
        ("fiscal_year_set", "Client qbr: month 1 -> 7"),
        ("client_edited", "Client qbr: timezone Europe/Berlin -> Asia/Tokyo"),
        ("role_assigned", "nora@msp.example covers vcio for Client qbr"),
        ("roles_added", "nora@msp.example: vcio"),
        ("person_added", "Nora New <nora@msp.example>: intern"),
    ]
    assert {(c["actor"], c["via"]) for c in changes} == {(me, f"command line, {me}")}
    assert [c["id"] for c in changes] == sorted((c["id"] for c in changes), reverse=True)
    assert len(xbr.json("directory", "log", "--limit", "2")) == 2

    _, out, _ = xbr("directory", "log", "--limit", "1")
    assert "Changes to the directory" in out
    assert "thresholds set" in out
    code, _, err = xbr("directory", "log", "--limit", "501", ok=False)
    assert code == 2
    assert "--limit" in err


def test_a_hostile_name_in_the_trail_is_shown_as_text(
    xbr: Xbr, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render.console, "_width", 200)  # the whole line in one cell
    hostile = "[bold red]Boss[/bold red] <b>"
    xbr("person", "add", hostile, "--email", "boss@msp.example", "--role", "intern")
    _, out, _ = xbr("directory", "log", "--limit", "1")
    assert "[bold red]Boss[/bold red] <b> <boss@msp.example>: intern" in out
    (change,) = xbr.json("directory", "log", "--limit", "1")
    assert change["what"] == f"{hostile} <boss@msp.example>: intern"
