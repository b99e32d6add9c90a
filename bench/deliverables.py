#!/usr/bin/env python
"""Deliverables: the PDF report, the PowerPoint deck and the Word summary of a large review.

    .venv/bin/python bench/deliverables.py [--reps 5] [--postgres [URL]] [--quick]

The target: for a review of a client with 2,000 devices, 500 users and 5,000 tickets (the
evidence of bench/staging.py, staged, with its previous review as the baseline, and the plan
staging proposes from it plus a few initiatives of the vCIO's), each document is made in under
3 s: `report_data()` and the document rendered from it, as `xbr report --format` and the web
app's download do. Each leg runs once to warm up (imports, fonts; recorded as `first_s`), then
the formats alternate for `--reps` rounds; the medians are the numbers of record. The same as
`xbr report` in a fresh process (Python's start, the imports, the database's first connection
included) is measured three times per format. Results go to
bench/results/deliverables-<time>-<database>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import staging  # noqa: E402
from bench.databases import PG_ADMIN_URL  # noqa: E402

TARGET_SECONDS = 3.0
FORMATS = ("pdf", "pptx", "docx")
CLI_RUNS = 3
VCIO = "vera@msp.example"
log = staging.log


def prepared_review(url: str, home: Path, sizes: staging.Sizes, seed: int) -> dict[str, Any]:
    """The large client's review in prep: this quarter's evidence staged on its previous review
    (the baseline), the plan staging proposed (a priced initiative per finding, every asset
    out of warranty budgeted), and three initiatives of the vCIO's with their costs."""
    from states.plans.fiscal import FiscalQuarter
    from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
    from states.settings import Settings
    from states.staging.intake import stage
    from states.store.models import utcnow
    from tests.team import walk

    evidence = staging.generate(home, sizes, seed)
    clients = staging.Clients(url, home, evidence["folders"])
    review = clients.prepare()
    result = stage(clients.uow(), Settings(home=home, database_url=url), review["review_id"])
    walk(clients.uow, review["review_id"], "prep")  # staging's end proposes the plan
    now = FiscalQuarter.of(utcnow().date(), 1)
    for n, (title, amount, kind) in enumerate(
        (
            ("Firewall refresh", "9000.00", "one_time"),
            ("Managed SOC", "1250.00", "recurring"),
            ("Security awareness programme", "2400.00", "one_time"),
        )  # fmt: skip
    ):
        cost = Cost(kind, Decimal(amount), now.next(n + 1))
        draft = Draft(title, f"bench: {title}", quarter=cost.first, costs=(cost,))
        initiative = add_initiative(clients.uow(), review["client"], draft, VCIO,
                                    review_id=review["review_id"])  # fmt: skip
        if n == 1:
            move_initiative(clients.uow(), initiative, Move.APPROVE, "andy@msp.example")
    staging.settle_database(clients.engine)
    clients.close()
    return {**review, "findings": result.findings, "evidence_rows": evidence["rows"]}


def steps(url: str, home: Path) -> dict[str, Callable[..., Any]]:
    """The legs, imported before any clock starts."""
    from reports.deliverables.brand import Brand
    from reports.deliverables.formats import FORMATS as WRITERS
    from states.read.scorecards import report_data
    from states.store.db import UnitOfWork, make_engine

    engine = make_engine(url)
    brand = Brand("Bench IT")

    def read(review_id: int) -> dict[str, Any]:
        return report_data(UnitOfWork(engine), review_id)

    legs: dict[str, Callable[..., Any]] = {"report_data": read}
    for name in FORMATS:
        legs[name] = lambda data, writer=WRITERS[name].write: writer(data, brand)
    return legs


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """The seconds a call took, and what it returned."""
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def measure(legs: dict[str, Callable[..., Any]], review_id: int, reps: int) -> dict[str, Any]:
    """Each leg once to warm up, then `reps` rounds of all of them, formats in turn."""
    first: dict[str, float] = {}
    first["report_data"], data = timed(legs["report_data"], review_id)
    sizes: dict[str, int] = {}
    for name in FORMATS:
        first[name], document = timed(legs[name], data)
        sizes[name] = len(document)
    runs: dict[str, list[float]] = {leg: [] for leg in legs}
    for n in range(reps):
        seconds, data = timed(legs["report_data"], review_id)
        runs["report_data"].append(seconds)
        for name in FORMATS[n % len(FORMATS) :] + FORMATS[: n % len(FORMATS)]:
            runs[name].append(timed(legs[name], data)[0])
        log(f"round {n + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in runs.items()))
    return {"first_s": first, "runs_s": runs, "bytes": sizes, "shape": shape(legs, data)}


def shape(legs: dict[str, Callable[..., Any]], data: dict[str, Any]) -> dict[str, Any]:
    """What the documents hold: the data's rows, the PDF's pages, the deck's slides."""
    from pptx import Presentation
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(legs["pdf"](data)))
    deck = Presentation(io.BytesIO(legs["pptx"](data)))
    return {
        "findings": len(data["findings"]),
        "evidence_records_behind_findings": sum(f["evidence_count"] for f in data["findings"]),
        "tickets": len(data["tickets"]),
        "roadmap_initiatives": len(data["roadmap"]),
        "budget_quarters": len(data["budget"]["quarters"]),
        "pdf_pages": len(pdf.pages),
        "deck_slides": len(deck.slides),
    }


