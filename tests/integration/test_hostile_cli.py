"""The command line under hostile input: values shown as the data they are, limits held at the
edge, one line and exit 2 for bad input, one line and a log for a fault, never a traceback."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.cli import app
from notifications.outbox import deliver_due
from notifications.psa import spreadsheet_cell
from states import directory
from states.calendar.opening import start_review
from states.settings import Settings
from states.staging.intake import import_files
from states.staging.record import assess
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr, snapshot
from tests.team import walk

NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)

# What these tests send is refused or shown before the database matters: SQLite suffices (the
# command line on PostgreSQL is covered by test_cli.py and test_store.py).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HUGE = str(2**70)
ESCAPE = "\x1b[31m"


def test_markup_in_a_name_is_shown_as_written_and_breaks_no_listing(xbr: Xbr) -> None:
    xbr("person", "add", "Bob [/] x [bold]", "--email", "bob@msp.example", "--role", "intern")
    code, out, err = xbr("person", "list")
    assert "Bob [/] x [bold]" in out
    xbr("client", "add", "[red]Acme[/red]", "--cadence", "quarterly", "--template", "qbr")
    code, out, err = xbr("client", "list")
    assert "[red]Acme[/red]" in out


def test_a_reject_comment_with_markup_never_breaks_the_review(xbr: Xbr) -> None:
    review_id = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    xbr("reject", str(review_id), "--as", "olga@msp.example", "--comment", "needs rework [/x]")
    code, out, err = xbr("review", "show", str(review_id))
    assert "needs rework [/x]" in out
    assert xbr.json("review", "show", str(review_id))["audit"][-1]["comment"] == (
        "needs rework [/x]"
    )


BAD_INPUT = [
    (["review", "show", HUGE], "Invalid value for 'review_id'"),
    (["review", "show", "0"], "Invalid value for 'review_id'"),
    (["approve", HUGE, "--as", "olga@msp.example"], "Invalid value for 'review_id'"),
    (["reject", HUGE, "--as", "olga@msp.example"], "Invalid value for 'review_id'"),
    (["task", "done", HUGE, "x", "--as", "olga@msp.example"], "Invalid value for 'review_id'"),
    (["task", "skip", HUGE, "x", "--as", "o@msp.example", "--reason", "r"], "'review_id'"),
    (["outbox", "retry", HUGE], "Invalid value for 'message_id'"),
    (["approve", "--as", "olga@msp.example"], "Missing argument 'review_id'"),
    (["approve", "{id}", "--as", "olga@msp.example", "--bogus"], "No such option: --bogus"),
    (["person", "add", "x" * 201, "--email", "x@msp.example", "--role", "intern"], "at most 200"),
    (
        ["person", "add", f"Bob{ESCAPE}", "--email", "x@msp.example", "--role", "intern"],
        "control character",
    ),  # fmt: skip
    (
        ["person", "add", "Bob\nEve", "--email", "x@msp.example", "--role", "intern"],
        "control character",
    ),  # fmt: skip
    (["person", "add", "Bob", "--email", "bob@msp", "--role", "intern"], "not an email address"),
    (
        ["person", "add", "Bob", "--email", "bob@@msp.example", "--role", "intern"],
        "not an email address",
    ),  # fmt: skip
    (["client", "add", "y" * 201, "--cadence", "monthly", "--template", "qbr"], "at most 200"),
    (["client", "add", "A\rB", "--cadence", "monthly", "--template", "qbr"], "control character"),
    (
        ["review", "start", "Client trs", "--meeting", "9999-12-31T23:00", "--no-flow"],
        "more than three years ahead",
    ),  # fmt: skip
    (
        ["review", "start", "Client trs", "--meeting", "0001-01-01T00:30+05:00", "--no-flow"],
        "not an ISO date-time",
    ),  # fmt: skip
    (
        ["task", "done", "{id}", "confirm-qbr-scope", "--as", "andy@msp.example", "--hours", "inf"],
        "--hours inf is out of range",
    ),  # fmt: skip
    (
        ["task", "done", "{id}", "confirm-qbr-scope", "--as", "andy@msp.example", "--hours", "nan"],
        "--hours nan is out of range",
    ),  # fmt: skip
    (
        ["task", "done", "{id}", "confirm-qbr-scope", "--as", "andy@msp.example", "--hours", "25"],
        "--hours 25.0 is out of range",
    ),  # fmt: skip
    (
        ["task", "done", "{id}", "confirm-qbr-scope", "--as", "andy@msp.example", "--hours", "-1"],
        "--hours -1.0 is out of range",
    ),  # fmt: skip
    (
        ["reject", "{id}", "--as", "olga@msp.example", "--comment", "z" * 2001],
        "the comment (--comment) is 2001 characters long",
    ),  # fmt: skip
    (
        ["reject", "{id}", "--as", "olga@msp.example", "--comment", f"ok{ESCAPE}"],
        "the comment (--comment) holds a control character",
    ),  # fmt: skip
    (
        [
            "task",
            "skip",
            "{id}",
            "confirm-qbr-scope",
            "--as",
            "andy@msp.example",
            "--reason",
            "a\rb",
        ],
        "the reason (--reason) holds a control character",
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("argv", "message"), BAD_INPUT, ids=[f"{i}-{' '.join(a[:2])}" for i, (a, _) in
                                          enumerate(BAD_INPUT)]
)  # fmt: skip
def test_hostile_input_is_one_line_exit_2_and_no_change(
    xbr: Xbr, database_url: str, argv: list[str], message: str
) -> None:
    review_id = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    before = snapshot(database_url)
    code, out, err = xbr(*(a.replace("{id}", str(review_id)) for a in argv), ok=False)
    assert code == 2, err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in out + err
    assert snapshot(database_url) == before


def test_a_fault_in_xbr_is_one_line_with_the_log_holding_the_traceback(
    xbr: Xbr, tmp_path: Path
) -> None:
    """A command that fails for a reason no person can fix (here one added for the test that
    divides by zero) ends with exit 1, one line, and the traceback in a log only its owner
    reads."""

    @app.command("divide-by-zero", hidden=True)
    def divide_by_zero() -> None:
        print(1 / 0)

    try:
        code, out, err = xbr("divide-by-zero", ok=False)
    finally:
        app.registered_commands.pop()
    assert code == 1
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    found = re.search(r"the traceback is in (\S+\.log)", err)
    assert found, err
    log = Path(found.group(1))
    assert log.parent == tmp_path / "home" / "logs"
    assert "ZeroDivisionError" in log.read_text()
    assert "Traceback" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_formula_in_a_client_name_is_written_as_text_to_tickets_csv(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    assert spreadsheet_cell("=2+5") == "'=2+5"
    assert spreadsheet_cell("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_cell("\tx") == "'\tx"
    assert spreadsheet_cell("Acme Law") == "Acme Law"
    assert spreadsheet_cell(-3) == -3  # a number stays a number
    directory.add_client(uow(), "=2+5", "quarterly", "xbr-sop", "UTC", catalog)
    meeting = (NOW + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), "=2+5", catalog, "xbr-sop", meeting, now=NOW)
    walk(uow, review_id, "staging")
    folder = tmp_path / "exports-in"
    folder.mkdir()
    (folder / "patches.csv").write_text(
        "device,missing_critical,missing_total,last_scan\n"
        + "".join(f"-cmd|' /C calc'!A{i},1,3,2026-11-15\n" for i in range(5)),
        encoding="utf-8",
    )
    import_files(uow(), review_id, [folder / "patches.csv"], "sam@msp.example")
    assess(uow(), review_id, NOW)
    deliver_due(uow(), Settings(home=tmp_path / "home"))
    with (tmp_path / "home" / "exports" / "tickets.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "staging opened a patch ticket for the client"
    assert {row["client"] for row in rows} == {"'=2+5"}
    assert not [v for row in rows for v in row.values() if v.startswith(("=", "+", "-", "@"))]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.text(max_size=260),
    email=st.text(max_size=60) | st.emails(),
    comment=st.text(max_size=60),
)
def test_any_text_to_person_add_and_reject_is_stored_or_refused_in_one_line(
    xbr: Xbr, database_url: str, name: str, email: str, comment: str
) -> None:
    """Arbitrary text gives exit 0 or a one-line refusal (exit 2) with no change, and whatever
    was stored lists without breaking the terminal."""
    if "\x00" in name + email + comment:
        return  # the operating system refuses a NUL in an argument before xbr sees it
    before = snapshot(database_url)
    code, out, err = xbr("person", "add", name, "--email", email, "--role", "intern", ok=False)
    assert code in (0, 2), err
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("error: "), err
        assert err.count("\n") == 1, err
        assert snapshot(database_url) == before
    code, out, err = xbr("person", "list", ok=False)
    assert code == 0, err
    assert "\x1b" not in out  # no escape sequence from the data reaches the terminal
    code, out, err = xbr("review", "list", ok=False)
    assert code == 0, err


def test_xbr_home_and_what_xbr_writes_are_readable_by_their_owner_only(
    xbr: Xbr, tmp_path: Path
) -> None:
    """The fixture's `xbr init` made the home; the database, a report and an export follow."""
    home = tmp_path / "home"
    assert home.stat().st_mode & 0o777 == 0o700
    database = home / "xbr.db"
    if database.exists():  # SQLite; on PostgreSQL the server keeps the data
        assert database.stat().st_mode & 0o777 == 0o600
    review_id = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    report = tmp_path / "out" / "report.html"
    xbr("report", str(review_id), "--out", str(report))
    assert report.stat().st_mode & 0o777 == 0o600
    assert report.parent.stat().st_mode & 0o777 == 0o700


def test_init_closes_a_home_that_others_could_read(xbr: Xbr, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.chmod(0o755)
    xbr("init")
    assert home.stat().st_mode & 0o777 == 0o700


def test_every_audit_row_of_a_command_line_decision_names_the_os_user(xbr: Xbr) -> None:
    """`--as` is an operator's word; the audit trail also keeps who ran the command."""
    import os
    import pwd

    review_id = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    xbr("task", "done", str(review_id), "confirm-qbr-scope", "--as", "andy@msp.example")
    xbr("reject", str(review_id), "--as", "olga@msp.example", "--comment", "redo")
    audit = xbr.json("review", "show", str(review_id))["audit"]
    user = pwd.getpwuid(os.getuid()).pw_name
    assert {a["via"] for a in audit} == {f"command line, os user {user}"}
