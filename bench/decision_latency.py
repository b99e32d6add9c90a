#!/usr/bin/env python
"""Decision latency: from a submitted gate decision to the review's run suspended at the next gate.

    .venv/bin/python bench/decision_latency.py [--gates 50] \\
        [--out bench/results/decision_latency.json]

Starts a throw-away xbr stack (temporary XBR_HOME, `xbr init`, `xbr up`) and, on the same Prefect
server, a second runner serving a bare suspend/resume flow (bench/bare_flow.py). It then walks
reviews through their gates and bare runs through theirs, alternating one measurement of each:

  xbr   `decide(...)` then `resume_review_run(...)` in this process (what `xbr approve` runs), until
        `GET /flow_runs/{id}` shows the run PAUSED with a new pause key (polled every 50 ms);
  bare  `resume_flow_run(...)` until the bare run is PAUSED at its next key, polled the same way.

It reports p50, p95, mean and n of both and the ratio of the p50s (xbr / bare), where the time
goes (from Prefect's state history), writes JSON to --out and tears the stack down, also on
Ctrl-C or failure. See bench/README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Nothing here may import prefect before the stack is up: prefect reads PREFECT_API_URL (and
# PREFECT_HOME) when it is imported, and `xbr up` must start without PREFECT_API_URL.

# The staff of tests/conftest.py: every role covered, the four-eyes pairs differ.
STAFF = [
    ("Vera Vcio", "vera@msp.example", ["vcio", "ceo"]),
    ("Andy Account", "andy@msp.example", ["account_manager", "sales_assistant"]),
    ("Olga Ops", "olga@msp.example", ["ops_manager", "team_lead", "exec_assistant"]),
    ("Ivan Intern", "ivan@msp.example", ["intern"]),
    ("Sam Support", "sam@msp.example", ["support_engineer", "security_engineer"]),
    ("Tina Tech", "tina@msp.example", ["support_engineer", "intern"]),
    ("Carl Client", "carl@client.example", ["client_contact"]),
]
POLL_SECONDS = 0.05
TARGET_RATIO = 1.3
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED", "CANCELLING"}


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Processes: everything this benchmark starts, and everything those start, ends with it.


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, command line) of every process, from /proc."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie is already gone; only its exit status is left to reap
            continue
        table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def descendants(root: int) -> dict[int, str]:
    """Live processes below `root` (pid -> command line)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found[pid] = table[pid][1]
        stack.extend(children.get(pid, []))
    return found


def _reap() -> None:
    with suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


