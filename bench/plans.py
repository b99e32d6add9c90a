#!/usr/bin/env python
"""Plans: one large client's roadmap and budget, and the portfolio's budgets.

    .venv/bin/python bench/plans.py [--reps 7] [--postgres [URL]] [--quick] [--profile]

The targets: for ONE client with 2,000 assets (a hardware initiative of 2,000 cost lines, as
staging's proposals make it) and 200 initiatives (each a one-time and a recurring line),
`roadmap()` + `budget()` (3 fiscal years) in under 0.5 s; `budgets()` of 1,000 clients (10
initiatives each, with one to three lines) in under 5 s. Each leg is timed next to its anchor in
the same run, alternating: the same rows read with one Core SELECT and nothing computed (what
the database and the driver cost). The data is written with bulk inserts (not timed). Results
go to bench/results/plans-<time>-<database>.json and a table is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import staging  # noqa: E402
from bench.databases import PG_ADMIN_URL, Copies  # noqa: E402

TARGETS = {"one_client": 0.5, "portfolio": 5.0}
TODAY = date(2026, 12, 6)
BIG = "Bench Big Client"
STATUSES = ["proposed"] * 5 + ["approved"] * 3 + ["deferred", "declined", "in_progress", "done"]
log = staging.log


def quarter_start(rng: random.Random) -> date:
    """The first day of a quarter within the budget's three years (or a year before)."""
    month = 2026 * 12 + rng.randrange(-12, 36)
    return date(month // 12, month % 12 // 3 * 3 + 1, 1)


def seed_data(url: str, clients: int, per_client: int, seed: int) -> dict[str, int]:
    """The big client (2,000 hardware lines, 200 initiatives) and `clients` others with
    `per_client` initiatives each, in bulk; how many rows of each."""
    from sqlalchemy import create_engine, insert, select

    from states.settings import normalize_url
    from states.store.models import Client, CostLine, Initiative

    rng = random.Random(seed)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = create_engine(normalize_url(url))
    names = [BIG] + [f"Bench Client {n:04d}" for n in range(clients)]
    with engine.begin() as conn:
        conn.execute(insert(Client), [
            {"name": name, "slug": name.lower().replace(" ", "-"), "cadence": "quarterly",
             "template": "qbr", "timezone": "Europe/Berlin", "active": True, "created_at": now,
             "fiscal_year_start": rng.choice([1, 4, 7, 10])}
            for name in names
        ])  # fmt: skip
        ids = dict(conn.execute(select(Client.name, Client.id)).tuples().all())
        plans = [(ids[BIG], 200)] + [(ids[n], per_client) for n in names[1:]]
        initiatives = [
            {"client_id": client_id, "title": f"Initiative {k}", "why": "bench",
             "category": "governance", "priority": rng.choice(["high", "medium", "low"]),
             "status": "proposed" if k == 0 else rng.choice(STATUSES), "owner_role": "vcio",
             "quarter_start": quarter_start(rng), "findings": [], "items": [], "assets": [],
             "actual_cost": Decimal(rng.randrange(100, 900000)) / 100, "created_at": now,
             "updated_at": now, "version": 1}
            for client_id, count in plans
            for k in range(count + (client_id == ids[BIG]))  # the big one's hardware first
        ]  # fmt: skip
        conn.execute(insert(Initiative), initiatives)
        rows = conn.execute(select(Initiative.id, Initiative.client_id).order_by(Initiative.id))
        lines = []
        for n, (initiative_id, client_id) in enumerate(rows):
            big = client_id == ids[BIG]
            if big and n == 0:
                lines += [hardware(initiative_id, rng, a) for a in range(2000)]
                continue
            mix = ["one_time", "recurring", "one_time"]
            kinds = mix[:2] if big else rng.sample(mix, rng.randint(1, 3))
            lines += [line(initiative_id, kind, rng) for kind in kinds]
        conn.execute(insert(CostLine), lines)
    engine.dispose()
    return {"clients": len(names), "initiatives": len(initiatives), "cost_lines": len(lines)}


def hardware(initiative_id: int, rng: random.Random, asset: int) -> dict[str, Any]:
    """An asset falling due, budgeted at its type's cost in its quarter."""
    return {"initiative_id": initiative_id, "kind": "one_time", "hardware": True,
            "amount": Decimal(rng.choice([1450, 2100, 6800, 24000])), "ends": None,
            "starts": quarter_start(rng), "label": f"asset-{asset:04d}"}  # fmt: skip


def line(initiative_id: int, kind: str, rng: random.Random) -> dict[str, Any]:
    starts = quarter_start(rng)
    ends = None
    if kind == "recurring" and rng.random() < 0.5:
        ends = date(starts.year + rng.randint(1, 3), starts.month, 1)
    amount = Decimal(rng.randrange(1000, 2000000)) / 100
    return {"initiative_id": initiative_id, "kind": kind, "hardware": False, "amount": amount,
            "starts": starts, "ends": ends, "label": ""}  # fmt: skip


def legs(uow: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    """The measured calls and their anchors: the same rows, one Core SELECT, nothing computed."""
    from sqlalchemy import select

    from states.read.plans import budget, budgets, roadmap
    from states.store.models import Client, CostLine, Initiative

    def rows(where: Any) -> Any:
        with uow() as work:
            found = work.session.execute(
                select(Initiative.id, Initiative.status, Initiative.title, CostLine.amount,
                       CostLine.kind, CostLine.starts, CostLine.ends, CostLine.hardware)
                .join(CostLine, CostLine.initiative_id == Initiative.id)
                .join(Client, Client.id == Initiative.client_id)
                .where(where)
            ).all()  # fmt: skip
            return len(found)

    def one_client() -> Any:
        return roadmap(uow(), BIG), budget(uow(), BIG, "USD", 3, TODAY)

    return {
        "one_client": one_client,
        "one_client_anchor": lambda: rows(Client.name == BIG),
        "portfolio": lambda: budgets(uow(), "USD", 3, TODAY),
        "portfolio_anchor": lambda: rows(Client.active.is_(True)),
    }


def measure(url: str, reps: int, profile: Path | None) -> dict[str, Any]:
    """Each leg once to warm up, then `reps` rounds alternating leg and anchor; statements
    counted in one more round; cProfile of one more portfolio."""
    from sqlalchemy import event

    from states.store.db import UnitOfWork, make_engine

    engine = make_engine(url)
    measured = legs(lambda: UnitOfWork(engine))
    for call in measured.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(reps):
        for name, call in measured.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    statements: dict[str, int] = {}
    seen: list[str] = []

    def listener(*_: Any) -> None:
        seen.append("statement")

    for name, call in measured.items():
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        call()
        event.remove(engine, "before_cursor_execute", listener)
        statements[name] = len(seen)
    if profile is not None:
        import cProfile

        cProfile.runctx("call()", {}, {"call": measured["portfolio"]}, str(profile))
    engine.dispose()
    return {"times": times, "statements": statements}


def results(measured: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for leg, target in TARGETS.items():
        runs, anchor = measured["times"][leg], measured["times"][f"{leg}_anchor"]
        median = statistics.median(runs)
        out[leg] = {
            "median_s": round(median, 4), "max_s": round(max(runs), 4),
            "min_s": round(min(runs), 4), "target_s": target, "meets_target": median < target,
            "statements": measured["statements"][leg],
            "anchor": "the same rows (initiatives joined to cost lines) read with one Core "
            "SELECT, nothing computed",
            "anchor_median_s": round(statistics.median(anchor), 4),
            "ratio_to_anchor": round(median / statistics.median(anchor), 2),
        }  # fmt: skip
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const=PG_ADMIN_URL,
        help=f"a fresh database in this server (default {PG_ADMIN_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="100 clients in the portfolio")
    parser.add_argument("--profile", action="store_true", help="cProfile one more portfolio")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help="default bench/results/plans-<time>-<db>.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started_at = datetime.now(UTC)
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-plans-"))
    copies = Copies(args.postgres, home)
    try:
        from states.store.db import make_engine, upgrade

        url = copies.empty("plans")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        clients = 100 if args.quick else 1000
        began = time.perf_counter()
        sizes = seed_data(url, clients, 10, args.seed)
        log(f"{sizes} written in {time.perf_counter() - began:.1f} s")
        info = staging.machine(url)
        profile = home / "plans.prof" if args.profile else None
        measured = measure(url, args.reps, profile)
        info["loadavg_at_end"] = list(os.getloadavg())
        top = staging.profile_summary(profile, 15) if profile else None
    finally:
        copies.close()
        shutil.rmtree(home, ignore_errors=True)
    kind = info["database"]
    stamp = f"{started_at:%Y%m%dT%H%MZ}{'-quick' if args.quick else ''}"
    out = args.out or REPO / "bench" / "results" / f"plans-{stamp}-{kind}.json"
    report: dict[str, Any] = {
        "benchmark": "plans",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": info,
        "code": staging.code_info(None),
        "sizes": {**sizes, "big_client": "200 initiatives (a one-time and a recurring line "
                  "each) + a hardware initiative of 2,000 lines", "portfolio_clients": clients,
                  "initiatives_per_client": 10, "budget_years": 3, "today": str(TODAY)},
        "results": results(measured),
        "runs_s": {k: [round(t, 4) for t in v] for k, v in measured["times"].items()},
        "profile": top,
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for leg, r in report["results"].items():
        met = "met" if r["meets_target"] else "MISSED"
        print(f"{kind} {leg}: median {r['median_s']:.3f} s (max {r['max_s']:.3f}), target < "
              f"{r['target_s']:g} s: {met}; anchor {r['anchor_median_s']:.3f} s "
              f"({r['ratio_to_anchor']}x); {r['statements']} statements")  # fmt: skip
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
