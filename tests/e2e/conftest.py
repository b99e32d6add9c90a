"""A real Prefect server and a real xbr runner in subprocesses, and helpers to drive them."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bootstrap.prefect_env import healthy, server_env
from deploy.stack import free_port
from states import directory
from states.read import views
from states.settings import Settings
from states.store import db
from states.templates.catalog import load_catalog
from tests.conftest import STAFF

ROOT = Path(__file__).resolve().parents[2]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90, every: float = 0.2) -> Any:
    """Poll until `check` returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Server:
    """`prefect server start` on SQLite (or the PostgreSQL database `database_url` names),
    stoppable and restartable on the same port and data."""

    home: Path
    port: int
    database_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def env(self) -> dict[str, str]:
        settings = Settings(home=self.home, prefect_database_url=self.database_url)
        return server_env(settings, self.port) | self.extra_env

    @property
    def api_url(self) -> str:
        return self.env["PREFECT_API_URL"]

    def start(self) -> None:
        (self.home / "prefect").mkdir(parents=True, exist_ok=True)
        self._log = (self.home / "prefect" / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for("the Prefect server", lambda: healthy(self.api_url), timeout=120, every=0.5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        if self._log:
            self._log.close()


@dataclass
class Stack:
    """One xbr installation (its own XBR_HOME) with a runner (`xbr up`) on the shared server."""

    home: Path
    server: Server
    runner: subprocess.Popen[bytes] | None = None
    web_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    _log: Any = field(default=None, repr=False)
    _engine: Any = field(default=None, repr=False)

    @property
    def page_url(self) -> str:
        """The approval page that `xbr up` serves for this installation."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XBR_", "PREFECT_"))}
        env.update(self.server.env)
        env.update(
            XBR_HOME=str(self.home),
            PREFECT_HOME=str(self.home / "prefect"),
            PREFECT_RUNNER_POLL_FREQUENCY="1",
            COLUMNS="200",
            XBR_WEB_PORT=str(self.web_port),
            XBR_CALENDAR_CRON="",  # the daily pass would open reviews behind a test's back
        )
        env.update(self.extra_env)
        return env

    def xbr(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real `xbr` command line against this installation."""
        done = subprocess.run(
            [sys.executable, "-m", "deploy.cli", *argv],
            env=self.env, capture_output=True, text=True, timeout=180, cwd=ROOT,
        )  # fmt: skip
        if ok:
            assert done.returncode == 0, f"xbr {' '.join(argv)}: {done.stderr}"
        return done

    def start_runner(self) -> None:
        if self._log:
            self._log.close()
        self._log = (self.home / "runner.log").open("ab")
        self.runner = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "up"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,  # its own group: a crash test kills it with its children
        )  # fmt: skip
        wait_for("xbr up", lambda: (self.home / "stack.json").exists(), timeout=120)

    def stop_runner(self, sig: int = signal.SIGTERM) -> None:
        if self.runner and self.runner.poll() is None:
            self.runner.send_signal(sig)
            try:
                self.runner.wait(timeout=45)
            except subprocess.TimeoutExpired:
                # never leave a runner behind: it would take the next test's runs
                os.killpg(self.runner.pid, signal.SIGKILL)
                self.runner.wait(timeout=30)
                raise AssertionError("xbr up did not stop on SIGTERM within 45 s") from None
        (self.home / "stack.json").unlink(missing_ok=True)
        if self._log:
            self._log.close()
            self._log = None

    def engine(self) -> Any:
        if self._engine is None:
            url = self.extra_env.get("XBR_DATABASE_URL", "")
            self._engine = db.make_engine(Settings(home=self.home, database_url=url).url)
        return self._engine

    def uow(self) -> db.UnitOfWork:
        return db.UnitOfWork(self.engine())

    def recheck_due(self, review_id: int) -> None:
        """The sweeper's daily recheck of the review's run has come: a run it saw waiting at
        the gate is looked at again (the schedule's own sweep may have seen it a moment ago)."""
        from sqlalchemy import update

        from states.store.models import Review

        with self.uow() as work:
            work.session.execute(
                update(Review).where(Review.id == review_id).values(run_seen_at=None)
            )
            work.commit()

    def review(self, review_id: int) -> dict[str, Any]:
        """The review as `xbr review show --json` prints it, read in this process."""
        return views.review_view(self.uow(), review_id).to_json()

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the Prefect REST API (GET, or POST with a JSON body)."""
        request = urllib.request.Request(
            f"{self.server.api_url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        for attempt in range(20):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                # a busy SQLite server answers 503; Prefect's own client retries it too
                if exc.code != 503 or attempt == 19:
                    raise
                time.sleep(0.5)
            except (TimeoutError, urllib.error.URLError):
                # or, busier still (fifty runs starting on two cores), answers too late
                if attempt == 19:
                    raise
                time.sleep(0.5)

    def resume_form(self, flow_run_id: str, form: dict[str, Any]) -> None:
        """Submit the Resume form as the Prefect UI does; like any resumer, retry while the
        form's schema of a run that has just suspended is not saved yet."""

        def accepted() -> bool:
            result = self.api(f"/flow_runs/{flow_run_id}/resume", {"run_input": form})
            reason = (result.get("details") or {}).get("reason") or ""
            assert result["status"] == "ACCEPT" or "schema not found" in reason, result
            return bool(result["status"] == "ACCEPT")

        wait_for("the run to take the form", accepted, timeout=30, every=0.5)

    def decision_code(self, review_id: int, email: str) -> str:
        """The person's decision code for the review's current gate, as their approval email
        and the approval page show it."""
        from notifications import links

        key = links.load_key(self.home, None)
        round_ = self.review(review_id)["round"]
        expires = (datetime.now(UTC) + timedelta(days=21)).date()
        return links.decision_code(key, review_id, round_, email, expires)

    def run_state(self, flow_run_id: str) -> dict[str, Any]:
        return dict(self.api(f"/flow_runs/{flow_run_id}")["state"])

    def wait_suspended(self, review_id: int, timeout: float = 90) -> str:
        """Wait until the review's run waits at the review's current gate; return the key."""

        def at_gate() -> str | None:
            review = self.review(review_id)
            gate = review["gate"]
            if gate is None or not review["flow_run_id"]:
                return None
            state = self.run_state(review["flow_run_id"])
            key = (state.get("state_details") or {}).get("pause_key") or ""
            phase = gate["phase"].replace("_", "-")
            expected = f"review-{review_id}-{phase}-r{gate['round']}-a{review['refusals']}-"
            return key if state["type"] == "PAUSED" and key.startswith(expected) else None

        try:
            return str(wait_for(f"review {review_id} to wait at its gate", at_gate, timeout, 0.5))
        except AssertionError as late:  # say where it was: no run, a run elsewhere, a crash
            review = self.review(review_id)
            run = review["flow_run_id"] and self.run_state(review["flow_run_id"])
            raise AssertionError(
                f"{late}: it is in {review['status']}, gate {review['gate']},"
                f" run {review['flow_run_id'] or 'none'} {run or ''}"
            ) from None

    def wait_finished(self, review_id: int, timeout: float = 90) -> dict[str, Any]:
        run_id = self.review(review_id)["flow_run_id"]
        return dict(
            wait_for(
                f"the run of review {review_id} to finish",
                lambda: (s := self.run_state(run_id))["type"] == "COMPLETED" and s,
                timeout,
                0.5,
            )
        )


# `make test` runs two pytest-xdist workers. The end-to-end tests run one at a time in two groups
# of about equal length (seven minutes each on two cores), each group on one worker with its own
# Prefect server; the unit and integration tests fill the workers' other time.
FIRST_GROUP = ("test_postgres_workers.py", "test_review_flow.py")
SECOND_GROUP_TESTS = ("test_runner_killed_at_each_phase",)


def e2e_group(item: pytest.Item) -> str:
    """The xdist group an end-to-end test runs in."""
    first = item.path.name in FIRST_GROUP and not item.name.startswith(SECOND_GROUP_TESTS)
    return "e2e-1" if first else "e2e-2"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.parent == here:
            item.add_marker(pytest.mark.xdist_group(e2e_group(item)))


@pytest.fixture(autouse=True)
def share_of_the_machine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """An end-to-end test shares the machine with the other worker's; one marked `burst` (it
    loads every core for minutes) has it alone, so the other's timings stay those of a
    person's machine. A lock beside the workers' temporary folders: shared, or exclusive."""
    alone = request.node.get_closest_marker("burst") is not None
    lock = tmp_path_factory.getbasetemp().parent / "xbr-e2e-machine.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("prefect-server"), free_port())
    server.start()
    yield server
    server.stop()


def make_stack(home: Path, server: Server, extra_env: dict[str, str] | None = None) -> Stack:
    """An initialised installation with staff and clients (its runner not started yet)."""
    stack = Stack(home, server, extra_env=extra_env or {})
    stack.home.mkdir(parents=True)
    db.upgrade(stack.engine())  # what `xbr init` does
    for name, email, roles in STAFF:
        directory.add_person(stack.uow(), name, email, roles)
    catalog = load_catalog()
    for template in ("btr", "qbr", "monthly-checkin"):
        directory.add_client(
            stack.uow(), f"Client {template}", "quarterly", template, "Europe/Berlin", catalog
        )
    return stack


def run_stack(stack: Stack) -> Iterator[Stack]:
    """Its runner up for the test, stopped and its database closed afterwards."""
    stack.start_runner()
    yield stack
    stack.stop_runner()
    if stack._engine is not None:
        stack._engine.dispose()


@pytest.fixture
def stack(tmp_path: Path, prefect_server: Server) -> Iterator[Stack]:
    """An initialised installation with staff and clients, and its runner running."""
    yield from run_stack(make_stack(tmp_path / "home", prefect_server))