class Processes:
    """The long-running processes of the benchmark (`xbr up`, the bare runner)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes], Any]] = []
        # Become the parent of orphans: when `xbr up` or a runner dies, what it started (the
        # Prefect server, flow-run processes) is reparented here, so teardown still finds it.
        with suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        handle = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
        )
        self.started.append((name, process, handle))
        log(f"started {name} (pid {process.pid})")
        return process

    def check_alive(self) -> None:
        for name, process, _ in self.started:
            if process.poll() is not None:
                raise BenchError(
                    f"{name} exited with code {process.returncode}; see its log:\n"
                    + tail(self.log_dir / f"{name}.log")
                )

    def flow_run_processes(self) -> dict[int, str]:
        """Flow runs in progress: the runners start each one as a spawned process."""
        return {pid: cmd for pid, cmd in descendants(os.getpid()).items() if "spawn_main" in cmd}

    def stop_all(self) -> None:
        """SIGTERM each (last started first) and wait; then end anything left below us."""
        for name, process, _ in reversed(self.started):
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop within 40 s: killing it")
                    process.kill()
                    process.wait(timeout=10)
            log(f"stopped {name} (exit code {process.returncode})")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = descendants(os.getpid())
            if not left:
                break
            for pid, cmd in left.items():
                log(f"ending leftover process {pid} with {sig.name}: {cmd[:100]}")
                with suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while descendants(os.getpid()) and time.monotonic() < deadline:
                _reap()
                time.sleep(0.1)
        _reap()
        for _, _, handle in self.started:
            handle.close()
        left = descendants(os.getpid())
        if left:
            raise BenchError(f"processes still running after teardown: {left}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


# --------------------------------------------------------------------------------------------
# The Prefect REST API, as the benchmark polls it.


class Api:
    def __init__(self, api_url: str) -> None:
        import httpx

        self.url = api_url
        self.http = httpx.Client(base_url=api_url, timeout=10)

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = self.http.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def states(self, run_id: str) -> list[dict[str, Any]]:
        response = self.http.get("/flow_run_states/", params={"flow_run_id": run_id})
        response.raise_for_status()
        return sorted(response.json(), key=lambda s: s["timestamp"])

    def task_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), 50):
            offset = 0
            while True:
                response = self.http.post(
                    "/task_runs/filter",
                    json={
                        "flow_runs": {"id": {"any_": run_ids[start : start + 50]}},
                        "limit": 200,
                        "offset": offset,
                    },
                )
                response.raise_for_status()
                page = response.json()
                found += page
                if len(page) < 200:
                    break
                offset += 200
        return found

    def wait_input(self, run_id: str, key: str, timeout: float = 30) -> float | None:
        """perf_counter of the poll that found the run input `key`; None after `timeout`."""
        deadline = time.perf_counter() + timeout
        while True:
            found = self.http.get(f"/flow_runs/{run_id}/input/{key}").status_code == 200
            seen = time.perf_counter()
            if found:
                return seen
            if seen > deadline:
                return None
            time.sleep(POLL_SECONDS)

    def has_deployment(self, name: str) -> bool:
        return self.http.get(f"/deployments/name/{name}").status_code == 200

    def wait_next_pause(
        self, run_id: str, before: str | None, final: bool, timeout: float
    ) -> tuple[float, float, str | None]:
        """Poll every 50 ms until the run is PAUSED at a key other than `before` (or, for the
        last gate, COMPLETED). Returns (perf_counter, wall clock) of the poll that saw it, and the
        new key."""
        deadline = time.perf_counter() + timeout
        while True:
            run = self.flow_run(run_id)
            seen, wall = time.perf_counter(), time.time()
            state = run.get("state") or {}
            kind = state.get("type")
            key = (state.get("state_details") or {}).get("pause_key")
            if kind == "PAUSED" and key != before:
                if final:
                    raise BenchError(f"run {run_id} paused at {key} after its last gate")
                return seen, wall, key
            if kind in TERMINAL:
                if final and kind == "COMPLETED":
                    return seen, wall, None
                raise BenchError(
                    f"run {run_id} ended {kind} ({state.get('message')}) while waiting for the "
                    f"gate after {before}"
                )
            if seen > deadline:
                raise BenchError(
                    f"run {run_id} not at its next gate {timeout:.0f} s after the resume "
                    f"(state {kind} {state.get('name')}, key {key}, before {before})"
                )
            time.sleep(POLL_SECONDS)


# --------------------------------------------------------------------------------------------
# The stack.


def xbr_command() -> list[str]:
    script = Path(sys.executable).with_name("xbr")
    if not script.exists():
        raise BenchError(f"no xbr command next to {sys.executable}; run `make install` first")
    return [str(script)]


def scrub_environment(home: Path, sweep_minutes: int) -> None:
    """Our environment, inherited by `xbr up` and the bare runner: only this home, no server."""
    for key in list(os.environ):
        if key.startswith(("PREFECT_", "XBR_")):
            del os.environ[key]
    os.environ["XBR_HOME"] = str(home)
    # The sweeper is a deployment of the stack too; its default 5-minute schedule would start a
    # flow-run process now and then in the middle of the measurements. It is not what is measured.
    os.environ["XBR_SWEEP_MINUTES"] = str(sweep_minutes)


def start_stack(processes: Processes, home: Path) -> str:
    """`xbr init`, then `xbr up` in the background; returns the API URL once it answers."""
    from bootstrap.prefect_env import healthy

    init = subprocess.run(
        [*xbr_command(), "init"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if init.returncode:
        raise BenchError(f"xbr init failed: {init.stdout}{init.stderr}")
    assert "PREFECT_API_URL" not in os.environ
    up = processes.start("xbr-up", [*xbr_command(), "up"], dict(os.environ))
    stack_json = home / "stack.json"
    deadline = time.monotonic() + 180
    while True:
        processes.check_alive()
        if stack_json.exists():
            with suppress(ValueError):
                api_url = str(json.loads(stack_json.read_text())["api_url"])
                if healthy(api_url):
                    log(f"xbr up is up (pid {up.pid}): {api_url}")
                    return api_url
        if time.monotonic() > deadline:
            raise BenchError(
                "xbr up did not write stack.json within 180 s:\n"
                + tail(processes.log_dir / "xbr-up.log")
            )
        time.sleep(0.2)


def wait_for_deployment(api: Api, processes: Processes, name: str) -> None:
    deadline = time.monotonic() + 120
    while not api.has_deployment(name):
        processes.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"deployment {name} not registered within 120 s")
        time.sleep(0.2)


def start_bare_runner(processes: Processes, api_url: str) -> None:
    """The bare flow's runner: same environment as the `xbr up` runner, same server."""
    from urllib.parse import urlparse

    from bootstrap.prefect_env import server_env
    from states.settings import Settings

    port = urlparse(api_url).port
    assert port is not None
    env = {**os.environ, **server_env(Settings(), port), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); import bench.bare_flow as b; b.serve()"
    processes.start("bare-runner", [sys.executable, "-c", code], env)


# --------------------------------------------------------------------------------------------
# The two walkers: each step is one timed gate transition, the set-up around it is not timed.


class Walker:
    kind = ""

    def __init__(self, api: Api, processes: Processes, timeout: float) -> None:
        self.api, self.processes, self.timeout = api, processes, timeout
        self.run_ids: list[str] = []

    def step(self) -> dict[str, Any]:
        raise NotImplementedError

    def wait_idle(self) -> float:
        """Wait until no flow-run process is alive (the last one exits after it suspends)."""
        start = time.perf_counter()
        deadline = start + 30
        while self.processes.flow_run_processes():
            if time.perf_counter() > deadline:
                log("a flow-run process is still alive after 30 s; measuring anyway")
                break
            time.sleep(0.05)
        return time.perf_counter() - start


