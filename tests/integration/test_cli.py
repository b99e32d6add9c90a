"""The `xbr` command line end to end: every shipped template walked from needed to closed, and
bad input refused with one line, exit code 2 and no change."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from states.store.db import UnitOfWork, make_engine
from tests.integration.conftest import Xbr, snapshot
from tests.team import answer_assessment, hold_meeting

MEETING = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")


def _close_open_tasks(xbr: Xbr, review: dict[str, Any]) -> None:
    for task in review["tasks"]:
        if task["phase"] == review["status"] and task["status"] == "open":
            xbr("task", "done", str(review["id"]), task["key"], "--as", task["assignee"],
                "--hours", "0.5")  # fmt: skip
    if review["status"] == "staging":
        _answer_assessment(xbr, review)


def _answer_assessment(xbr: Xbr, review: dict[str, Any]) -> None:
    """Staging's first assignee answers the first open item on the command line, and the rest
    as the approval page would (one call for many)."""
    rid, person = (
        str(review["id"]),
        next(t["assignee"] for t in review["tasks"] if t["phase"] == "staging"),
    )
    items = [i for i in xbr.json("assess", rid)["items"] if i["required"] and not i["source"]]
    if not items:
        return
    xbr("assess", rid, items[0]["id"], "--answer", "met", "--as", person)
    engine = make_engine(os.environ["XBR_DATABASE_URL"])
    try:
        answer_assessment(lambda: UnitOfWork(engine), int(rid), person)
    finally:
        engine.dispose()


def _approve(xbr: Xbr, review: dict[str, Any]) -> None:
    """Approve as the first eligible person the four-eyes rule allows."""
    gate = review["gate"]
    extra = ["--meeting", MEETING] if gate["phase"] == "scheduling" else []
    if gate["phase"] == "delivery":
        engine = make_engine(os.environ["XBR_DATABASE_URL"])
        try:
            hold_meeting(lambda: UnitOfWork(engine), review["id"])
        finally:
            engine.dispose()
    for approver in gate["eligible_approvers"]:
        code, _, err = xbr(
            "approve", str(review["id"]), "--as", approver, "--phase", gate["phase"], *extra,
            ok=False,
        )  # fmt: skip
        if code == 0:
            return
        assert "a second person must approve it" in err, err
    raise AssertionError(f"nobody could approve {gate}")


@pytest.mark.parametrize(
    "template", ["xbr-sop", "btr", "qbr", "bsrr", "trs", "monthly-checkin", "ad-hoc"]
)
def test_every_template_walks_from_needed_to_closed(xbr: Xbr, template: str) -> None:
    review_id = xbr.json("review", "start", f"Client {template}", "--no-flow")["id"]
    phases_seen = []
    for _ in range(20):
        review = xbr.json("review", "show", str(review_id))
        if review["status"] == "closed":
            break
        phases_seen.append(review["status"])
        _close_open_tasks(xbr, review)
        review = xbr.json("review", "show", str(review_id))
        if review["status"] == phases_seen[-1] and review["gate"]["approval"]:
            _approve(xbr, review)
    review = xbr.json("review", "show", str(review_id))
    assert review["status"] == "closed"
    assert all(t["status"] == "done" for t in review["tasks"] if t["required"])
    assert review["gate"] is None
    steps = [(a["from"], a["to"]) for a in review["audit"] if a["from"] != a["to"]]
    assert steps == [
        (None, "needed"),
        ("needed", "scheduling"),
        ("scheduling", "scheduled"),
        ("scheduled", "staging"),
        ("staging", "prep"),
        ("prep", "delivery"),
        ("delivery", "follow_up"),
        ("follow_up", "qa_review"),
        ("qa_review", "closed"),
    ]
    task_rows = [a for a in review["audit"] if a["trigger"] == "task_done"]
    assert len(task_rows) == sum(t["status"] == "done" for t in review["tasks"])
    assert review["version"] > 1


def test_monthly_checkin_passes_through_staging_and_says_so(xbr: Xbr) -> None:
    review_id = xbr.json("review", "start", "Client monthly-checkin", "--no-flow")["id"]
    review = xbr.json("review", "show", str(review_id))
    _close_open_tasks(xbr, review)
    _approve(xbr, xbr.json("review", "show", str(review_id)))
    _close_open_tasks(xbr, xbr.json("review", "show", str(review_id)))
    _approve(xbr, xbr.json("review", "show", str(review_id)))  # scheduling
    _approve(xbr, xbr.json("review", "show", str(review_id)))  # pull from scheduled
    review = xbr.json("review", "show", str(review_id))
    assert review["status"] == "delivery"  # staging has no work, prep's only task is optional
    by_phase = {a["from"]: a for a in review["audit"] if a["from"] != a["to"]}
    assert by_phase["staging"]["actor"] == by_phase["prep"]["actor"] == "xbr"
    assert "passed through" in by_phase["staging"]["comment"]
    assert "needs no approval" in by_phase["prep"]["comment"]


def test_review_show_json_contract(xbr: Xbr) -> None:
    review_id = xbr.json("review", "start", "Client btr", "--meeting", MEETING, "--no-flow")["id"]
    review = xbr.json("review", "show", str(review_id))
    assert {
        "id",
        "client",
        "type",
        "status",
        "meeting_at",
        "version",
        "gate",
        "tasks",
        "audit",
    } <= set(review)
    assert set(review["gate"]) >= {
        "phase", "trigger", "accountable_role", "eligible_approvers", "open_required_tasks",
    }  # fmt: skip
    assert review["gate"]["eligible_approvers"] == ["olga@msp.example"]
    task = review["tasks"][0]
    assert set(task) >= {"key", "phase", "title", "role", "assignee", "due", "required", "status"}
    assert all(t["due"] for t in review["tasks"]), "a meeting date gives every task a due date"
    assert set(review["audit"][0]) == {"at", "from", "to", "trigger", "actor", "comment", "via"}


REVIEW_KEYS = [
    "id", "name", "client", "client_slug", "type", "period", "status", "meeting_at", "version",
    "template", "round", "budget_hours", "actual_hours", "created_at", "phase_entered_at", "gate",
    "wake_at", "flow_run_id", "run_generation", "progress_artifact_id", "refusals",
    "last_refusal", "tasks", "audit",
]  # fmt: skip
GATE_KEYS = [
    "phase", "round", "trigger", "approval", "accountable_role", "eligible_approvers",
    "open_required_tasks", "open_required_items",
]  # fmt: skip
TASK_KEYS = [
    "key", "phase", "title", "role", "kind", "assignee", "due", "required", "status",
    "completed_by", "note",
]  # fmt: skip


def test_review_show_json_keeps_its_keys_in_order_and_every_field_of_the_read_model(
    xbr: Xbr,
) -> None:
    """Scripts read `review show --json` by key; a field added to the read model shows up
    there, after the keys scripts already know."""
    from dataclasses import fields

    from states.read.views import AuditView, GateView, ReviewView, TaskView

    review_id = xbr.json("review", "start", "Client btr", "--meeting", MEETING, "--no-flow")["id"]
    review = xbr.json("review", "show", str(review_id))
    assert list(review) == REVIEW_KEYS
    assert list(review["gate"]) == GATE_KEYS
    assert list(review["tasks"][0]) == TASK_KEYS
    assert list(review["audit"][0]) == ["at", "from", "to", "trigger", "actor", "comment", "via"]
    renamed = {"from_state": "from", "to_state": "to"}
    for model, keys in [(ReviewView, REVIEW_KEYS), (GateView, GATE_KEYS), (TaskView, TASK_KEYS),
                        (AuditView, list(review["audit"][0]))]:  # fmt: skip
        assert sorted(renamed.get(f.name, f.name) for f in fields(model)) == sorted(keys)


BAD_INPUT = [
    (["review", "start", "Nobody Inc", "--no-flow"], "unknown client 'Nobody Inc'"),
    (["review", "start", "Client qbx", "--no-flow"], "unknown client 'Client qbx'; did you mean"),
    (["review", "start", "Client qbr", "--type", "nope", "--no-flow"], "unknown template 'nope'"),
    (
        ["review", "start", "Client trs", "--meeting", "2020-01-01T10:00", "--no-flow"],
        "in the past",
    ),
    (
        ["review", "start", "Client trs", "--meeting", "next tuesday", "--no-flow"],
        "not an ISO date-time",
    ),
    (["review", "start", "Client qbr", "--no-flow"], "already has open qbr review"),
    (["approve", "999", "--as", "olga@msp.example"], "unknown review 999"),
    (["approve", "{id}", "--as", "ghost@msp.example"], "unknown person"),
    (["approve", "{id}", "--as", "sam@msp.example"], "not accountable"),
    (["approve", "{id}", "--as", "olga@msp.example"], "required tasks still open"),
    (["reopen", "{id}", "--as", "olga@msp.example", "--comment", "x"], "not possible in needed"),
    (["cancel", "{id}", "--as", "olga@msp.example"], "needs a reason"),
    (["approve", "{id}", "--as", "olga@msp.example", "--meeting", "2030-01-01"], "--meeting"),
    (["review", "start", "Client trs", "--meeting", "2027-03-14", "--no-flow"], "no time of day"),
    (["approve", "{id}", "--as", "olga@msp.example", "--phase", "neded"], "unknown phase 'neded'"),
    (["task", "done", "{id}", "nope", "--as", "andy@msp.example"], "has no task 'nope'"),
    (["task", "done", "{id}", "deliver-qbr", "--as", "andy@msp.example"], "belongs to delivery"),
    (["task", "skip", "{id}", "deliver-qbr", "--as", "andy@msp.example"], "needs a reason"),
    (["task", "done", "{id}", "confirm-qbr-scope", "--as", "ivan@msp.example"], "may not close"),
    (["person", "add", "X", "--email", "x@msp.example", "--role", "wizard"], "unknown role"),
    (["person", "add", "X", "--email", "not-an-email", "--role", "intern"], "not an email"),
    (["client", "add", "New", "--cadence", "weekly", "--template", "qbr"], "unknown cadence"),
    (["client", "add", "New", "--cadence", "monthly", "--template", "zzz"], "unknown template"),
    (
        [
            "client",
            "add",
            "New",
            "--cadence",
            "monthly",
            "--template",
            "qbr",
            "--timezone",
            "Mars/Base",
        ],
        "unknown time zone",
    ),  # fmt: skip
    (
        ["client", "add", "Client qbr", "--cadence", "monthly", "--template", "qbr"],
        "exists already",
    ),
    (
        ["deploy", "--prefect-file", "/nowhere/prefect.yaml"],
        "--prefect-file /nowhere/prefect.yaml: not a prefect.yaml with deployments",
    ),
    (["worker"], "no Prefect server: start `xbr up` in another terminal, set PREFECT_API_URL"),
]


@pytest.mark.parametrize(
    ("argv", "message"), BAD_INPUT, ids=[" ".join(a[:3]) for a, _ in BAD_INPUT]
)
def test_bad_input_is_one_line_exit_2_and_no_change(
    xbr: Xbr, database_url: str, argv: list[str], message: str
) -> None:
    review_id = xbr.json("review", "start", "Client qbr", "--no-flow")["id"]
    before = snapshot(database_url)
    code, out, err = xbr(*(a.format(id=review_id) for a in argv), ok=False)
    assert code == 2
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert message in err
    assert snapshot(database_url) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: [unclosed", "malformed YAML: did not find expected ',' or ']'"),
        ("name: x\n  title: [bad\n", "line 2: malformed YAML"),
        ("- just\n- a list\n", "(top level)"),
        ("name: x\ntitle: X\nreview_type: x\nbudget_hours: lots\nphases: {}\n", "budget_hours"),
        (
            "name: x\ntitle: X\nreview_type: x\nphases:\n  staging:\n    tasks:\n"
            "      - {key: a, title: A, role: wizard}\n",
            "phases.staging.tasks[0].role",
        ),
    ],
)
def test_template_validate_names_file_field_and_reason(
    xbr: Xbr, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    code, _, err = xbr("template", "validate", str(path), ok=False)
    assert code == 2
    assert err.startswith(f"error: {path}: "), err
    assert err.count("\n") == 1, err
    assert message in err


def test_template_validate_accepts_shipped_templates(xbr: Xbr) -> None:
    from states.templates.catalog import shipped_template_files

    for path in shipped_template_files():
        assert xbr.json("template", "validate", str(path))["valid"] is True


def test_commands_refuse_an_uninitialised_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("XBR_HOME", str(tmp_path))
    monkeypatch.delenv("XBR_DATABASE_URL", raising=False)
    code, _, err = Xbr(capsys)("review", "list", ok=False)
    assert code == 2
    assert "run `xbr init`" in err


def test_a_new_client_gets_its_first_review_at_onboarding(xbr: Xbr) -> None:
    added = xbr.json(
        "client", "add", "Harbor Vets", "--cadence", "quarterly", "--template", "qbr",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert added["first_review"] is not None
    assert added["run_url"] is None  # no Prefect here: the sweeper gives it its run
    review = xbr.json("review", "show", str(added["first_review"]))
    assert (review["client"], review["type"], review["status"]) == ("Harbor Vets", "qbr", "needed")
    plans = xbr.json("calendar", "run")  # the calendar finds it has its review
    assert not [p for p in plans if p["client"] == "Harbor Vets" and p["review_id"]]
    code, _, err = xbr("review", "start", "Harbor Vets", "--no-flow", ok=False)
    assert code == 2
    assert "already has open qbr review" in err
    never = xbr.json("client", "add", "Walk In", "--cadence", "none", "--template", "qbr")
    assert never["first_review"] is None


def test_the_console_script_prints_all_its_output_and_ends_with_the_command_s_code(
    xbr: Xbr,
) -> None:
    """`xbr` ends without the interpreter's teardown: its output must still all arrive and
    its exit code be the command's."""
    import subprocess
    import sys

    def console(*argv: str) -> subprocess.CompletedProcess[str]:
        script = "import sys; from deploy.cli import main; main()"
        return subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
        )  # fmt: skip

    started = xbr.json("review", "start", "Client qbr", "--meeting", MEETING, "--no-flow")
    board = console("board", "--cards", "0", "--json")
    assert board.returncode == 0, board.stderr
    cards = [card for column in json.loads(board.stdout) for card in column["cards"]]
    assert [card["id"] for card in cards] == [started["id"]]
    refused = console("review", "show", "999999")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: unknown review 999999; see `xbr review list`"
    ]


