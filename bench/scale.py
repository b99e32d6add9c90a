#!/usr/bin/env python
"""Scale: reviews waiting at their gates, decisions, and a burst of new reviews, each next to
its anchor, with both databases on SQLite and then on PostgreSQL, run by `xbr worker`s.

    .venv/bin/python bench/scale.py [--waiting 10000] [--bare-waiting 100] [--approvals 1000] \\
        [--burst 1000] [--databases sqlite,postgresql] [--workers 2] [--pool-concurrency 4] \\
        [--concurrency 20]

Per database kind, in a child process of its own (Prefect reads its API URL once): a Prefect
server on that database, the application database, `xbr deploy` (the `xbr` process pool),
the bare flow of bench/bare_flow.py deployed to the same pool, and `--workers` `xbr worker`s.

  waiting    W reviews started as `xbr review start` starts one, with XBR_START_SUSPENDED (their
             runs wait at their first gate from the start), then B bare runs, run by the workers
             to their first pause. Once all wait: the workers' child processes (target 0), the
             resident memory of the server and the workers, and each database's growth per
             waiting review, next to the Prefect database's growth per bare run.
  decisions  A approvals spread over A/2 of the waiting reviews (their first two gates), D at a
             time, each timed from the decision (`decide` and the resume, what `xbr approve`
             runs) to the run suspended at its next gate (the server's time of the pause); anchor: A
             resumes of A/2 bare runs, interleaved with them. Target: p50 ratio at most 1.3.
  burst      with the workers stopped: N reviews started as `xbr review start` starts one (the
             review, then its run from the deployment with its idempotency key), C at a time;
             anchor: N runs of the bare deployment created the same way, C at a time, in
             chunks of 100 alternating in ABBA order. Target: xbr's rate at least 0.8 of the
             bare rate.

Results go to bench/results/scale-<time>.json and a table is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Run as a script, this folder comes first on sys.path, where bench/calendar.py would stand in
# for the standard `calendar` module: the benchmarks are imported as bench.<name> instead.
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.databases import PG_ADMIN_URL, Copies  # noqa: E402
from bench.decision_latency import (  # noqa: E402
    STAFF,
    Api,
    BenchError,
    Processes,
    byte_compile,
    descendants,
    log,
    machine_info,
    summary,
    versions,
)

MIB = 1024 * 1024
BURST_CHUNK = 100
TEMPLATE = "qbr"
MEETING = (datetime.now(UTC) + timedelta(weeks=10)).strftime("%Y-%m-%dT10:00")
TARGETS = {"burst_rate_ratio_min": 0.8, "decision_p50_ratio_max": 1.3, "child_processes": 0}


# --- the installation (in the child) ---------------------------------------------------------


class Installation:
    """A Prefect server and an application database of one kind, deployed to a process pool."""

    def __init__(self, kind: str, home: Path, processes: Processes) -> None:
        self.kind, self.home, self.processes = kind, home, processes
        self.copies = Copies(PG_ADMIN_URL if kind == "postgresql" else None, home)
        # SQLite: the defaults under XBR_HOME
        self.app_url = self.copies.empty("app") if kind == "postgresql" else ""
        self.prefect_url = self.copies.empty("prefect") if kind == "postgresql" else ""

    def start(self) -> str:
        """The server up, the environment of this process and its children set; the API URL."""
        from bootstrap.prefect_env import healthy, server_env
        from deploy.stack import free_port
        from states.settings import Settings

        settings = Settings(home=self.home, prefect_database_url=self.prefect_url)
        env = server_env(settings, free_port())
        (self.home / "prefect").mkdir(parents=True, exist_ok=True)
        for key in [k for k in os.environ if k.startswith(("PREFECT_", "XBR_"))]:
            del os.environ[key]
        os.environ.update(env)
        os.environ["XBR_HOME"] = str(self.home)
        # as an installation that opens thousands of reviews is run: no process until a decision
        os.environ["XBR_START_SUSPENDED"] = "true"
        if self.app_url:
            os.environ["XBR_DATABASE_URL"] = self.app_url
        self.server = self.processes.start(
            "prefect-server",
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", env["PREFECT_SERVER_API_PORT"]],
            dict(os.environ),
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while not healthy(env["PREFECT_API_URL"]):
            self.processes.check_alive()
            if time.monotonic() > deadline:
                raise BenchError("the Prefect server did not answer within 180 s")
            time.sleep(0.5)
        return env["PREFECT_API_URL"]

    def xbr(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "deploy.cli", *argv], cwd=REPO,
                              env=dict(os.environ), capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            raise BenchError(f"xbr {' '.join(argv)} failed: {done.stderr.strip()}")
        return done.stdout

    def deploy(self, clients: int, concurrency: int) -> None:
        """Schema, staff, clients, the deployments (schedules paused), the bare deployment."""
        from states import directory
        from states.settings import Settings
        from states.store import db
        from states.templates.catalog import load_catalog

        self.xbr("init")
        engine = db.make_engine(Settings().url)
        catalog = load_catalog()
        for name, email, roles in STAFF:
            directory.add_person(db.UnitOfWork(engine), name, email, roles)
        for n in range(clients):
            directory.add_client(db.UnitOfWork(engine), f"Scale Client {n:05d}", "quarterly",
                                 TEMPLATE, "America/New_York", catalog)  # fmt: skip
        engine.dispose()
        # the crash automation stays out of the measurement: on a Prefect server that falls
        # behind with its events (SQLite under load), it takes slow runs for dead ones
        self.xbr("deploy", "--concurrency", str(concurrency), "--crash-after", "3600")
        from prefect.client.orchestration import get_client  # noqa: TID251

        from bench.bare_flow import bare_gates

        bare_gates.from_source(  # type: ignore[union-attr]
            source=str(REPO), entrypoint="bench/bare_flow.py:bare_gates"
        ).deploy(name="bare-gates", work_pool_name="xbr", tags=["bench"], print_next_steps=False)
        with get_client(sync_client=True) as client:  # no sweep or calendar pass in the way
            for name in ("review-sweeper/review-sweeper", "account-calendar/account-calendar"):
                client.pause_deployment(client.read_deployment_by_name(name).id)

    def start_workers(self, count: int) -> list[Any]:
        return [
            self.processes.start(f"worker-{n}", [sys.executable, "-m", "deploy.cli", "worker",
                                 "--name", f"scale-{n}"],
                                 {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1"})
            for n in range(count)
        ]  # fmt: skip

    def sizes(self) -> dict[str, int]:
        """Bytes of the application database and of Prefect's."""
        if self.kind == "sqlite":
            files = {"app": self.home / "xbr.db", "prefect": self.home / "prefect" / "prefect.db"}
            for file in files.values():  # what the write-ahead log holds, into the file
                connection = sqlite3.connect(file, timeout=30)
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                connection.close()
            return {k: sum(p.stat().st_size for p in f.parent.glob(f.name + "*") if p.is_file())
                    for k, f in files.items()}  # fmt: skip
        from sqlalchemy import create_engine, make_url, text

        found = {}
        for label, url in (("app", self.app_url), ("prefect", self.prefect_url)):
            engine = create_engine(str(make_url(url).set(drivername="postgresql+psycopg")))
            with engine.connect() as conn:
                size = conn.execute(text("SELECT pg_database_size(current_database())"))
                found[label] = int(size.scalar() or 0)
            engine.dispose()
        return found

    def drop(self) -> None:
        self.copies.close()


