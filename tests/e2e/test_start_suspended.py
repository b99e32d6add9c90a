"""XBR_START_SUSPENDED: a new review's run is made suspended at its first gate and starts no
process until that gate is decided; from then on it runs as any other review's run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from states import directory
from states.templates.catalog import load_catalog
from tests.e2e.conftest import ROOT, Server, Stack, make_stack, run_stack, wait_for
from tests.e2e.test_review_flow import assert_no_duplicates, close_phase_tasks, start, walk_to


@pytest.fixture
def stack(tmp_path: Path, prefect_server: Server) -> Iterator[Stack]:
    """An installation whose new reviews' runs start suspended."""
    home = tmp_path / "home"
    yield from run_stack(make_stack(home, prefect_server, {"XBR_START_SUSPENDED": "true"}))


def born_run(stack: Stack, review_id: int) -> dict:  # type: ignore[type-arg]
    run = stack.api(f"/flow_runs/{stack.review(review_id)['flow_run_id']}")
    assert run["state"]["type"] == "PAUSED"
    assert run["state"]["name"] == "Suspended"
    return dict(run)


def test_a_new_review_waits_without_running_and_closes_from_the_command_line(
    stack: Stack,
) -> None:
    review_id = start(stack, "Client qbr")
    run = born_run(stack, review_id)
    assert run["state"]["state_details"]["pause_key"] == f"review-{review_id}-needed-r0-a0-new"
    assert run["run_count"] == 0
    assert run["start_time"] is None
    assert {"client:client-qbr", "type:qbr"} <= set(run["tags"])
    walk_to(stack, review_id)  # the first `xbr approve` wakes it: it runs to the next gate
    assert stack.review(review_id)["status"] == "closed"
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"
    assert_no_duplicates(stack, review_id)


def test_resume_in_the_prefect_ui_runs_it_to_its_gates_form(stack: Stack) -> None:
    review_id = start(stack, "Client qbr")
    run_id = born_run(stack, review_id)["id"]
    # a run with no form yet: the UI's Resume button sends no input
    assert stack.api(f"/flow_runs/{run_id}/resume", {})["status"] == "ACCEPT"
    key = stack.wait_suspended(review_id)
    assert key.startswith(f"review-{review_id}-needed-r0-a0-x")  # the flow's own key
    assert stack.review(review_id)["status"] == "needed"  # nothing decided
    schema = stack.api(f"/flow_runs/{run_id}/input/filter",
                       {"prefix": f"suspended-{key}-schema", "limit": 1})  # fmt: skip
    assert schema, "the gate's Resume form"
    close_phase_tasks(stack, stack.review(review_id))
    code = stack.decision_code(review_id, "olga@msp.example")
    stack.resume_form(run_id, {"decision": "approve", "decision_code": code})
    wait_for("the form's approval", lambda: stack.review(review_id)["status"] == "scheduling")
    stack.wait_suspended(review_id)


def test_a_lost_run_of_a_review_in_staging_is_replaced_by_one_that_runs(stack: Stack) -> None:
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, stop_before="staging")
    stack.wait_suspended(review_id)
    lost = stack.review(review_id)["flow_run_id"]
    stack.api(f"/flow_runs/{lost}/set_state",
              {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})  # fmt: skip
    stack.recheck_due(review_id)
    stack.xbr("sweep")
    review = stack.review(review_id)
    assert review["flow_run_id"] != lost
    assert review["run_generation"] == 1
    # staging has work on arrival (the client's exports): its new run runs now
    wait_for("the new run to run", lambda: stack.api(f"/flow_runs/{review['flow_run_id']}")
             ["run_count"] >= 1, timeout=120)  # fmt: skip
    stack.wait_suspended(review_id)


# Several threads of one process start reviews at once, as a burst does: they share the
# process's Prefect client, and a start repeated after a crash gets its run back.
BURST = """
import json
from concurrent.futures import ThreadPoolExecutor
from tasks.flow_runs import attach_new_run
from states.calendar.opening import start_review
from states.templates.catalog import load_catalog
from bootstrap import root
uow = root().uow

catalog = load_catalog()

def one(n):
    review_id = start_review(uow(), f"Burst client {n}", catalog, meeting="2028-03-03T10:00")
    return review_id, attach_new_run(uow, review_id)

with ThreadPoolExecutor(4) as pool:
    started = dict(pool.map(one, range(8)))
first = min(started)
print(json.dumps({"runs": started, "again": attach_new_run(uow, first), "first": first}))
"""


def test_reviews_started_together_in_one_process_each_get_one_run(stack: Stack) -> None:
    catalog = load_catalog()
    for n in range(8):
        directory.add_client(stack.uow(), f"Burst client {n}", "quarterly", "qbr",
                             "Europe/Berlin", catalog)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", BURST], env=stack.env, cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1])
    runs = {int(review_id): run_id for review_id, run_id in out["runs"].items()}
    assert len(set(runs.values())) == 8
    assert out["again"] == runs[out["first"]]  # the same run back, not a second one
    for review_id, run_id in runs.items():
        assert stack.review(review_id)["flow_run_id"] == run_id
        assert born_run(stack, review_id)["id"] == run_id