class XbrWalker(Walker):
    """Reviews of one template, one after the other, each approved gate by gate."""

    kind = "xbr"

    def __init__(self, api: Api, processes: Processes, timeout: float, template: str) -> None:
        super().__init__(api, processes, timeout)
        from sqlalchemy import Engine

        from states.settings import Settings
        from states.store import db
        from states.templates.catalog import load_catalog

        settings = Settings()
        self.engine: Engine = db.make_engine(settings.url)
        db.require_current_schema(self.engine)  # what every `xbr` command checks first
        self.catalog = load_catalog([settings.template_dir])
        self.template = template
        self.clients: list[str] = []
        self.review_id: int | None = None
        self.run_id = ""
        self.key: str | None = None
        self.reviews = 0

    def uow(self) -> Any:
        from states.store.db import UnitOfWork

        return UnitOfWork(self.engine)

    def add_people_and_clients(self, count: int) -> None:
        from states import directory

        for name, email, roles in STAFF:
            directory.add_person(self.uow(), name, email, roles)
        for n in range(1, count + 1):
            name = f"Bench Client {n:02d}"
            directory.add_client(
                self.uow(), name, "quarterly", self.template, "America/New_York", self.catalog
            )
            self.clients.append(name)

    def view(self) -> dict[str, Any]:
        from states.read import views

        assert self.review_id is not None
        return views.review_view(self.uow(), self.review_id).to_json()

    def expected_prefix(self, view: dict[str, Any]) -> str:
        from states.lifecycle.run_records import gate_key

        gate = view["gate"]
        return gate_key(view["id"], gate["phase"], gate["round"], view["refusals"]) + "-x"

    def start_review(self) -> None:
        """`xbr review start CLIENT --json`: the review and its flow run, at its first gate."""
        client = self.clients[self.reviews % len(self.clients)]
        self.reviews += 1
        started = subprocess.run(
            [*xbr_command(), "review", "start", client, "--json"],
            cwd=REPO, env=dict(os.environ), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if started.returncode:
            raise BenchError(f"xbr review start {client!r} failed: {started.stderr.strip()}")
        self.review_id = int(json.loads(started.stdout)["id"])
        self.run_id = self.view()["flow_run_id"] or ""
        if not self.run_id:
            raise BenchError(f"review {self.review_id} has no flow run: {started.stdout}")
        self.run_ids.append(self.run_id)
        _, _, self.key = self.api.wait_next_pause(self.run_id, None, False, 180)
        self.check_key(self.view())
        log(f"xbr: review {self.review_id} ({client}) waits at {self.key}")

    def check_key(self, view: dict[str, Any]) -> None:
        prefix = self.expected_prefix(view)
        if not (self.key or "").startswith(prefix):
            raise BenchError(
                f"review {view['id']} is in {view['status']} round {view['round']} but its run "
                f"waits at {self.key!r}, not {prefix}N"
            )

    def close_phase_tasks(self) -> dict[str, Any]:
        """Close every open task of the current phase as its assignee would (not timed)."""
        from states.lifecycle.decisions import complete_task
        from tasks.flow_runs import resume_review_run

        while True:
            view = self.view()
            phase, round_ = view["status"], view["round"]
            fallback = (view["gate"]["eligible_approvers"] or [None])[0]
            for task in view["tasks"]:
                if task["phase"] == phase and task["status"] == "open":
                    actor = task["assignee"] or fallback
                    complete_task(self.uow(), view["id"], task["key"], actor, "bench", 0.25)
            after = self.view()
            if after["round"] == round_:
                return after
            # a phase without approval moved on when its tasks closed: let the run follow
            if not resume_review_run(self.run_id, {}):
                raise BenchError(f"run {self.run_id} of review {view['id']} was not waiting")
            _, _, self.key = self.api.wait_next_pause(self.run_id, self.key, False, self.timeout)

    def step(self) -> dict[str, Any]:
        from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
        from states.lifecycle.machine import OPEN_PHASES
        from tasks.flow_runs import resume_review_run

        if self.review_id is None:
            self.start_review()
        view = self.close_phase_tasks()
        self.check_key(view)
        phase = view["status"]
        done_here = {t["completed_by"] for t in view["tasks"] if t["phase"] == phase}
        approvers = view["gate"]["eligible_approvers"]
        if not approvers:
            raise BenchError(f"nobody may approve {phase} of review {view['id']}")
        actor = next((a for a in approvers if a not in done_here), approvers[0])
        meeting = None
        if phase == "scheduling":
            day = datetime.now(UTC).date() + timedelta(weeks=6)
            meeting = f"{day.isoformat()}T10:00"
        if phase == "delivery":  # approved once the meeting has started: it took place
            from tests.team import hold_meeting

            hold_meeting(self.uow, view["id"])
        comment = "benchmark"
        idle = self.wait_idle()
        before = self.key
        wall = time.time()
        t0 = time.perf_counter()
        result = decide(
            self.uow(),
            DecisionRequest(view["id"], DecisionKind.APPROVE, actor, comment, meeting, phase),
        )
        t1 = time.perf_counter()
        woken = resume_review_run(self.run_id, {"decision": "approve", "comment": comment})
        t2 = time.perf_counter()
        if not woken:
            raise BenchError(f"run {self.run_id} of review {view['id']} was not waiting")
        final = result.to_phase not in OPEN_PHASES
        seen, seen_wall, self.key = self.api.wait_next_pause(
            self.run_id, before, final, self.timeout
        )
        record = {
            "kind": self.kind,
            "final": final,
            "review_id": view["id"],
            "run_id": self.run_id,
            "from": result.from_phase,
            "to": result.to_phase,
            "key_before": before,
            "key_after": self.key,
            "submitted_at": datetime.fromtimestamp(wall, UTC).isoformat(),
            "submitted_wall": wall,
            "detected_wall": seen_wall,
            "idle_wait_s": idle,
            "decide_s": t1 - t0,
            "resume_call_s": t2 - t1,
            "latency_s": seen - t0,
        }
        if final:
            self.review_id, self.key = None, None
        else:
            # Not part of the latency: the run is PAUSED before its Resume form is saved
            # (`suspend_flow_run` saves the schema, then the description); until then a resume
            # is refused ("schema not found") and `resume_review_run` retries.
            ready = self.api.wait_input(self.run_id, f"suspended-{self.key}-description")
            record["form_ready_after_paused_s"] = None if ready is None else ready - seen
            self.check_key(self.view())
        return record


class BareWalker(Walker):
    """Runs of the bare flow, one after the other, resumed gate by gate."""

    kind = "bare"

    def __init__(self, api: Api, processes: Processes, timeout: float, gates: int) -> None:
        super().__init__(api, processes, timeout)
        self.gates = gates
        self.run_id = ""
        self.gate: int | None = None

    def start_run(self) -> None:
        from prefect.deployments import run_deployment  # noqa: TID251

        from bench.bare_flow import DEPLOYMENT

        run = run_deployment(
            DEPLOYMENT, parameters={"gates": self.gates}, timeout=0, as_subflow=False
        )
        self.run_id = str(run.id)  # type: ignore[union-attr]
        self.run_ids.append(self.run_id)
        _, _, key = self.api.wait_next_pause(self.run_id, None, False, 180)
        if key != "g-0":
            raise BenchError(f"bare run {self.run_id} waits at {key!r}, not g-0")
        self.gate = 0
        log(f"bare: run {self.run_id} waits at g-0")

    def step(self) -> dict[str, Any]:
        from uuid import UUID

        from prefect.flow_runs import resume_flow_run  # noqa: TID251

        if self.gate is None:
            self.start_run()
        assert self.gate is not None
        before = f"g-{self.gate}"
        final = self.gate == self.gates - 1
        idle = self.wait_idle()
        wall = time.time()
        t0 = time.perf_counter()
        resume_flow_run(UUID(self.run_id))
        t1 = time.perf_counter()
        seen, seen_wall, key = self.api.wait_next_pause(self.run_id, before, final, self.timeout)
        if not final and key != f"g-{self.gate + 1}":
            raise BenchError(f"bare run {self.run_id} went from {before} to {key!r}")
        record = {
            "kind": self.kind,
            "final": final,
            "run_id": self.run_id,
            "key_before": before,
            "key_after": key,
            "submitted_at": datetime.fromtimestamp(wall, UTC).isoformat(),
            "submitted_wall": wall,
            "detected_wall": seen_wall,
            "idle_wait_s": idle,
            "resume_call_s": t1 - t0,
            "latency_s": seen - t0,
        }
        self.gate = None if final else self.gate + 1
        return record


# --------------------------------------------------------------------------------------------
# Statistics and where the time goes.


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.50), 4),
        "p95": round(percentile(values, 0.95), 4),
        "mean": round(statistics.fmean(values), 4),
        "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def ratio_ci(xbr: list[float], bare: list[float], rounds: int = 2000) -> list[float]:
    """95% bootstrap interval of p50(xbr) / p50(bare), resampling the adjacent pairs."""
    import random

    pairs = list(zip(xbr, bare, strict=False))
    if len(pairs) < 2:
        return []
    rng = random.Random(1)
    ratios = []
    for _ in range(rounds):
        pick = [rng.choice(pairs) for _ in pairs]
        ratios.append(percentile([x for x, _ in pick], 0.5) / percentile([b for _, b in pick], 0.5))
    return [round(percentile(ratios, 0.025), 3), round(percentile(ratios, 0.975), 3)]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pause_segments(states: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """From a run's state history: for each pause key, when it was resumed (Scheduled
    "Resuming"), picked up (Pending), running again (Running) and when it paused again or
    completed (epoch seconds, server clock)."""
    segments: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for state in states:
        kind, at = state["type"], _ts(state["timestamp"])
        if kind == "PAUSED" or kind in TERMINAL:
            if current is not None:
                current.setdefault("next", at)
            if kind == "PAUSED":
                current = {"paused": at}
                segments[(state.get("state_details") or {}).get("pause_key") or ""] = current
            else:
                current = None
        elif current is not None:
            name = {"SCHEDULED": "resumed", "PENDING": "pending", "RUNNING": "running"}.get(kind)
            if name:
                current.setdefault(name, at)
    return segments


def breakdown(api: Api, samples: list[dict[str, Any]], run_ids: list[str]) -> dict[str, Any]:
    """Medians of each leg of a gate transition, per kind, from Prefect's state history."""
    segments: dict[str, dict[str, dict[str, float]]] = {
        r: pause_segments(api.states(r)) for r in run_ids
    }
    legs: dict[str, dict[str, list[float]]] = {}
    for sample in samples:
        if sample["final"]:
            continue
        seg = segments.get(sample["run_id"], {}).get(sample["key_before"] or "", {})
        if not all(k in seg for k in ("resumed", "pending", "running", "next")):
            continue
        mine = legs.setdefault(sample["kind"], {})
        for name, value in {
            "submit_to_resumed_s": seg["resumed"] - sample["submitted_wall"],
            "resumed_to_pending_s": seg["pending"] - seg["resumed"],
            "pending_to_running_s": seg["running"] - seg["pending"],
            "running_to_paused_s": seg["next"] - seg["running"],
            "paused_to_detected_s": sample["detected_wall"] - seg["next"],
        }.items():
            mine.setdefault(name, []).append(value)
    result: dict[str, Any] = {
        "legs": {
            "submit_to_resumed_s": "decision submitted -> run set to Scheduled/Resuming "
            "(xbr: decide() + resume call; bare: resume call)",
            "resumed_to_pending_s": "-> the runner picked the run up (Pending); runner poll",
            "pending_to_running_s": "-> the flow-run process started, imported the flow and "
            "set Running",
            "running_to_paused_s": "-> the flow ran from the top to the next suspend (Paused)",
            "paused_to_detected_s": "-> this benchmark's 50 ms poll saw it",
        }
    }
    for kind, mine in legs.items():
        result[kind] = {name: summary(values) for name, values in mine.items()}
    return result


def task_run_summary(api: Api, run_ids: list[str]) -> dict[str, Any]:
    """How long the review flow's tasks took, by task name."""
    durations: dict[str, list[float]] = {}
    for task_run in api.task_runs(run_ids):
        if task_run.get("start_time") and task_run.get("end_time"):
            name = str(task_run.get("task_key") or task_run["name"]).split("-")[0]
            durations.setdefault(name, []).append(
                _ts(task_run["end_time"]) - _ts(task_run["start_time"])
            )
    return {name: summary(values) for name, values in sorted(durations.items())}


IMPORT_STEPS = {
    # what a flow-run process of each runner imports before the flow runs, step by step
    "bare": [
        ("prefect.flow_engine", ["prefect.flow_engine"]),
        ("bench.bare_flow", ["bench.bare_flow"]),
    ],
    "xbr": [
        ("prefect.flow_engine", ["prefect.flow_engine"]),
        ("sqlalchemy.orm", ["sqlalchemy.orm"]),
        # the partial index's postgresql_where loads the PostgreSQL dialect even on SQLite
        ("states.store.models", ["states.store.models"]),
        ("flows.business_review (rest)", ["flows.business_review"]),
        # `xbr up` runs from the .venv/bin/xbr script: a spawned child re-runs it as __mp_main__
        ("deploy.cli (__mp_main__)", ["deploy.cli"]),
    ],
}


def import_costs(work: Path, repeats: int) -> dict[str, Any]:
    """Seconds each step of the imports of a flow-run process takes, in a fresh interpreter.

    The runner starts a flow run with multiprocessing "spawn": the child imports the flow's
    module by reference, and re-runs the parent's main script as __mp_main__ when it has one. For
    `xbr up` that script is .venv/bin/xbr (`from deploy.cli import main`); the bare runner is
    started with -c (no script). Each step is timed after the ones before it, so a module shared
    by two steps counts once, in the first; the kinds alternate, median of `repeats` runs.
    """
    code = """
import importlib, json, sys, time
sys.path.insert(0, {repo!r})
out = {{}}
for name, modules in {steps!r}:
    t = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in IMPORT_STEPS}
    for _ in range(repeats):
        for kind, steps in IMPORT_STEPS.items():
            out = subprocess.run(
                [sys.executable, "-c", code.format(repo=str(REPO), steps=steps)],
                env=dict(os.environ), capture_output=True, text=True, cwd=work,
            )  # fmt: skip
            if out.returncode:
                raise BenchError(f"import probe {kind} failed: {out.stderr[-500:]}")
            runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    result: dict[str, Any] = {
        "how": f"median wall seconds over {repeats} fresh interpreters per kind, step by step",
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }
    for kind, samples in runs.items():
        steps = {
            name: round(statistics.median(s[name] for s in samples), 4)
            for name, _ in IMPORT_STEPS[kind]
        }
        steps["total"] = round(statistics.median(sum(s.values()) for s in samples), 4)
        result[kind] = steps
    result["xbr_minus_bare_total"] = round(result["xbr"]["total"] - result["bare"]["total"], 4)
    return result


def review_view_costs(work: Path, repeats: int) -> dict[str, Any]:
    """Seconds the review flow's first and second read of its review take in a fresh process
    (engine, SQLite connection, mapper configuration), on the benchmark's own database."""
    code = f"""
import json, sys, time
sys.path.insert(0, {str(REPO)!r})
from bootstrap import root
uow = root().uow
from states.read import views
t = time.perf_counter()
views.review_view(uow(), 1)
first = time.perf_counter() - t
t = time.perf_counter()
views.review_view(uow(), 1)
print(json.dumps({{"first": first, "again": time.perf_counter() - t}}))
"""
    samples = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
            cwd=work,
        )  # fmt: skip
        if out.returncode:
            raise BenchError(f"review_view probe failed: {out.stderr[-500:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "how": f"median wall seconds over {repeats} fresh interpreters, review 1",
        "first_review_view_s": round(statistics.median(s["first"] for s in samples), 4),
        "second_review_view_s": round(statistics.median(s["again"] for s in samples), 4),
    }


