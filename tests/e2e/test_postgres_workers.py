"""xbr at scale: both databases on PostgreSQL (the Prefect server's and the application's),
with `xbr up`'s runner and with two `xbr worker` processes, one of them killed mid-review."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deploy.stack import free_port
from states.settings import normalize_url
from tests.conftest import fresh_postgres_database
from tests.e2e.conftest import ROOT, Server, Stack, make_stack, run_stack, wait_for
from tests.e2e.test_review_flow import (
    approve_gate,
    assert_no_duplicates,
    close_phase_tasks,
    start,
    walk_to,
)


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on a PostgreSQL database of its own."""
    with fresh_postgres_database() as url:
        home, port = tmp_path_factory.mktemp("prefect-pg"), free_port()
        # its vacuum looks every 2 s, not every hour (the retention test waits for it)
        fast = {"PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS": "2"}
        server = Server(home, port, database_url=url, extra_env=fast)
        server.start()
        yield server
        server.stop()


@pytest.fixture
def pg_stack(tmp_path: Path, pg_server: Server, postgres_url: str) -> Stack:
    """An installation whose application database is PostgreSQL, on the PostgreSQL server."""
    return make_stack(tmp_path / "home", pg_server, {"XBR_DATABASE_URL": postgres_url})


@pytest.fixture
def pg_runner(pg_stack: Stack) -> Iterator[Stack]:
    """That installation with `xbr up`'s runner on the shared server."""
    yield from run_stack(pg_stack)


def test_a_review_runs_to_closed_with_both_databases_on_postgresql(
    pg_runner: Stack, pg_server: Server
) -> None:
    stack = pg_runner
    assert stack.engine().dialect.name == "postgresql"
    review_id = start(stack, "Client btr")
    walk_to(stack, review_id)
    assert stack.wait_finished(review_id)["type"] == "COMPLETED"
    assert_no_duplicates(stack, review_id)
    # the run is a row of the Prefect server's own PostgreSQL database
    prefect_db = create_engine(normalize_url(pg_server.database_url))
    with prefect_db.connect() as conn:
        found = conn.execute(
            text("SELECT state_type FROM flow_run WHERE id = :id"),
            {"id": stack.review(review_id)["flow_run_id"]},
        ).scalar()
    prefect_db.dispose()
    assert found == "COMPLETED"


def test_prefects_database_drops_old_ended_runs_never_an_open_review_s(
    pg_runner: Stack, pg_server: Server
) -> None:
    stack = pg_runner
    waiting = start(stack, "Client qbr")
    stack.wait_suspended(waiting)
    done = start(stack, "Client monthly-checkin")
    walk_to(stack, done)
    stack.wait_finished(done)
    prefect_db = create_engine(normalize_url(pg_server.database_url))

    def runs(state: str) -> int:
        with prefect_db.connect() as conn:
            query = "SELECT count(*) FROM flow_run WHERE state_type = :state"
            return int(conn.execute(text(query), {"state": state}).scalar() or 0)

    assert runs("COMPLETED") >= 1
    with prefect_db.begin() as conn:  # a hundred days pass
        conn.execute(
            text(
                "UPDATE flow_run SET created = created - interval '100 days', "
                "start_time = start_time - interval '100 days', "
                "expected_start_time = expected_start_time - interval '100 days', "
                "end_time = end_time - interval '100 days'"
            )
        )
    wait_for("the vacuum to drop the old ended runs", lambda: runs("COMPLETED") == 0, 120, 1)
    prefect_db.dispose()
    assert stack.run_state(stack.review(waiting)["flow_run_id"])["type"] == "PAUSED"
    walk_to(stack, waiting)  # the open review goes on as if nothing happened
    assert stack.wait_finished(waiting)["type"] == "COMPLETED"


class Worker:
    """One `xbr worker` process in its own process group, its output in a log file."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.name = name
        self.log = (stack.home / f"{name}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "worker", "--name", name],
            env={**stack.env, "PREFECT_WORKER_QUERY_SECONDS": "1"},
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        )  # fmt: skip

    def runs(self, pid: int) -> bool:
        """Whether process `pid` is this worker or was started by it."""
        while pid > 1:
            if pid == self.process.pid:
                return True
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
        return False

    def kill(self, run_pid: int) -> None:
        """The machine dies: the worker and the run it executes, at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(ProcessLookupError):  # in the worker's process group: gone with it
            os.kill(run_pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # Prefect's worker can hang on its way out
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()


def _catch_a_resumed_run(stack: Stack, review_id: int, workers: list[Worker]) -> tuple[str, int]:
    """Approve gates until a resumed run is seen while a worker runs it (pending or running,
    in a process the worker started; the run's process id may still be the one of its last
    gate): its id and process id."""
    while stack.review(review_id)["status"] != "closed":
        stack.wait_suspended(review_id, timeout=120)
        close_phase_tasks(stack, stack.review(review_id))
        approve_gate(stack, review_id)
        run_id = stack.review(review_id)["flow_run_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run = stack.api(f"/flow_runs/{run_id}")
            pid = (run.get("infrastructure_pid") or "").rsplit(":", 1)[-1]
            busy = run["state"]["type"] in ("PENDING", "RUNNING") and pid.isdigit()
            if busy and any(w.runs(int(pid)) and w.process.pid != int(pid) for w in workers):
                return run_id, int(pid)
            if run["state"]["type"] == "PAUSED":
                break  # it ran and suspended between two looks: try the next gate
            time.sleep(0.05)
    raise AssertionError("no resumed run was seen on a worker before the review closed")


def test_a_worker_killed_mid_review_loses_nothing_and_the_other_finishes_it(
    pg_stack: Stack,
) -> None:
    stack = pg_stack
    deployed = json.loads(stack.xbr("deploy", "--crash-after", "60", "--json").stdout)
    assert deployed["deployments"] == ["business-review", "review-sweeper", "account-calendar"]
    workers = [Worker(stack, "worker-a"), Worker(stack, "worker-b")]
    try:
        review_id = start(stack, "Client qbr")
        run_id, pid = _catch_a_resumed_run(stack, review_id, workers)
        victim = next(w for w in workers if w.runs(pid))
        victim.kill(pid)
        survivor = next(w for w in workers if w is not victim)
        crashed = wait_for(
            "the automation to mark the dead worker's run crashed",
            lambda: (s := stack.run_state(run_id))["type"] == "CRASHED" and s,
            timeout=240,
            every=2,
        )
        assert "heartbeat" in crashed["message"]
        stack.recheck_due(review_id)
        stack.xbr("sweep")  # as the sweeper's schedule would: the review gets a new run
        assert stack.review(review_id)["flow_run_id"] != run_id
        walk_to(stack, review_id)
        assert stack.wait_finished(review_id, timeout=120)["type"] == "COMPLETED"
        assert survivor.process.poll() is None
        assert list((stack.home / "results").iterdir())  # its result, where every worker sees it
        assert_no_duplicates(stack, review_id)
    finally:
        for worker in workers:
            worker.stop()
        if stack._engine is not None:
            stack._engine.dispose()