# --- what is measured ------------------------------------------------------------------------


def parallel(count: int, concurrency: int, one: Callable[[int], Any]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(count)))
    return time.perf_counter() - started, results


class Reviews:
    """Starting, deciding and waiting on reviews, as the command line does, in this process."""

    def __init__(self) -> None:
        from states.settings import Settings
        from states.store import db
        from states.templates.catalog import load_catalog

        self.settings = Settings()
        self.engine = db.make_engine(self.settings.url)
        self.catalog = load_catalog()

    def uow(self) -> Any:
        from states.store.db import UnitOfWork

        return UnitOfWork(self.engine)

    def start(self, n: int) -> str:
        """`xbr review start`: the review, then its flow run (the idempotency key, attached)."""
        from states.calendar.opening import start_review
        from tasks.flow_runs import attach_new_run

        review_id = start_review(self.uow(), f"Scale Client {n:05d}", self.catalog,
                                 meeting=MEETING)  # fmt: skip
        return attach_new_run(self.uow, review_id)

    def approve(self, review_id: int, api: Api, key: str) -> tuple[float, str]:
        """Close the gate's tasks (not timed), then `xbr approve`: seconds to the next gate."""
        from flows.wake import follow_up
        from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
        from states.read import views

        view = views.review_view(self.uow(), review_id).to_json()
        for task in view["tasks"]:
            if task["phase"] == view["status"] and task["status"] == "open":
                complete_task(self.uow(), review_id, task["key"], task["assignee"], hours=0.1)
        gate = views.review_view(self.uow(), review_id).to_json()["gate"]
        meeting = MEETING if gate["phase"] == "scheduling" else None
        if gate["phase"] == "delivery":  # approved once the meeting has started: it took place
            from tests.team import hold_meeting

            hold_meeting(self.uow, review_id)
        started = time.time()
        for approver in gate["eligible_approvers"]:
            try:
                request = DecisionRequest(
                    review_id, DecisionKind.APPROVE, approver, "", meeting, gate["phase"]
                )
                result = decide(self.uow(), request)
            except Exception as refused:  # the four-eyes rule: the next approver
                if "second person" in str(refused):
                    continue
                raise
            follow_up(self.uow(), self.settings, review_id, result.round,
                              {"decision": "approve"})  # fmt: skip
            break
        return _to_next_gate(api, view["flow_run_id"], key, started)


