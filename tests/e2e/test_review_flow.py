"""Reviews as real Prefect flow runs: suspended at every gate, resumed by decisions, recovered
after crashes, against a real `prefect server start` and a real runner (`xbr up`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.store.models import AuditEntry, Decision, OutboxMessage, Review, ReviewTask
from tests.e2e.conftest import ROOT, Stack, wait_for
from tests.team import answer_assessment, hold_meeting

MEETING = (datetime.now(UTC) + timedelta(weeks=8)).strftime("%Y-%m-%dT10:00")
PHASES = ["needed", "scheduling", "scheduled", "staging", "prep", "delivery", "follow_up",
          "qa_review"]  # fmt: skip


def close_phase_tasks(stack: Stack, review: dict) -> None:  # type: ignore[type-arg]
    """The team does its work: every open task of the current phase, by its assignee."""
    for task in review["tasks"]:
        if task["phase"] == review["status"] and task["status"] == "open":
            complete_task(stack.uow(), review["id"], task["key"], task["assignee"], hours=0.25)
    if review["status"] == "staging":  # and answers the assessment's required items
        staging = [t["assignee"] for t in review["tasks"] if t["phase"] == "staging"]
        answer_assessment(stack.uow, review["id"], staging[0])


def approve_gate(stack: Stack, review_id: int) -> None:
    """The accountable person approves through the command line (the real resume path)."""
    review = stack.review(review_id)
    gate = review["gate"]
    if gate["phase"] == "delivery":
        hold_meeting(stack.uow, review_id)
    for approver in gate["eligible_approvers"]:
        done = stack.xbr("approve", str(review_id), "--as", approver, "--phase", gate["phase"],
                         ok=False)  # fmt: skip
        if done.returncode == 0:
            return
        assert "a second person must approve it" in done.stderr, done.stderr
    raise AssertionError(f"nobody could approve {gate}")


def walk_to(stack: Stack, review_id: int, stop_before: str = "closed") -> None:
    """Take a review through its gates, waiting for the run at each one, until `stop_before`."""
    while (review := stack.review(review_id))["status"] not in (stop_before, "closed"):
        stack.wait_suspended(review_id)
        close_phase_tasks(stack, review)
        approve_gate(stack, review_id)


def assert_no_duplicates(stack: Stack, review_id: int) -> None:
    with stack.uow() as work:
        s = work.session
        rounds = [
            d.round for d in s.scalars(select(Decision).where(Decision.review_id == review_id))
        ]
        assert len(rounds) == len(set(rounds))
        moves = [
            (a.from_state, a.to_state)
            for a in s.scalars(select(AuditEntry).where(AuditEntry.review_id == review_id))
            if a.from_state != a.to_state
        ]
        assert moves == [(None, "needed"), *zip(PHASES, [*PHASES[1:], "closed"], strict=True)]
        keys = [
            t.key for t in s.scalars(select(ReviewTask).where(ReviewTask.review_id == review_id))
        ]
        assert len(keys) == len(set(keys))
        done = Counter(
            a.comment.split(":")[0]
            for a in s.scalars(select(AuditEntry).where(AuditEntry.review_id == review_id))
            if a.trigger == "task_done"
        )
        assert all(n == 1 for n in done.values()), done
        steps = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.review_id == review_id, OutboxMessage.kind == "review.step"
            )
        )
        assert len(list(steps)) == len(moves)


def start(stack: Stack, client: str) -> int:
    out = stack.xbr("review", "start", client, "--meeting", MEETING, "--json").stdout
    return int(json.loads(out)["id"])


def test_btr_review_runs_from_start_to_closed(stack: Stack) -> None:
    review_id = start(stack, "Client btr")
    walk_to(stack, review_id)
    assert stack.review(review_id)["status"] == "closed"
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"
    assert_no_duplicates(stack, review_id)
    run = stack.api(f"/flow_runs/{stack.review(review_id)['flow_run_id']}")
    assert run["name"] == stack.review(review_id)["name"]
    assert {"client:client-btr", "type:btr"} <= set(run["tags"])


def test_resume_form_without_the_approvers_code_is_refused_and_suspends_again(
    stack: Stack,
) -> None:
    review_id = start(stack, "Client qbr")
    key = stack.wait_suspended(review_id)
    run_id = stack.review(review_id)["flow_run_id"]
    # what the Prefect UI's Resume form sends: anyone who can open the UI can send it
    form = {"decision": "approve", "decision_code": "SAM00-GUESS"}
    stack.resume_form(run_id, form)
    new_key = stack.wait_suspended(review_id)
    assert new_key != key
    review = stack.review(review_id)
    assert review["status"] == "needed"
    assert review["refusals"] == 1
    assert "decision code is missing, wrong or expired" in review["last_refusal"]
    assert [a["trigger"] for a in review["audit"]][-1] == "refused"
    assert review["audit"][-1]["via"] == "Prefect UI Resume form, decision code"
    inputs = stack.api(f"/flow_runs/{run_id}/input/filter",
                       {"prefix": f"suspended-{new_key}-description", "limit": 1})  # fmt: skip
    assert "**Refused:**" in json.loads(inputs[0]["value"])
    close_phase_tasks(stack, review)
    code = stack.decision_code(review_id, "olga@msp.example")
    stack.resume_form(run_id, {"decision": "approve", "decision_code": code.lower()})
    wait_for("the form's approval", lambda: stack.review(review_id)["status"] == "scheduling")
    approved = [a for a in stack.review(review_id)["audit"] if a["to"] == "scheduling"]
    assert approved[0]["actor"] == "olga@msp.example"
    assert approved[0]["via"] == "Prefect UI Resume form, decision code"
    stack.wait_suspended(review_id)


@pytest.mark.parametrize("phase", PHASES)
def test_runner_killed_at_each_phase_loses_and_repeats_nothing(stack: Stack, phase: str) -> None:
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, stop_before=phase)
    stack.wait_suspended(review_id)
    close_phase_tasks(stack, stack.review(review_id))
    approve_gate(stack, review_id)  # the run resumes ...
    assert stack.runner is not None
    os.killpg(stack.runner.pid, signal.SIGKILL)  # ... and its runner dies with everything in it
    stack.runner.wait(timeout=30)
    stack.start_runner()
    walk_to(stack, review_id)
    assert stack.review(review_id)["status"] == "closed"
    assert_no_duplicates(stack, review_id)


def test_a_run_that_died_after_the_last_decision_is_finished_when_xbr_starts(
    stack: Stack,
) -> None:
    """The whole stack dies right after the review's last decision: its run crashed before its
    last steps (the client's next review, the last artifacts). `xbr up` starts again, and the
    review's run does them once and ends Completed."""
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, stop_before="qa_review")
    stack.wait_suspended(review_id)
    close_phase_tasks(stack, stack.review(review_id))
    assert stack.runner is not None
    os.killpg(stack.runner.pid, signal.SIGKILL)  # the stack dies with everything in it ...
    stack.runner.wait(timeout=30)
    (stack.home / "stack.json").unlink(missing_ok=True)
    approve_gate(stack, review_id)  # ... as the last decision lands: the review is closed
    assert stack.review(review_id)["status"] == "closed"
    run_id = stack.review(review_id)["flow_run_id"]
    # what xbr up's start finds of a run its dead runner held: crashed
    crashed = {"type": "CRASHED", "name": "Crashed", "message": "its runner was killed"}
    stack.api(f"/flow_runs/{run_id}/set_state", {"state": crashed, "force": True})
    stack.start_runner()
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"
    assert stack.review(review_id)["flow_run_id"] != run_id  # a new run did the last steps
    assert_no_duplicates(stack, review_id)
    with stack.uow() as work:
        nexts = work.session.scalars(
            select(Review).where(Review.client_id == select(Review.client_id).where(
                Review.id == review_id).scalar_subquery(), Review.id != review_id)
        ).all()  # fmt: skip
    assert len(nexts) == 1, "the client's next review, opened once"
    stack.xbr("sweep")  # and the sweeper leaves the finished run alone from now on
    assert stack.review(review_id)["flow_run_id"] != run_id
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"