def command_line(url: str, home: Path, review_id: int) -> dict[str, list[float]]:
    """`xbr report REVIEW --format F` in a fresh process, CLI_RUNS times per format."""
    env = staging.child_env(url, home)
    runs: dict[str, list[float]] = {name: [] for name in FORMATS}
    for n in range(CLI_RUNS):
        for name in FORMATS:
            out = home / f"cli-{n}.{name}"
            command = [sys.executable, "-m", "deploy.cli", "report", str(review_id),
                       "--format", name, "--out", str(out)]  # fmt: skip
            seconds, _ = timed(subprocess.run, command, env=env, check=True, cwd=REPO,
                               capture_output=True)  # fmt: skip
            runs[name].append(seconds)
    return runs


def results(measured: dict[str, Any], cli: dict[str, list[float]]) -> dict[str, Any]:
    """Medians and the verdict: report_data + the document, each under TARGET_SECONDS."""
    runs = measured["runs_s"]
    data = staging.summary(runs["report_data"])
    made = {name: staging.summary(runs[name]) for name in FORMATS}
    end_to_end = {name: round(data["median"] + made[name]["median"], 4) for name in FORMATS}
    return {
        "report_data_s": data,
        "render_s": made,
        "report_data_plus_render_median_s": end_to_end,
        "first_s": {k: round(v, 4) for k, v in measured["first_s"].items()},
        "xbr_report_process_s": {name: staging.summary(cli[name]) for name in FORMATS},
        "target_s": TARGET_SECONDS,
        "meets_target": {name: end_to_end[name] < TARGET_SECONDS for name in FORMATS},
        "every_process_meets_target": {name: max(cli[name]) < TARGET_SECONDS for name in FORMATS},
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const=PG_ADMIN_URL,
        help=f"a fresh database in this server (default {PG_ADMIN_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="200 devices: a smoke test")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help="default bench/results/deliverables-<time>-<db>")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary XBR_HOME")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started_at = datetime.now(UTC)
    sizes = staging.QUICK if args.quick else staging.FULL
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-deliverables-"))
    log(f"throw-away XBR_HOME {home}; {sizes}, {args.reps} rounds")
    try:
        with staging.database(args.postgres, home) as url:
            info = staging.machine(url)
            review = prepared_review(url, home, sizes, args.seed)
            log(f"review {review['review_id']} staged: {review['findings']} findings")
            measured = measure(steps(url, home), review["review_id"], args.reps)
            cli = command_line(url, home, review["review_id"])
            info["loadavg_at_end"] = list(os.getloadavg())
    finally:
        if args.keep_home:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    stamp = f"{started_at:%Y%m%dT%H%MZ}{'-quick' if args.quick else ''}"
    out = args.out or REPO / "bench" / "results" / f"deliverables-{stamp}-{info['database']}.json"
    report = {
        "benchmark": "deliverables", "started_at": started_at.isoformat(), "sizes": vars(sizes),
        "machine": info, "review": review, "shape": measured["shape"], "bytes": measured["bytes"],
        "results": results(measured, cli), "runs_s": measured["runs_s"], "xbr_report_runs_s": cli,
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({"shape": report["shape"], **report["results"]}, indent=2))
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