def _all_paused(api: Api, run_ids: list[str], timeout: float) -> dict[str, str]:
    """run id -> pause key, once every run waits at a pause."""
    import httpx

    deadline = time.monotonic() + timeout
    keys: dict[str, str] = {}
    while True:
        for run_id in run_ids:
            if run_id in keys:
                continue
            try:
                state = api.flow_run(run_id).get("state") or {}
            except httpx.TransportError:  # a busy server answers late: ask again
                continue
            if state.get("type") == "PAUSED":
                keys[run_id] = (state.get("state_details") or {}).get("pause_key") or ""
            elif state.get("type") in ("FAILED", "CRASHED", "CANCELLED", "COMPLETED"):
                raise BenchError(f"run {run_id} ended {state.get('type')}: {state.get('message')}")
        if len(keys) == len(run_ids):
            return keys
        if time.monotonic() > deadline:
            raise BenchError(f"{len(run_ids) - len(keys)} runs not paused after {timeout:.0f} s")
        time.sleep(1)


def _count_paused(api: Api, flow_name: str) -> int:
    """How many runs of this flow are paused (suspended) now."""
    response = api.http.post("/flow_runs/count", json={
        "flows": {"name": {"any_": [flow_name]}},
        "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
    }, timeout=120)  # fmt: skip
    response.raise_for_status()
    return int(response.json())


def bare_run() -> Callable[[int], str]:
    from prefect.deployments import run_deployment  # noqa: TID251

    def create(n: int) -> str:
        key = f"bare-{uuid.uuid4().hex}"
        run = run_deployment("bare-gates/bare-gates", parameters={"gates": 4}, timeout=0,
                             as_subflow=False, idempotency_key=key)  # fmt: skip
        return str(run.id)  # type: ignore[union-attr]

    return create