# --------------------------------------------------------------------------------------------
# Where and with what it ran.


def machine_info() -> dict[str, Any]:
    cpu = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with suppress(OSError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "memory_total": memory,
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "loadavg_at_start": list(os.getloadavg()),
    }


def source_hashes() -> dict[str, str]:
    """sha256 of each file of xbr's code. The flow-run processes import it from disk at every
    gate, so a change during the run (another checkout user editing) would mix two versions
    into one result: each sample records which version it ran with."""
    import hashlib

    found = {}
    for package in ("flows", "states", "deploy", "tasks", "notifications"):
        for path in sorted((REPO / package).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".yaml"}:
                found[str(path.relative_to(REPO))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


class SourceWatch:
    """Which version of xbr's code is on disk: 0 as at the start, +1 at every change."""

    def __init__(self) -> None:
        self.hashes = source_hashes()
        self.version = 0
        self.changes: list[dict[str, Any]] = []

    def check(self) -> int:
        now = source_hashes()
        if now != self.hashes:
            files = sorted(
                f for f in now.keys() | self.hashes.keys() if now.get(f) != self.hashes.get(f)
            )
            self.version += 1
            self.changes.append(
                {"at": datetime.now(UTC).isoformat(timespec="seconds"), "files": files}
            )
            log(f"warning: xbr's code changed on disk during the run: {', '.join(files)}")
            self.hashes = now
        return self.version


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for package in [
        "xbr-flow", "prefect", "sqlalchemy", "pydantic", "httpx", "transitions", "alembic",
        "fastapi", "uvicorn", "aiosqlite",
    ]:  # fmt: skip
        with suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    # the checkout's commit, read from .git without running git
    with suppress(OSError, IndexError):
        head = (REPO / ".git" / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            path = REPO / ".git" / ref
            if path.exists():
                found["xbr_commit"] = path.read_text().strip()
            else:
                packed = (REPO / ".git" / "packed-refs").read_text().splitlines()
                found["xbr_commit"] = next(
                    line.split()[0] for line in packed if line.endswith(" " + ref)
                )
            found["xbr_branch"] = ref.removeprefix("refs/heads/")
        else:
            found["xbr_commit"] = head
    return found


# --------------------------------------------------------------------------------------------


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """SIGINT (also when started in the background, where it is ignored by default), SIGTERM
    and SIGHUP stop the benchmark like Ctrl-C: teardown runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, interrupt) for s in watched}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def uninterruptible() -> Iterator[None]:
    """Teardown finishes even when Ctrl-C is pressed again."""
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in watched}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def measure(args: argparse.Namespace, home: Path, processes: Processes) -> dict[str, Any]:
    from states.templates.catalog import load_catalog

    if args.template not in load_catalog():
        raise BenchError(f"unknown template {args.template!r}")

    api_url = start_stack(processes, home)
    from bootstrap.prefect_env import use_prefect
    from states.settings import Settings

    use_prefect(Settings())  # what `xbr approve` does: PREFECT_API_URL from stack.json
    assert os.environ["PREFECT_API_URL"] == api_url
    api = Api(api_url)
    wait_for_deployment(api, processes, "business-review/business-review")
    start_bare_runner(processes, api_url)
    wait_for_deployment(api, processes, "bare-gates/bare-gates")
    log("both runners serve their deployments")

    xbr = XbrWalker(api, processes, args.gate_timeout, args.template)
    # one client per review: a client has at most one open review of a type
    xbr.add_people_and_clients(math.ceil(args.gates / 2) + 2)
    bare = BareWalker(api, processes, args.gate_timeout, args.bare_gates)

    # warm this process's Prefect client up: its first use imports and connects
    from prefect.client.orchestration import get_client  # noqa: TID251

    with get_client(sync_client=True) as client:
        client.read_flow_runs(limit=1)

    samples: list[dict[str, Any]] = []
    watch = SourceWatch()

    def counted(kind: str) -> int:
        return sum(1 for s in samples if s["kind"] == kind and not s["final"])

    pair = 0
    started = time.perf_counter()
    while counted("xbr") < args.gates or counted("bare") < args.gates:
        # alternate the order within each pair (ABBA): drift and noise hit both alike
        order: list[Walker] = [xbr, bare] if pair % 2 == 0 else [bare, xbr]
        for walker in order:
            if counted(walker.kind) >= args.gates:
                continue
            processes.check_alive()
            if args.gap:
                time.sleep(args.gap)
            load = os.getloadavg()[0]
            version = watch.check()
            record = walker.step()
            record["loadavg_1m"] = load
            record["code_version"] = version
            samples.append(record)
            label = (
                f"{record['from']} -> {record['to']}" if walker.kind == "xbr"
                else f"{record['key_before']} -> {record['key_after']}"
            )  # fmt: skip
            log(
                f"{walker.kind:4} #{counted(walker.kind):3} {label:28} "
                f"{record['latency_s']:.3f} s{' (final)' if record['final'] else ''}"
            )
        pair += 1
    measuring_s = time.perf_counter() - started

    latencies = {
        kind: [s["latency_s"] for s in samples if s["kind"] == kind and not s["final"]]
        for kind in ("xbr", "bare")
    }
    finals = {
        kind: [s["latency_s"] for s in samples if s["kind"] == kind and s["final"]]
        for kind in ("xbr", "bare")
    }
    stats = {kind: summary(values) for kind, values in latencies.items()}
    ratio = stats["xbr"]["p50"] / stats["bare"]["p50"]
    # the i-th xbr and the i-th bare measurement ran next to each other (ABBA order)
    paired = [x / b for x, b in zip(latencies["xbr"], latencies["bare"], strict=False)]
    by_phase: dict[str, list[float]] = {}
    for s in samples:
        if s["kind"] == "xbr" and not s["final"]:
            by_phase.setdefault(f"{s['from']} -> {s['to']}", []).append(s["latency_s"])

    watch.check()
    initial = {
        kind: [
            s["latency_s"]
            for s in samples
            if s["kind"] == kind and not s["final"] and s["code_version"] == 0
        ]
        for kind in ("xbr", "bare")
    }
    log("reading Prefect's state history for the breakdown")
    # task runs reach the server through events: give the last ones a moment
    time.sleep(2)
    result: dict[str, Any] = {
        "results": {
            "metric": "seconds from decision submitted until the run is PAUSED at the next gate",
            "xbr": stats["xbr"],
            "bare": stats["bare"],
            "ratio_p50_xbr_over_bare": round(ratio, 3),
            "ratio_p50_ci95_bootstrap": ratio_ci(latencies["xbr"], latencies["bare"]),
            "target_ratio_p50": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
            "paired_ratio": summary(paired),
            "xbr_by_transition": {k: summary(v) for k, v in by_phase.items()},
            "final_gate_to_completed": {k: summary(v) for k, v in finals.items()},
            "xbr_form_ready_after_paused_s": summary(
                [
                    s["form_ready_after_paused_s"]
                    for s in samples
                    if s.get("form_ready_after_paused_s") is not None
                ]
            ),
            "xbr_decide_s": summary([s["decide_s"] for s in samples if s["kind"] == "xbr"]),
            "resume_call_s": {
                kind: summary([s["resume_call_s"] for s in samples if s["kind"] == kind])
                for kind in ("xbr", "bare")
            },
        },
        "source": {
            "changed_during_run": bool(watch.changes),
            "changes": watch.changes,
            # when it changed: the same numbers from the samples that ran the code of the start
            "initial_code_only": {
                "xbr": summary(initial["xbr"]),
                "bare": summary(initial["bare"]),
                "ratio_p50_xbr_over_bare": round(
                    percentile(initial["xbr"], 0.5) / percentile(initial["bare"], 0.5), 3
                )
                if initial["xbr"] and initial["bare"]
                else None,
            }
            if watch.changes
            else None,
        },
        "breakdown": breakdown(api, samples, xbr.run_ids + bare.run_ids),
        "xbr_task_runs_s": task_run_summary(api, xbr.run_ids),
        "measuring_s": round(measuring_s, 1),
        "reviews": xbr.reviews,
        "bare_runs": len(bare.run_ids),
        "samples": samples,
    }
    return result


def print_table(report: dict[str, Any]) -> None:
    res = report["results"]
    print()
    print("decision latency: decision submitted -> run PAUSED at the next gate (seconds)")
    print(f"{'':6}{'n':>5}{'p50':>9}{'p95':>9}{'mean':>9}{'min':>9}{'max':>9}")
    for kind in ("xbr", "bare"):
        s = res[kind]
        print(
            f"{kind:6}{s['n']:>5}{s['p50']:>9.3f}{s['p95']:>9.3f}{s['mean']:>9.3f}"
            f"{s['min']:>9.3f}{s['max']:>9.3f}"
        )
    verdict = "met" if res["meets_target"] else "NOT met"
    print(
        f"ratio of p50s (xbr / bare): {res['ratio_p50_xbr_over_bare']:.3f}  "
        f"(target <= {res['target_ratio_p50']}: {verdict})"
    )
    print(
        f"  95% bootstrap interval {res['ratio_p50_ci95_bootstrap']}, "
        f"median of paired ratios {res['paired_ratio']['p50']:.3f}"
    )
    source = report["source"]
    if source["changed_during_run"]:
        init = source["initial_code_only"]
        print(
            f"warning: xbr's code changed during the run ({len(source['changes'])} times); "
            f"samples with the code of the start only: xbr n={init['xbr']['n']}, "
            f"bare n={init['bare']['n']}, ratio of p50s {init['ratio_p50_xbr_over_bare']}"
        )
    legs = report["breakdown"]
    if "xbr" in legs and "bare" in legs:
        print("\nwhere the time goes (medians, seconds, from Prefect's state history)")
        print(f"{'':26}{'xbr':>9}{'bare':>9}")
        for leg in legs["legs"]:
            x, b = legs["xbr"].get(leg, {}), legs["bare"].get(leg, {})
            print(f"{leg:26}{x.get('p50', float('nan')):>9.3f}{b.get('p50', float('nan')):>9.3f}")
            tasks = report.get("xbr_task_runs_s", {}).get("publish_gate", {})
            if leg == "running_to_paused_s" and tasks.get("n"):
                print(f"{'  of it, publish_gate task':26}{tasks['p50']:>9.3f}")
    if "import_costs" in report:
        costs = report["import_costs"]
        print("\nimports of a flow-run process (medians, seconds)")
        for kind in ("xbr", "bare"):
            print(f"  {kind:5}" + ", ".join(f"{k} {v:.3f}" for k, v in costs[kind].items()))
    if "review_view_costs" in report:
        costs = report["review_view_costs"]
        print(
            f"  xbr  review_view in a fresh process: first {costs['first_review_view_s']:.3f}, "
            f"again {costs['second_review_view_s']:.3f}"
        )
    print(
        f"\n{res['xbr']['n']} + {res['bare']['n']} gates in {report['measuring_s']:.0f} s, "
        f"{report['duration_s']:.0f} s in all; written to {report['out']}"
    )


PACKAGES = ("states", "flows", "tasks", "notifications", "deploy", "bench")


def byte_compile() -> None:
    """Compile xbr's modules as an install does: with PYTHONDONTWRITEBYTECODE set (as on some
    machines) every flow-run process would otherwise compile them from source again."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(str(REPO / package), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", type=int, default=50, help="gate transitions of each kind")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "decision_latency.json"
    )
    parser.add_argument("--template", default="qbr", help="template of the reviews walked")
    parser.add_argument(
        "--bare-gates", type=int, default=8, help="gates per bare run (a qbr review has 8)"
    )
    parser.add_argument("--gate-timeout", type=float, default=120.0)
    parser.add_argument("--gap", type=float, default=0.0, help="pause before each measurement")
    parser.add_argument(
        "--sweep-minutes", type=int, default=1440, help="XBR_SWEEP_MINUTES of the stack"
    )
    parser.add_argument("--import-repeats", type=int, default=5, help="0 skips the import probe")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary XBR_HOME")
    args = parser.parse_args(argv)
    if args.gates < 1 or args.bare_gates < 2:
        parser.error("--gates must be >= 1 and --bare-gates >= 2")

    started_at = datetime.now(UTC)
    t_start = time.perf_counter()
    byte_compile()
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-"))
    log_dir = home / "logs"
    log_dir.mkdir()
    scrub_environment(home, args.sweep_minutes)
    processes = Processes(log_dir)
    report: dict[str, Any] = {}
    code = 1
    try:
        with signals_as_interrupt():
            log(f"throw-away XBR_HOME {home}")
            machine = machine_info()
            report = measure(args, home, processes)
            report["machine"] = machine
            code = 0
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'SIGINT'}): tearing down, no result written")
        code = 130
    except Exception as exc:
        if isinstance(exc, BenchError):
            log(f"benchmark failed: {exc}")
        else:
            import traceback

            traceback.print_exc()
        log("benchmark failed; the logs of the stack end with:")
        for path in [*sorted(log_dir.glob("*.log")), home / "prefect" / "server.log"]:
            print(f"--- {path.relative_to(home)}\n{tail(path)}", file=sys.stderr)
    finally:
        with uninterruptible():
            log("tearing down the stack")
            try:
                processes.stop_all()
            except BenchError as exc:
                log(str(exc))
                code = code or 1
    if code == 0 and args.import_repeats > 0:
        with signals_as_interrupt():
            try:
                log("measuring the import cost of a flow-run process")
                report["import_costs"] = import_costs(home, args.import_repeats)
                report["review_view_costs"] = review_view_costs(home, args.import_repeats)
            except KeyboardInterrupt:
                code = 130
    if args.keep_home:
        log(f"kept {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    if code:
        return code

    finished_at = datetime.now(UTC)
    report = {
        "benchmark": "decision_latency",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t_start, 1),
        "config": {
            "gates": args.gates,
            "template": args.template,
            "bare_gates_per_run": args.bare_gates,
            "poll_interval_s": POLL_SECONDS,
            "runner_poll_frequency_s": 1,
            "sweep_minutes": args.sweep_minutes,
            "gap_s": args.gap,
            "order": "alternating, ABBA; each measurement starts when no flow-run process is alive",
            "byte_compiled": list(PACKAGES),
        },
        "versions": versions(),
        **report,
        "out": str(args.out),
    }
    report["machine"]["loadavg_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".tmp")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(args.out)
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