def test_server_restart_in_the_middle_of_a_review(stack: Stack) -> None:
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, stop_before="staging")
    stack.wait_suspended(review_id)
    stack.server.stop()
    stack.server.start()
    walk_to(stack, review_id)
    assert stack.review(review_id)["status"] == "closed"
    assert_no_duplicates(stack, review_id)


def test_sweeper_wakes_a_review_whose_staging_date_came(stack: Stack) -> None:
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, stop_before="scheduling")
    stack.wait_suspended(review_id)
    close_phase_tasks(stack, stack.review(review_id))
    soon = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y-%m-%dT10:00")
    stack.xbr("approve", str(review_id), "--as", "olga@msp.example", "--meeting", soon)
    review = stack.review(review_id)
    assert review["status"] == "scheduled"
    assert review["wake_at"] is not None
    stack.wait_suspended(review_id)
    stack.xbr("sweep")
    assert stack.review(review_id)["status"] == "staging"
    stack.wait_suspended(review_id)
    wake = [a for a in stack.review(review_id)["audit"] if a["from"] == "scheduled"]
    assert wake[0]["actor"] == "xbr"


def test_sweeper_reattaches_a_review_whose_run_was_lost(stack: Stack) -> None:
    review_id = start(stack, "Client qbr")
    stack.wait_suspended(review_id)
    lost = stack.review(review_id)["flow_run_id"]
    request = f"{stack.server.api_url}/flow_runs/{lost}"
    subprocess.run([sys.executable, "-c", f"import httpx; httpx.delete({request!r})"], check=True)
    stack.recheck_due(review_id)
    stack.xbr("sweep")
    review = stack.review(review_id)
    assert review["flow_run_id"] != lost
    assert review["run_generation"] == 1
    stack.wait_suspended(review_id)
    walk_to(stack, review_id)
    assert_no_duplicates(stack, review_id)