def _bare_resume(api: Api, run_id: str, key: str) -> tuple[float, str]:
    from prefect.client.orchestration import get_client  # noqa: TID251

    started = time.time()
    with get_client(sync_client=True) as client:
        from uuid import UUID

        client.resume_flow_run(UUID(run_id))
    return _to_next_gate(api, run_id, key, started)


def _to_next_gate(api: Api, run_id: str, before: str, started: float) -> tuple[float, str]:
    """Seconds from `started` (wall clock) to the run's next pause, as the Prefect server
    stamped it, and the new key. Polled every half second: four runs in flight polled every
    50 ms would load the server that is being measured."""
    import httpx

    deadline = time.monotonic() + 600
    while True:
        try:
            state = api.flow_run(run_id).get("state") or {}
        except httpx.TransportError:  # a busy server answers late: ask again
            continue
        key = (state.get("state_details") or {}).get("pause_key") or ""
        if state.get("type") == "PAUSED" and key != before:
            return datetime.fromisoformat(state["timestamp"]).timestamp() - started, key
        if state.get("type") in ("FAILED", "CRASHED", "CANCELLED", "COMPLETED"):
            raise BenchError(f"run {run_id} ended {state.get('type')} after its gate {before}")
        if time.monotonic() > deadline:
            raise BenchError(f"run {run_id} not at its next gate 600 s after {before}")
        time.sleep(0.5)


