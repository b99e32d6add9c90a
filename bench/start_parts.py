#!/usr/bin/env python
"""Where a new review's start goes, one at a time, next to bare Prefect's flow-run creation.

    .venv/bin/python bench/start_parts.py [--database sqlite] [--prefill 0] [--samples 60]

A Prefect server and an application database of the kind, deployed as bench/scale.py deploys
them (`XBR_START_SUSPENDED=true`, no worker), then `--prefill` reviews started as `xbr review
start` starts one (their runs wait suspended). Then, alternating, `--samples` times each: a bare
run created with `run_deployment`, and an xbr start timed part by part: the review (its tasks,
notices, audit entry), the read of what its run is made from (the installation's id with it),
the run's creation from the deployment, and the run attached to the review. Medians go to
bench/results/start-parts-<time>.json. It says how much of the burst's gap between xbr and bare
Prefect is xbr's own database work and how much the Prefect server's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# as in bench/scale.py: bench/calendar.py must not stand in for the standard `calendar` module
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.decision_latency import Processes, log, machine_info, summary, versions  # noqa: E402
from bench.scale import MEETING, Installation, Reviews, bare_run, parallel  # noqa: E402

PARTS = ("review", "read", "create_run", "attach")


def measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    processes = Processes(home)
    installation = Installation(args.database, home, processes)
    try:
        installation.start()
        installation.deploy(args.prefill + args.samples, 1)
        from states.calendar.opening import start_review
        from states.lifecycle.run_records import attach_run
        from states.read import views
        from tasks.flow_runs import create_review_run

        reviews = Reviews()
        started_s, _ = parallel(args.prefill, 1, reviews.start)
        bare = bare_run()
        samples: dict[str, list[float]] = {k: [] for k in ("bare", "xbr", *PARTS)}
        for n in range(args.samples):
            moment = time.perf_counter()
            bare(n)
            samples["bare"].append(time.perf_counter() - moment)
            marks = [time.perf_counter()]
            review_id = start_review(reviews.uow(), f"Scale Client {args.prefill + n:05d}",
                                     reviews.catalog, meeting=MEETING)  # fmt: skip
            marks.append(time.perf_counter())
            facts = views.run_facts(reviews.uow(), review_id)
            marks.append(time.perf_counter())
            run_id = create_review_run(facts, 0)
            marks.append(time.perf_counter())
            attach_run(reviews.uow(), review_id, run_id, 0)
            marks.append(time.perf_counter())
            for part, begin, end in zip(PARTS, marks[:-1], marks[1:], strict=True):
                samples[part].append(end - begin)
            samples["xbr"].append(marks[-1] - marks[0])
        reviews.engine.dispose()
        medians = {k: round(summary(v)["p50"] * 1000, 1) for k, v in samples.items()}
        own = sum(medians[p] for p in PARTS if p != "create_run")
        return {
            "database": args.database, "prefill": args.prefill, "samples": args.samples,
            "prefill_per_second": round(args.prefill / started_s, 2) if args.prefill else None,
            "median_ms": medians,
            "xbr_database_ms": round(own, 1),
            "rate_ratio": round(medians["bare"] / medians["xbr"], 3),
        }  # fmt: skip
    finally:
        processes.stop_all()
        installation.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--prefill", type=int, default=0, help="reviews started before")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-start-parts-"))
    result = measure(args, home)
    report = {
        "benchmark": "start-parts", "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(), "command": " ".join(sys.argv),
        "machine": machine_info(), "versions": versions(), "result": result,
    }  # fmt: skip
    out = args.out or REPO / "bench" / "results" / f"start-parts-{started:%Y%m%dT%H%MZ}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"{json.dumps(result)}\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