def test_a_restored_backup_resumes_the_reviews_in_it(stack: Stack, tmp_path: Path) -> None:
    review_id = start(stack, "Client qbr")
    stack.wait_suspended(review_id)
    backup = tmp_path / "xbr.backup"
    stack.xbr("backup", str(backup))  # while xbr runs
    # after the backup the review moves on: its run waits at the next gate
    close_phase_tasks(stack, stack.review(review_id))
    approve_gate(stack, review_id)
    stack.wait_suspended(review_id)
    assert stack.review(review_id)["status"] == "scheduling"
    stack.stop_runner()
    stack.engine().dispose()  # this test's connections are to the file the restore replaces
    restored = json.loads(stack.xbr("restore", str(backup), "--json").stdout)
    assert restored["open_reviews"] == 1
    assert stack.review(review_id)["status"] == "needed"
    stack.start_runner()  # its start-up sweep finds the run ahead of the review: it catches up
    stack.wait_suspended(review_id)
    walk_to(stack, review_id)
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"
    assert_no_duplicates(stack, review_id)  # each step once, as if no restore had happened


@pytest.mark.burst
def test_fifty_suspended_reviews_hold_no_process(stack: Stack) -> None:
    script = (
        "from deploy.cli import run\n"
        "from states import directory\n"
        "from bootstrap import root\n"
        "uow = root().uow\n"
        "from states.templates.catalog import load_catalog\n"
        "catalog = load_catalog()\n"
        "for i in range(50):\n"
        "    name = f'Bulk {i}'\n"
        "    directory.add_client(uow(), name, 'monthly', 'monthly-checkin', 'UTC', catalog)\n"
        "    assert run(['review', 'start', name, '--json']) == 0\n"
    )
    subprocess.run([sys.executable, "-c", script], env=stack.env, cwd=ROOT, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    ids = [r["id"] for r in json.loads(stack.xbr("review", "list", "--json").stdout)]
    assert len(ids) == 50

    # on a busy machine Prefect may refuse a run in the burst: the review is kept, and the
    # sweep (every 5 minutes in `xbr up`) makes its run; here it is queued at once, and runs
    # when the runner has a free slot (behind the burst)
    # (a Prefect server busy with the burst may not answer at once: asked again until it does)
    def queued() -> bool:
        return stack.xbr("sweep", "--wait", "0", ok=False).returncode == 0

    wait_for("the sweeper run to be queued", queued, 300, 5)
    for review_id in ids:
        stack.wait_suspended(review_id, timeout=300)
    runner = stack.runner
    assert runner is not None

    def children() -> list[str]:
        """The runner's child processes, but for multiprocessing's resource tracker."""
        found = subprocess.run(["pgrep", "-a", "-P", str(runner.pid)], capture_output=True,
                               text=True).stdout.splitlines()  # fmt: skip
        return [line for line in found if "resource_tracker" not in line]

    # a suspended run's process exits a second or so after it suspends
    wait_for("the runner to hold no child process", lambda: not children(), timeout=120)
    assert children() == []


def test_a_late_wake_up_leaves_a_run_that_caught_up_alone(stack: Stack) -> None:
    """A decision's wake-up that finds the run already at the review's new gate (the sweeper
    woke it first) must not hand that gate the input meant for the one before."""
    review_id = start(stack, "Client qbr")
    stack.wait_suspended(review_id)
    close_phase_tasks(stack, stack.review(review_id))
    request = DecisionRequest(review_id, DecisionKind.APPROVE, "olga@msp.example", phase="needed")
    decide(stack.uow(), request)  # decided, the run not woken yet ...
    stack.xbr("sweep")  # ... and the sweeper gets there first
    key = stack.wait_suspended(review_id)
    assert stack.review(review_id)["status"] == "scheduling"
    run_id = stack.review(review_id)["flow_run_id"]
    late = (
        "from tasks.flow_runs import current_gate_key, resume_review_run\n"
        "from states.read import views\n"
        "from bootstrap import root\n"
        "uow = root().uow\n"
        f"review = views.review_view(uow(), {review_id})\n"
        f"woken = resume_review_run({run_id!r}, {{'decision': 'approve'}}, "
        "gate=current_gate_key(review))\n"
        "assert woken\n"
    )
    subprocess.run([sys.executable, "-c", late], env=stack.env, cwd=ROOT, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    assert stack.run_state(run_id)["state_details"]["pause_key"] == key  # not resumed
    assert stack.review(review_id)["status"] == "scheduling"