def _memory(pids: list[int]) -> int:
    """Resident bytes of these processes and everything they started."""
    total = 0
    for pid in {*pids, *(p for root in pids for p in descendants(root))}:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def measure(kind: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    processes = Processes(home)
    installation = Installation(kind, home / "xbr", processes)
    try:
        api = Api(installation.start())
        api.http.timeout = 60  # a busy server answers late
        reviews_needed = max(args.waiting, args.approvals // 2) + args.burst
        if kind == "sqlite":  # Prefect's SQLite server locks up with several writers at once
            args.pool_concurrency = min(args.pool_concurrency, args.sqlite_concurrency)
            args.decision_concurrency = min(args.decision_concurrency, args.sqlite_concurrency)
            args.concurrency = min(args.concurrency, args.sqlite_concurrency)
        installation.deploy(reviews_needed, args.pool_concurrency)
        reviews = Reviews()
        result: dict[str, Any] = {"database": kind}

        # waiting: xbr's reviews (suspended at their first gate from the start), then the bare
        # runs, which a worker runs to their first pause
        before = installation.sizes()
        started_s, run_ids = parallel(args.waiting, args.concurrency, reviews.start)
        paused = _count_paused(api, "business-review")
        if paused < args.waiting:
            raise BenchError(f"{args.waiting - paused} reviews' runs do not wait at a gate")
        with_reviews = installation.sizes()
        workers = installation.start_workers(args.workers)
        pairs = args.approvals // 2
        bare_pairs = (args.approvals if args.bare_approvals is None else args.bare_approvals) // 2
        bare_count = max(args.bare_waiting, bare_pairs)
        _, bare_ids = parallel(bare_count, args.concurrency, bare_run())
        started = time.perf_counter()
        bare_keys = _all_paused(api, bare_ids, 60 + 10 * bare_count)
        bare_to_pause_s = time.perf_counter() - started
        with_bare = installation.sizes()
        time.sleep(5)  # the last runs' processes exit
        worker_pids = [w.pid for w in workers]
        bare_growth = with_bare["prefect"] - with_reviews["prefect"]
        children = {p: c for w in worker_pids for p, c in descendants(w).items()}
        result["waiting"] = {
            "reviews": args.waiting, "bare_runs": bare_count, "workers": args.workers,
            "reviews_started_per_second": round(args.waiting / started_s, 2),
            "bare_runs_seconds_to_first_pause": round(bare_to_pause_s, 1),
            "paused_review_runs": paused,
            "worker_child_processes": len(children),
            "rss_mib": {"server": round(_memory([installation.server.pid]) / MIB, 1),
                        "workers": round(_memory(worker_pids) / MIB, 1)},
            "bytes_per_review": {k: (with_reviews[k] - before[k]) // args.waiting for k in before},
            "bare_prefect_bytes_per_run": bare_growth // bare_count,
            "sizes": {"before": before, "with_reviews": with_reviews, "with_bare": with_bare},
        }  # fmt: skip
        log(f"{kind} waiting: {json.dumps(result['waiting'])}")
        keys = _all_paused(api, run_ids[:pairs], 300)

        # decisions: two gates of each of A/2 reviews, and evenly among them two of each of
        # the bare runs
        review_ids = [reviews_of_runs(reviews, run_ids[:pairs])[r] for r in run_ids[:pairs]]
        samples: dict[str, list[float]] = {"xbr": [], "bare": []}
        lock = threading.Lock()
        units = [("xbr", i) for i in range(pairs)] + [("bare", i) for i in range(bare_pairs)]
        order = sorted(units, key=lambda u: (u[1] + 0.5) / (pairs if u[0] == "xbr" else bare_pairs))

        def unit(n: int) -> None:
            which, i = order[n]
            for _ in range(2):
                if which == "xbr":
                    seconds, keys[run_ids[i]] = reviews.approve(
                        review_ids[i], api, keys[run_ids[i]]
                    )
                else:
                    seconds, bare_keys[bare_ids[i]] = _bare_resume(
                        api, bare_ids[i], bare_keys[bare_ids[i]]
                    )
                with lock:
                    samples[which].append(seconds)

        decisions_s, _ = parallel(len(order), args.decision_concurrency, unit)
        xbr_s, bare_s = summary(samples["xbr"]), summary(samples["bare"])
        result["decisions"] = {
            "approvals": len(samples["xbr"]), "reviews": pairs,
            "concurrency": args.decision_concurrency, "pool_concurrency": args.pool_concurrency,
            "seconds": round(decisions_s, 1),
            "xbr": xbr_s, "bare": bare_s,
            "p50_ratio": round(xbr_s["p50"] / bare_s["p50"], 3),
            "p95_ratio": round(xbr_s["p95"] / bare_s["p95"], 3),
        }  # fmt: skip
        log(f"{kind} decisions: {json.dumps(result['decisions'])}")

        # burst: no worker takes the new runs; alternating chunks of each
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:  # Prefect's worker can hang on its way out
                worker.kill()
                worker.wait(timeout=60)
        first = max(args.waiting, pairs)
        timed = {"xbr": 0.0, "bare": 0.0}
        create_bare = bare_run()
        for number, chunk in enumerate(range(0, args.burst, BURST_CHUNK)):
            size = min(BURST_CHUNK, args.burst - chunk)
            creators = {"bare": lambda n: create_bare(n),
                        "xbr": lambda n, c=chunk: reviews.start(first + c + n)}  # fmt: skip
            # ABBA: the server is still busy with the chunk before, so each kind goes first
            # as often as the other
            for which in ("bare", "xbr") if number % 4 in (0, 3) else ("xbr", "bare"):
                seconds, _ = parallel(size, args.concurrency, creators[which])
                timed[which] += seconds
        rates = {k: round(args.burst / v, 2) for k, v in timed.items()}
        result["burst"] = {"reviews": args.burst, "concurrency": args.concurrency,
                           "seconds": {k: round(v, 2) for k, v in timed.items()},
                           "per_second": rates,
                           "rate_ratio": round(rates["xbr"] / rates["bare"], 3)}  # fmt: skip
        log(f"{kind} burst: {json.dumps(result['burst'])}")
        reviews.engine.dispose()
        return result
    finally:
        processes.stop_all()
        installation.drop()


def reviews_of_runs(reviews: Reviews, run_ids: list[str]) -> dict[str, int]:
    from sqlalchemy import select

    from states.store.models import Review

    with reviews.uow() as work:
        rows = work.session.execute(
            select(Review.flow_run_id, Review.id).where(Review.flow_run_id.in_(run_ids))
        )
        return {str(run): int(review) for run, review in rows}


# --- the parent ------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=10000, help="reviews waiting")
    parser.add_argument("--bare-waiting", type=int, default=100,
                        help="bare runs to their first pause (at least approvals/2)")  # fmt: skip
    parser.add_argument("--approvals", type=int, default=1000, help="approvals, two per review")
    parser.add_argument("--bare-approvals", type=int,
                        help="bare resumes, two per run (default: --approvals)")  # fmt: skip
    parser.add_argument("--burst", type=int, default=1000, help="reviews started in the burst")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-concurrency", type=int, default=4,
                        help="runs executing at once over all workers")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=20, help="burst creations in flight")
    parser.add_argument("--decision-concurrency", type=int, default=4)
    parser.add_argument("--sqlite-concurrency", type=int, default=1,
                        help="on SQLite: runs, decisions, creations at once")  # fmt: skip
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one database kind, JSON to --out
    args = parser.parse_args(argv)
    if args.approvals // 2 > args.waiting:
        parser.error("--approvals needs --waiting of at least half as many reviews")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        home = Path(tempfile.mkdtemp(prefix=f"xbr-bench-scale-{args.child}-"))
        result = measure(args.child, args, home)
        Path(args.out).write_text(json.dumps(result, indent=2))
        return 0
    byte_compile()
    started = datetime.now(UTC)
    results = []
    for kind in args.databases.split(","):
        out = Path(tempfile.mkstemp(suffix=f"-{kind}.json")[1])
        child = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]),
                 "--child", kind, "--out", str(out)]  # fmt: skip
        log(f"measuring on {kind}")
        if subprocess.run(child, cwd=REPO).returncode:
            raise SystemExit(f"the {kind} run failed")
        results.append(json.loads(out.read_text()))
    report = {
        "benchmark": "scale", "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(), "command": " ".join(sys.argv),
        "machine": machine_info(), "versions": versions(), "targets": TARGETS,
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
        "results": results,
    }  # fmt: skip
    out = args.out or REPO / "bench" / "results" / f"scale-{started:%Y%m%dT%H%MZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(report)
    print(f"written to {out}")
    return 0