def test_a_review_whose_run_prefect_refuses_is_kept_and_says_so_in_one_line(
    xbr: Xbr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Prefect API that is up but answers 503 (a busy server): the review is stored, the
    command says in one line that the sweep makes its run, and ends with 0."""
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Busy(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            healthy = self.path == "/api/health"
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"true" if healthy else b'{"detail": "Service Unavailable"}')

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{server.server_port}/api")
    monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", "0")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "deploy.cli", "review", "start", "Client qbr",
             "--meeting", MEETING, "--json"],
            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert started["run_url"] is None
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"review {started['id']} is kept, but Prefect did not make its flow")
    assert "503" in line
    assert line.endswith("the next sweep makes it (or run `xbr sweep`)")
    review = xbr.json("review", "show", str(started["id"]))
    assert review["status"] == "needed"
    assert review["flow_run_id"] is None


def test_a_client_is_assessed_against_its_templates_standards_and_its_own(
    xbr: Xbr, database_url: str
) -> None:
    shown = xbr.json("client", "standards", "Client qbr")
    assert shown == {"client": "Client qbr", "own": [], "assessed": ["policy-procedure"]}
    added = xbr.json("client", "standards", "Client qbr", "--add", "hipaa-security")
    assert added["assessed"] == ["policy-procedure", "hipaa-security"]
    assert xbr.json("client", "show", "Client qbr")["standards"] == ["hipaa-security"]
    before = snapshot(database_url)
    code, _, err = xbr("client", "standards", "Client qbr", "--add", "iso-27001", ok=False)
    assert code == 2
    assert err.startswith("error: unknown standard 'iso-27001'; use one of: hipaa-security, ")
    assert snapshot(database_url) == before
    removed = xbr.json("client", "standards", "Client qbr", "--remove", "hipaa-security")
    assert removed == {"client": "Client qbr", "own": [], "assessed": ["policy-procedure"]}
