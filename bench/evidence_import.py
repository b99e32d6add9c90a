#!/usr/bin/env python
"""Evidence import: time and peak memory of `xbr evidence import` of a file at the row limit.

    .venv/bin/python bench/evidence_import.py [--rows 200000] [--reps 3] [--anchor REV]

A seeded generator writes a patches.csv of 200,000 devices (XBR_EVIDENCE_MAX_ROWS) and a
backups.csv of 2,000 jobs. Each sample imports both, through the real command line
(`python -m deploy.cli evidence import ...`: read, validate, store, assess), into a review of a
fresh SQLite XBR_HOME, in a fresh subprocess; the set-up (init, a person, a client, a review)
is not timed. The anchor is the same run on the code of `--anchor` (a git worktree of that
commit, on PYTHONPATH). Medians of the samples go to bench/results/evidence-import-<time>.json.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ANCHOR = "d68a88b"  # the commit before evidence was read line by line and stored as JSON text
ACTOR = "sam@msp.example"
TARGET_MIB = 300.0
MIB = 1024  # ru_maxrss counts KiB


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def generate(folder: Path, rows: int, seed: int) -> dict[str, Any]:
    """patches.csv of `rows` devices (a tenth missing critical patches), backups.csv of 2,000
    jobs (2% failed), dated this week."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    today = date.today()
    with (folder / "patches.csv").open("w", encoding="utf-8") as out:
        out.write("device,missing_critical,missing_total,last_scan\n")
        for n in range(rows):
            critical = rng.choice((0,) * 9 + (rng.randint(1, 4),))
            scanned = today - timedelta(days=rng.randint(0, 6))
            out.write(f"WS-{n:06d},{critical},{critical + rng.randint(0, 5)},{scanned}\n")
    with (folder / "backups.csv").open("w", encoding="utf-8") as out:
        out.write("job,device,last_run,last_result\n")
        for n in range(2000):
            result = "failed" if rng.random() < 0.02 else "success"
            out.write(f"job-{n:04d},SRV-{n % 50:02d},{today},{result}\n")
    files = sorted(folder.iterdir())
    return {"files": [p.name for p in files], "bytes": sum(p.stat().st_size for p in files)}


def run(code: Path, home: Path, argv: list[str]) -> dict[str, Any]:
    """One command line of `code` (its folder first on sys.path) in a fresh subprocess: exit
    code, stderr, wall seconds, and peak RSS from the child's own rusage (wait4)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XBR_", "PREFECT_"))}
    env |= {"XBR_HOME": str(home), "PREFECT_HOME": str(home / "prefect"), "PYTHONPATH": str(code)}
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "deploy.cli", *argv], cwd=code, env=env,
                                 stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        return {"exit_code": child.returncode, "stderr": err.read().strip()[-300:],
                "time_s": elapsed, "peak_rss_mib": usage.ru_maxrss / MIB}  # fmt: skip


def sample(code: Path, files: list[Path]) -> dict[str, Any]:
    """A fresh home with one review of a client, then the timed import of `files`."""
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-import-"))
    try:
        for argv in (["init"],
                     ["person", "add", "Sam", "--email", ACTOR, "--role", "support_engineer"],
                     ["client", "add", "Bench", "--cadence", "quarterly", "--template", "qbr",
                      "--timezone", "UTC", "--no-first-review"],
                     ["review", "start", "Bench", "--no-flow"]):  # fmt: skip
            if (done := run(code, home, argv))["exit_code"]:
                raise SystemExit(f"set-up failed: {' '.join(argv)}: {done['stderr']}")
        return run(code, home, ["evidence", "import", "1", *map(str, files), "--as", ACTOR])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def worktree(rev: str) -> Path:
    """The code of `rev`, checked out beside this one (removed at the end)."""
    path = Path(tempfile.mkdtemp(prefix="xbr-bench-anchor-"))
    path.rmdir()
    git = ["git", "-C", str(REPO)]
    subprocess.run([*git, "worktree", "add", "--detach", str(path), rev], check=True,
                   capture_output=True)  # fmt: skip
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="devices in patches.csv")
    parser.add_argument("--reps", type=int, default=3, help="samples of each code")
    parser.add_argument("--anchor", default=ANCHOR, help="the commit measured as the anchor")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--out", type=Path, help="default bench/results/evidence-import-<time>.json"
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    scratch = Path(tempfile.mkdtemp(prefix="xbr-bench-evidence-"))
    anchor = worktree(args.anchor)
    try:
        evidence = generate(scratch / "exports", args.rows, args.seed)
        files = sorted((scratch / "exports").iterdir())
        runs: dict[str, list[dict[str, Any]]] = {"xbr": [], "anchor": []}
        for n in range(args.reps):  # alternated, so drift hits both alike
            for name, code in (("xbr", REPO), ("anchor", anchor)):
                run = sample(code, files)
                runs[name].append(run)
                log(f"{name} sample {n + 1}/{args.reps}: exit {run['exit_code']}, "
                    f"{run['time_s']:.2f} s, peak {run['peak_rss_mib']:.0f} MiB")  # fmt: skip
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(anchor)],
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(scratch, ignore_errors=True)
    results = {
        name: {"time_s": median_of(r, "time_s"), "peak_rss_mib": median_of(r, "peak_rss_mib"),
               "exit_codes": [x["exit_code"] for x in r]}
        for name, r in runs.items()
    }  # fmt: skip
    results["ratio_time"] = round(results["xbr"]["time_s"] / results["anchor"]["time_s"], 3)
    results["ratio_peak_rss"] = round(
        results["xbr"]["peak_rss_mib"] / results["anchor"]["peak_rss_mib"], 3
    )
    results["meets_target"] = results["xbr"]["peak_rss_mib"] < TARGET_MIB
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    report = {
        "benchmark": "evidence-import",
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "database": "sqlite",
        },  # fmt: skip
        "code": {"xbr": head, "anchor": args.anchor},
        "config": {
            "rows": args.rows,
            "reps": args.reps,
            "seed": args.seed,
            "target_peak_rss_mib": TARGET_MIB,
            "what": "`python -m deploy.cli evidence import 1 patches.csv backups.csv` "
            "(read, validate, store, assess) in a fresh subprocess per sample; "
            "time: wall clock around it; peak RSS: ru_maxrss of that child from "
            "wait4 (KiB / 1024); medians",
        },  # fmt: skip
        "evidence": evidence,
        "results": results,
        "runs": runs,
    }
    out = args.out or REPO / "bench" / "results" / f"evidence-import-{started_at:%Y%m%dT%H%MZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