def print_table(report: dict[str, Any]) -> None:
    for r in report["results"]:
        w, d, b = r["waiting"], r["decisions"], r["burst"]
        print(f"\n{r['database']}:")
        print(
            f"  burst     {b['reviews']} reviews: xbr {b['per_second']['xbr']}/s, bare "
            f"{b['per_second']['bare']}/s, ratio {b['rate_ratio']} (target >= 0.8)"
        )
        print(
            f"  waiting   {w['reviews']} reviews ({w['reviews_started_per_second']}/s started) + "
            f"{w['bare_runs']} bare runs: "
            f"{w['worker_child_processes']} child processes (target 0), RSS server "
            f"{w['rss_mib']['server']} MiB, workers {w['rss_mib']['workers']} MiB; per review "
            f"app {w['bytes_per_review']['app']} B, Prefect {w['bytes_per_review']['prefect']} B "
            f"(bare run {w['bare_prefect_bytes_per_run']} B)"
        )
        print(
            f"  decisions {d['approvals']} over {d['reviews']} reviews: xbr p50 "
            f"{d['xbr']['p50']:.2f} s p95 {d['xbr']['p95']:.2f} s; bare p50 "
            f"{d['bare']['p50']:.2f} s p95 {d['bare']['p95']:.2f} s; p50 ratio "
            f"{d['p50_ratio']} (target <= 1.3)"
        )


if __name__ == "__main__":
    sys.exit(main())
