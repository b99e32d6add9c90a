#!/usr/bin/env python
"""Staging: time and peak memory of the whole staging phase of one large client's review.

    .venv/bin/python bench/staging.py [--reps 7] [--postgres [URL]] [--quick] [--profile] \\
        [--commit REV]

The issue's target: a client with 2,000 devices, 500 users and 5,000 tickets is staged in under
5 s and under 300 MB. The benchmark generates that client's ten evidence files (seeded), and the
evidence of the client's previous review, which is imported and assessed first (not timed), so
that the new/recurring comparisons run. Each repetition stages a new client's review in a fresh
subprocess, timing only the phase: `stage()` (the folder's files read, validated and stored,
then assessed), `report_data()`, and the agenda and the HTML report rendered from it. Peak memory
is the subprocess's peak RSS. Results go to bench/results/staging-<time>-<database>.json and a
table is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
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

TARGET_SECONDS = 5.0
TARGET_MIB = 300.0
TEMPLATE = "xbr-sop"  # the template whose staging tasks name the evidence they check
ACTOR = "sam@msp.example"
PACKAGES = ("states", "flows", "tasks", "notifications", "deploy", "bench")
MIB = 1024  # /proc and ru_maxrss count KiB


@dataclass(frozen=True)
class Sizes:
    """One client's size; the other sources follow from it."""

    devices: int
    users: int
    tickets: int

    @property
    def network(self) -> int:
        return self.devices + self.devices // 10  # printers, switches, access points, IoT

    @property
    def backups(self) -> int:
        return max(4, self.devices * 3 // 20)

    @property
    def darkweb(self) -> int:
        return max(3, self.users * 3 // 25)

    @property
    def privileged(self) -> int:
        return 40


FULL = Sizes(devices=2000, users=500, tickets=5000)
QUICK = Sizes(devices=200, users=50, tickets=500)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- evidence --------------------------------------------------------------------------------
# Each source is drawn from a population shared by both quarters (rng "seed:source") and values
# of its own quarter (rng "seed:source:quarter"); quarter 0 is the previous review, 1 the timed.

FIRST = ("ana", "ben", "chloe", "dev", "emma", "femi", "gus", "hana", "ivo", "jia", "kai", "lea")
LAST = ("adams", "brown", "chen", "diaz", "evans", "fox", "garcia", "hill", "ito", "jones")
MODELS = ("Dell OptiPlex 7010", "Dell Latitude 5440", "HP EliteBook 840", "Lenovo T14")
BREACHES = ("Collection #1", "LinkedIn 2021", "Canva", "Dropbox", "MyFitnessPal", "Adobe")
GROUPS = (("Domain Admins", 8), ("Enterprise Admins", 3), ("Schema Admins", 2))
CAMPAIGNS = ("Invoice overdue", "Password expiry", "Parcel on hold")


def rngs(seed: int, source: str, quarter: int) -> tuple[random.Random, random.Random]:
    """The population's and the quarter's random generators of one source."""
    return random.Random(f"{seed}:{source}"), random.Random(f"{seed}:{source}:{quarter}")


def device_names(sizes: Sizes) -> list[str]:
    servers = max(1, sizes.devices // 20)
    return [f"BENCH-{'SRV' if i < servers else 'WS'}{i:04d}" for i in range(sizes.devices)]


def user_emails(sizes: Sizes) -> list[str]:
    return [
        f"{FIRST[i % len(FIRST)]}.{LAST[i // len(FIRST) % len(LAST)]}{i}@benchclient.example"
        for i in range(sizes.users)
    ]


def patches(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """12% of devices miss critical patches now, 20% did last quarter."""
    _, rng = rngs(seed, "patches", quarter)
    share = (0.20, 0.12)[quarter]
    rows = []
    for device in device_names(sizes):
        critical = rng.randint(1, 4) if rng.random() < share else 0
        total = critical + rng.randint(0, 12 if critical else 5)
        rows.append([device, critical, total, day - timedelta(days=rng.randint(0, 6))])
    return rows


def antivirus(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """A few devices missing from the console or without an agent, ~5% stale definitions."""
    _, rng = rngs(seed, "antivirus", quarter)
    rows = []
    for device in device_names(sizes):
        roll = rng.random()
        if roll < 0.004:
            continue  # the AV console never saw it
        present = "no" if roll < 0.007 else "yes"
        age = rng.randint(4, 40) if rng.random() < 0.05 else rng.randint(0, 2)
        defined = "" if rng.random() < 0.004 else day - timedelta(days=age)
        detections = rng.randint(1, 3) if rng.random() < 0.02 else 0
        rows.append([device, present, defined, detections])
    return rows


def warranty(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """Assets bought over 6.5 years, 3-year warranties (servers 5), a few without an end."""
    population, _ = rngs(seed, "warranty", 0)
    rows = []
    for device in device_names(sizes):
        bought = day - timedelta(days=population.randint(120, 2400) - 91 * (1 - quarter))
        years = 5 if "SRV" in device else 3
        ends = "" if population.random() < 0.03 else bought + timedelta(days=365 * years)
        rows.append([device, population.choice(MODELS), bought, ends])
    return rows


def mac(index: int) -> str:
    return f"00:1A:2B:{index >> 16 & 255:02X}:{index >> 8 & 255:02X}:{index & 255:02X}"


def network(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """The scan: ~2% of this quarter's devices are new, ~1.5% of last quarter's are gone."""
    population, _ = rngs(seed, "network", 0)
    names = device_names(sizes)
    total = sizes.network
    new = set(population.sample(range(total), k=max(1, total // 50)))
    gone = range(total, total + max(1, total * 3 // 200))
    indices = list(range(total))
    if quarter == 0:
        indices = [i for i in indices if i not in new] + list(gone)
    rows = []
    for i in indices:
        host = names[i] if i < len(names) else ("" if i % 7 == 0 else f"BENCH-NET{i:04d}")
        seen = day - timedelta(days=20 if i in new else 400 + i % 300)
        rows.append([f"10.{20 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}", mac(i), host, seen])
    return rows


def darkweb(sizes: Sizes, day: date, quarter: int, seed: int) -> list[dict[str, Any]]:
    """Breach records of the users' emails; last quarter's export held three quarters of them."""
    population, _ = rngs(seed, "darkweb", 0)
    emails = user_emails(sizes)
    records = []
    for i in range(sizes.darkweb):
        breached = day - timedelta(days=population.randint(100, 3000))
        records.append(
            {
                "email": emails[i * 37 % len(emails)],
                "breach": BREACHES[i % len(BREACHES)],
                "breach_date": breached.isoformat() if population.random() < 0.8 else None,
                "discovered": (day - timedelta(days=population.randint(0, 80))).isoformat(),
            }
        )
    return records[: len(records) * 3 // 4] if quarter == 0 else records


def phishing(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """Three campaigns a month apart, every user in each; click rates 14-9% then 9-11%."""
    _, rng = rngs(seed, "phishing", quarter)
    rates = ((0.14, 0.12, 0.09), (0.09, 0.07, 0.11))[quarter]
    rows = []
    for n, (name, rate) in enumerate(zip(CAMPAIGNS, rates, strict=True)):
        sent = day - timedelta(days=75 - 30 * n)
        campaign = f"{sent:%Y-%m} {name}"
        for user in user_emails(sizes):
            clicked = rng.random() < rate
            reported = not clicked and rng.random() < 0.25
            rows.append(
                [campaign, sent, user, "yes" if clicked else "no", "yes" if reported else "no"]
            )
    return rows


def securescore(sizes: Sizes, day: date, quarter: int, seed: int) -> dict[str, Any]:
    """Twelve weekly readings, as Microsoft Graph returns them ({"value": [...]})."""
    _, rng = rngs(seed, "securescore", quarter)
    start = 104 + 14 * quarter
    readings = [
        {
            "measured_on": (day - timedelta(weeks=11 - week)).isoformat(),
            "score": round(start + week + rng.uniform(0, 2), 2),
            "max_score": 212,
        }
        for week in range(12)
    ]
    return {"@odata.context": "bench", "value": readings}


def privileged(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """~40 members of the admin groups; two added and one removed since last quarter."""
    members = [
        [group, f"admin-{group.split()[0].lower()}-{i}"] for group, n in GROUPS for i in range(n)
    ]
    members += [["Administrators", f"svc-{i:02d}"] for i in range(sizes.privileged - len(members))]
    if quarter == 0:
        return [*members[:-2], ["Administrators", "old-contractor"]]
    return members


def tickets(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """Three months of tickets: 3% open, ~94% within SLA, a third rated."""
    _, rng = rngs(seed, "tickets", quarter)
    rows = []
    for i in range(sizes.tickets):
        opened = day - timedelta(days=rng.randint(0, 90))
        is_open = rng.random() < 0.03
        closed = "" if is_open else min(day, opened + timedelta(days=rng.choice((0, 0, 1, 2, 5))))
        priority = rng.choices(("P1", "P2", "P3", "P4"), weights=(5, 15, 40, 40))[0]
        sla = "" if is_open else ("yes" if rng.random() < 0.94 else "no")
        rating = rng.choices((5, 4, 3, 2, 1), weights=(60, 25, 8, 4, 3))[0]
        rated = rating if not is_open and rng.random() < 0.33 else ""
        rows.append(
            [str(500_000 + quarter * sizes.tickets + i), opened, closed, priority, sla, rated]
        )
    return rows


def backups(sizes: Sizes, day: date, quarter: int, seed: int) -> list[list[Any]]:
    """Image and file jobs of the servers and workstations, Microsoft 365 jobs; 2% failed."""
    _, rng = rngs(seed, "backups", quarter)
    names = device_names(sizes)
    rows = []
    for i in range(sizes.backups):
        device = "" if i % 10 == 9 else names[i % len(names)]
        job = f"M365 mailbox batch {i}" if not device else f"{device} image {i}"
        result = rng.choices(("success", "warning", "failed"), weights=(94, 4, 2))[0]
        rows.append([job, device, day - timedelta(days=rng.randint(0, 1)), result])
    return rows


Generator = Callable[[Sizes, date, int, int], Any]
# file name -> (CSV header, or None for JSON; generator)
SOURCES: dict[str, tuple[str | None, Generator]] = {
    "patches.csv": ("device,missing_critical,missing_total,last_scan", patches),
    "antivirus.csv": ("device,agent_present,definitions_date,detections", antivirus),
    "warranty.csv": ("asset,model,purchase_date,warranty_end", warranty),
    "network.csv": ("ip,mac,hostname,first_seen", network),
    "darkweb.json": (None, darkweb),
    "phishing.csv": ("campaign,sent,user,clicked,reported", phishing),
    "securescore.json": (None, securescore),
    "privileged.csv": ("group,account", privileged),
    "tickets.csv": ("id,opened,closed,priority,sla_met,satisfaction", tickets),
    "backups.csv": ("job,device,last_run,last_result", backups),
}


def write_evidence(
    folder: Path, sizes: Sizes, day: date, quarter: int, seed: int
) -> dict[str, int]:
    """Write the ten files of one quarter into `folder`; returns the rows per file."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, (header, generate) in SOURCES.items():
        data = generate(sizes, day, quarter, seed)
        if header is None:
            (folder / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
            counts[name] = len(data["value"] if isinstance(data, dict) else data)
            continue
        with (folder / name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header.split(","))
            writer.writerows(data)
        counts[name] = len(data)
    return counts


# --- database and reviews (set up in this process, not timed) -------------------------------


@contextmanager
def database(postgres: str | None, home: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite under `home`, or a fresh one in the PostgreSQL
    server of `postgres` (dropped afterwards); yields its URL."""
    from states.store import db

    copies = Copies(postgres, home)
    try:
        url = copies.empty("staging")
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        copies.close()


def in_staging(uow: Callable[[], Any], client: str, now: datetime) -> int:
    """A new review of `client` started at `now` and walked to the staging phase; its meeting
    is six weeks from today (the scheduling gate refuses a meeting in the past)."""
    from states.calendar.opening import start_review
    from states.templates.catalog import load_catalog
    from tests.team import walk

    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), client, load_catalog(), TEMPLATE, meeting, now=now)
    walk(uow, review_id, "staging")
    return review_id


def cancel(uow: Callable[[], Any], review_id: int, why: str) -> None:
    from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide

    decide(uow(), DecisionRequest(review_id, DecisionKind.CANCEL, "olga@msp.example", why))


def previous_review(uow: Callable[[], Any], client: str, evidence: Path, now: datetime) -> int:
    """The client's previous review: staged on last quarter's files, assessed, then cancelled
    (a client has one open review of a type), as the integration test does."""
    from states.staging.intake import import_files
    from states.staging.record import assess

    review_id = in_staging(uow, client, now)
    import_files(uow(), review_id, sorted(evidence.iterdir()), ACTOR)
    assess(uow(), review_id, now)
    cancel(uow, review_id, "next quarter")
    return review_id


class Clients:
    """The clients of a benchmark run, one per measurement, added to a staffed database.

    Staging has a WIP limit (4 reviews), so a client is prepared just before it is measured
    and its review is cancelled afterwards: one review is in staging at a time.
    """

    def __init__(self, url: str, home: Path, evidence: dict[str, Path]) -> None:
        from states import directory
        from states.store import db
        from tests.conftest import STAFF

        self.engine, self.home, self.evidence = db.make_engine(url), home, evidence
        self.count = 0
        for name, email, roles in STAFF:
            directory.add_person(self.uow(), name, email, roles)

    def uow(self) -> Any:
        from states.store.db import UnitOfWork

        return UnitOfWork(self.engine)

    def prepare(self) -> dict[str, Any]:
        """A new client: its previous review assessed 91 days ago, a new review in staging
        whose evidence folder holds this quarter's files."""
        from states.directory import add_client
        from states.settings import Settings
        from states.staging.intake import evidence_folder
        from states.templates.catalog import load_catalog

        started = time.perf_counter()
        self.count += 1
        client = f"Bench Client {self.count:02d}"
        add_client(self.uow(), client, "quarterly", TEMPLATE, "America/New_York", load_catalog())
        now = datetime.now(UTC)
        previous = previous_review(
            self.uow, client, self.evidence["previous"], now - timedelta(days=91)
        )
        review_id = in_staging(self.uow, client, now)
        shutil.copytree(self.evidence["current"], evidence_folder(Settings(home=self.home), client))
        settle_database(self.engine)
        setup_s = round(time.perf_counter() - started, 2)
        return {
            "client": client,
            "review_id": review_id,
            "previous_review_id": previous,
            "setup_s": setup_s,
        }

    def done(self, review: dict[str, Any]) -> None:
        """The measured review leaves staging."""
        cancel(self.uow, review["review_id"], "measured")

    def close(self) -> None:
        self.engine.dispose()


def settle_database(engine: Any) -> None:
    """After the bulk set-up: fold SQLite's write-ahead log in, refresh PostgreSQL's planner
    statistics, so that neither lands in the middle of a measurement."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


# --- the measured phase, in a fresh subprocess ----------------------------------------------


def proc_memory() -> dict[str, float]:
    """This process's resident memory now and its peak so far (VmRSS, VmHWM), in MiB."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / MIB
    return {"rss_mib": fields["VmRSS"], "hwm_mib": fields["VmHWM"]}


def phase_steps() -> dict[str, Any]:
    """The phase's functions, imported before the clock starts: `stage`, `report_data`, and
    the renderers of the agenda and the HTML report (None, with the reason, when they cannot
    be imported). tasks.staging is imported too, Prefect with it, as in the review's run."""
    import tasks.staging  # noqa: F401  (the flow's task module: its imports are in the RSS)
    from states.read.scorecards import report_data
    from states.staging.intake import stage

    steps: dict[str, Any] = {"stage": stage, "report_data": report_data, "missing": None}
    try:
        from reports.documents import agenda_markdown, report_html
    except Exception as error:  # work in progress elsewhere: time the phase without them
        steps |= {
            "agenda": None,
            "report_html": None,
            "missing": f"{type(error).__name__}: {error}",
        }
    else:
        steps |= {"agenda": agenda_markdown, "report_html": report_html}
    return steps


def run_phase(
    steps: dict[str, Any], uow: Callable[[], Any], settings: Any, review_id: int
) -> dict[str, Any]:
    """The staging phase: the folder read, validated, stored and assessed, then the report's
    data and the two documents rendered from it; its legs' seconds and what it produced."""
    clock = time.perf_counter
    marks = [clock()]
    result = steps["stage"](uow(), settings, review_id)
    marks.append(clock())
    data = steps["report_data"](uow(), review_id)
    marks.append(clock())
    agenda = steps["agenda"](data) if steps["agenda"] else ""
    marks.append(clock())
    html = steps["report_html"](data) if steps["report_html"] else ""
    marks.append(clock())
    if not result.changed or not data["assessed"]:
        raise RuntimeError(f"review {review_id} was not staged: {result}")
    legs = ("stage_s", "report_data_s", "agenda_s", "report_html_s")
    return {
        "time_s": marks[-1] - marks[0],
        "legs": {leg: b - a for leg, a, b in zip(legs, marks, marks[1:], strict=False)},
        "findings": result.findings,
        "new": result.new,
        "tickets_opened": result.tickets_opened,
        "tasks_closed": len(result.tasks_closed),
        "agenda_chars": len(agenda),
        "report_html_chars": len(html),
        "outputs_missing": steps["missing"],
    }


def memory_record(at_start: dict[str, float]) -> dict[str, Any]:
    """RSS when the phase began, the process's peak (VmHWM) and its growth over that start."""
    import resource

    at_end = proc_memory()
    return {
        "rss_at_start_mib": at_start["rss_mib"],
        "peak_rss_mib": at_end["hwm_mib"],
        "phase_rss_growth_mib": at_end["hwm_mib"] - at_start["rss_mib"],
        "rss_at_end_mib": at_end["rss_mib"],
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB,
        "code_root": str(Path(sys.modules["states"].__file__ or "").parents[1]),
    }


def child(args: argparse.Namespace) -> int:
    """One measurement: imports and the database connection first, then the timed phase;
    the numbers go to --result as JSON."""
    import cProfile
    import tracemalloc

    from states.settings import Settings
    from states.store.db import UnitOfWork, make_engine

    settings = Settings()  # XBR_HOME and XBR_DATABASE_URL from the parent
    engine = make_engine(settings.url)
    with engine.connect():
        pass  # the pool's first connection is set-up, not staging

    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    steps = phase_steps()
    at_start = proc_memory()
    profiler = cProfile.Profile() if args.profile_to else None
    if args.trace:
        tracemalloc.start()
    if profiler:
        profiler.enable()
    record = run_phase(steps, uow, settings, args.review)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile_to)
    if args.trace:
        record["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / MIB / MIB
        tracemalloc.stop()
    record |= memory_record(at_start)
    engine.dispose()
    Path(args.result).write_text(json.dumps(record))
    return 0


# --- the parent: set-up, repetitions, summary ------------------------------------------------


def byte_compile() -> None:
    """Compile xbr's modules as an install does (PYTHONDONTWRITEBYTECODE is set on some
    machines: each subprocess would otherwise compile them from source, inside no timing but
    in its memory)."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(str(REPO / package), quiet=1)


def child_env(url: str, home: Path) -> dict[str, str]:
    """The environment of a measured subprocess: this database and home, no inherited xbr
    or Prefect settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XBR_", "PREFECT_"))}
    env |= {"XBR_HOME": str(home), "XBR_DATABASE_URL": url, "PREFECT_HOME": str(home / "prefect")}
    return env


CODE = ("states", "flows", "tasks", "notifications", "deploy")


def source_digest() -> str:
    """A hash of xbr's code as it is on disk now (modules, templates, catalog, migrations)."""
    import hashlib

    digest = hashlib.sha256()
    for package in CODE:
        for path in sorted((REPO / package).rglob("*")):
            if path.suffix in (".py", ".j2", ".yaml") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def code_info(commit: str | None) -> dict[str, Any]:
    """Which code was measured: a commit extracted with `git archive`, or this checkout (its
    HEAD and the files changed since)."""
    if commit:
        return {"from": "git archive", "commit": commit, "digest": source_digest()}
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", *CODE], capture_output=True, text=True
    )
    changed = [line[3:] for line in status.stdout.splitlines()]
    return {"from": "working tree", "head": head.strip(), "changed_since_head": changed,
            "digest": source_digest()}  # fmt: skip


def measure(url: str, home: Path, review: dict[str, Any], mode: str = "timed") -> dict[str, Any]:
    """Stage one prepared review in a fresh subprocess ("timed", "traced" with tracemalloc,
    or "profiled" with cProfile, its statistics under `home`)."""
    result = home / f"result-{review['review_id']}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    command += ["--review", str(review["review_id"]), "--result", str(result)]
    if mode == "traced":
        command.append("--trace")
    if mode == "profiled":
        command += ["--profile-to", str(home / "phase.prof")]
    load = os.getloadavg()[0]
    subprocess.run(command, env=child_env(url, home), check=True, timeout=900)
    record = json.loads(result.read_text())
    return {"mode": mode, **review, "loadavg_1m": load, "code_digest": source_digest(), **record}


def summary(values: list[float]) -> dict[str, Any]:
    """n, median, p95 (nearest rank: the maximum below 20 values), min, max, mean."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 4),
        "p95": round(p95, 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
        "mean": round(statistics.fmean(ordered), 4),
    }


def results(runs: list[dict[str, Any]], traced: list[dict[str, Any]]) -> dict[str, Any]:
    """The summaries of the timed runs, the traced runs' tracemalloc peaks, the verdict."""
    time_s = summary([r["time_s"] for r in runs])
    rss = summary([r["peak_rss_mib"] for r in runs])
    return {
        "time_s": time_s,
        "peak_rss_mib": rss,
        "rss_at_start_mib": summary([r["rss_at_start_mib"] for r in runs]),
        "phase_rss_growth_mib": summary([r["phase_rss_growth_mib"] for r in runs]),
        "legs_median_s": {
            leg: round(statistics.median(r["legs"][leg] for r in runs), 4)
            for leg in runs[0]["legs"]
        },
        "tracemalloc_peak_mib": summary([r["tracemalloc_peak_mib"] for r in traced]),
        "time_s_under_tracemalloc": summary([r["time_s"] for r in traced]),
        "targets": {"time_s": TARGET_SECONDS, "peak_rss_mib": TARGET_MIB},
        "meets_time": time_s["median"] < TARGET_SECONDS,
        "meets_memory": rss["median"] < TARGET_MIB,
        "meets_target": time_s["median"] < TARGET_SECONDS and rss["median"] < TARGET_MIB,
        "every_run_meets_target": time_s["max"] < TARGET_SECONDS and rss["max"] < TARGET_MIB,
    }


def where(path: str) -> str:
    """A profiled function's file, shortened: states/staging/record.py, pydantic/main.py ..."""
    for root in (str(REPO) + "/", "site-packages/", "/lib/python3.11/"):
        if root in path:
            return path.split(root, 1)[1]
    return path


def profile_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """From cProfile's statistics: total, and the functions with the most cumulative time
    (xbr's own) and the most own time (anyone's), each with its share of the total."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = max(ct for _, _, _, ct, _ in stats.values())

    def row(key: tuple[str, int, str], value: tuple[Any, ...]) -> dict[str, Any]:
        _, calls, own, cumulative, _ = value
        share = round(100 * cumulative / total, 1)
        name = f"{where(key[0])}:{key[1]}:{key[2]}"
        return {"function": name, "calls": calls, "own_s": round(own, 4),
                "cumulative_s": round(cumulative, 4), "cumulative_pct": share}  # fmt: skip

    ours = [(k, v) for k, v in stats.items() if k[0].startswith(str(REPO))]
    by_cumulative = sorted(ours, key=lambda kv: kv[1][3], reverse=True)[:top]
    by_own = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "total_s": round(total, 4),
        "xbr_by_cumulative": [row(k, v) for k, v in by_cumulative],
        "all_by_own_time": [row(k, v) for k, v in by_own],
    }


def machine(url: str) -> dict[str, Any]:
    """CPU, memory, Python, the database and its version, the load average now."""
    from importlib import metadata

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        query = "select sqlite_version()" if url.startswith("sqlite") else "show server_version"
        server = conn.execute(text(query)).scalar()
    engine.dispose()
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_total_mib": round(total_kib / MIB),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "database_version": server,
        "loadavg_at_start": list(os.getloadavg()),
        "versions": {
            name: metadata.version(name)
            for name in ("sqlalchemy", "pydantic", "pydantic-core", "jinja2", "psycopg")
        },
    }


def print_tables(report: dict[str, Any]) -> None:
    """The runs and the verdict as Rich tables."""
    from rich.console import Console
    from rich.table import Table

    runs = Table(title=f"staging phase on {report['machine']['database']}: seconds, RSS MiB")
    # seconds of the phase and its legs; MiB of the peak and of the RSS when the phase began
    for column in ("run", "s", "stage", "data", "agenda", "html", "peak", "start", "found",
                   "load"):  # fmt: skip
        runs.add_column(column, justify="right")
    for n, r in enumerate(report["runs"], start=1):
        legs = [f"{r['legs'][leg]:.3f}" for leg in r["legs"]]
        runs.add_row(str(n), f"{r['time_s']:.3f}", *legs, f"{r['peak_rss_mib']:.0f}",
                     f"{r['rss_at_start_mib']:.0f}", str(r["findings"]),
                     f"{r['loadavg_1m']:.2f}")  # fmt: skip
    res = report["results"]
    verdict = Table(title="against the target (median of the runs)")
    for column in ("", "median", "p95", "min", "target", "met"):
        verdict.add_column(column, justify="right")
    for label, key, met in (("time s", "time_s", res["meets_time"]),
                            ("peak RSS MiB", "peak_rss_mib", res["meets_memory"])):  # fmt: skip
        s = res[key]
        verdict.add_row(label, f"{s['median']:.3f}", f"{s['p95']:.3f}", f"{s['min']:.3f}",
                        f"< {res['targets'][key]:g}", "yes" if met else "[red]NO[/]")  # fmt: skip
    console = Console()
    console.print(runs, verdict)
    traced = res["tracemalloc_peak_mib"]
    if traced["n"]:
        console.print(f"tracemalloc peak of the phase (separate runs): {traced['median']:.0f} MiB")
    console.print(f"written to {report['out']}")


def generate(home: Path, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Both quarters' evidence under `home`: last quarter's ends 91 days before today's."""
    today = datetime.now(UTC).date()
    folders = {"previous": home / "evidence-previous", "current": home / "evidence-current"}
    rows = {
        "previous": write_evidence(folders["previous"], sizes, today - timedelta(days=91), 0, seed),
        "current": write_evidence(folders["current"], sizes, today, 1, seed),
    }
    size = sum(p.stat().st_size for p in folders["current"].iterdir())
    return {"folders": folders, "rows": rows, "current_bytes": size}


def run_all(args: argparse.Namespace, home: Path, sizes: Sizes) -> dict[str, Any]:
    """Generate the evidence, then per measurement a client prepared and staged in its own
    subprocess: the timed runs, the runs under tracemalloc, the run under cProfile."""
    evidence = generate(home, sizes, args.seed)
    modes = ["timed"] * args.reps + ["traced"] * args.traced + ["profiled"] * args.profile
    measured: dict[str, list[dict[str, Any]]] = {"timed": [], "traced": [], "profiled": []}
    code = code_info(args.from_commit)
    with database(args.postgres, home) as url:
        info = machine(url)
        clients = Clients(url, home, evidence["folders"])
        for n, mode in enumerate(modes, start=1):
            review = clients.prepare()
            record = measure(url, home, review, mode)
            clients.done(review)
            measured[mode].append(record)
            if record["code_digest"] != code["digest"]:
                log(f"warning: xbr's code changed on disk during the run ({record['code_digest']})")
            log(f"{mode} run {n}/{len(modes)}: {record['time_s']:.3f} s, peak RSS "
                f"{record['peak_rss_mib']:.0f} MiB (set-up {review['setup_s']:.1f} s)")  # fmt: skip
        clients.close()
        info["loadavg_at_end"] = list(os.getloadavg())
    profile = profile_summary(home / "phase.prof") if args.profile else None
    every = [r for runs in measured.values() for r in runs]
    code["changed_during_run"] = any(r["code_digest"] != code["digest"] for r in every)
    return {"machine": info, "code": code, "evidence": evidence, "runs": measured["timed"],
            "traced_runs": measured["traced"], "profile": profile,
            "profiled_run": (measured["profiled"] or [None])[0]}  # fmt: skip


def shared_options(parser: argparse.ArgumentParser, name: str) -> None:
    """The options every staging-sized benchmark takes: the database, the data's size and
    seed, where results go, which code is measured, and the measured subprocess's own."""
    parser.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const=PG_ADMIN_URL,
        help=f"run on a fresh database in this server (default {PG_ADMIN_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="a small client: a smoke test")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help=f"default bench/results/{name}-<time>-<db>.json")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary XBR_HOME")
    parser.add_argument("--commit", help="measure this commit's code (git archive), not the tree")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--from-commit", help=argparse.SUPPRESS)  # set by --commit
    # a measured subprocess
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--review", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, help="measured runs (default 7, --quick 2)")
    parser.add_argument("--traced", type=int, help="extra runs under tracemalloc (default 2/1)")
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile")
    shared_options(parser, "staging")
    args = parser.parse_args(argv)
    if not args.child:
        args.reps = args.reps or (2 if args.quick else 7)
        args.traced = (1 if args.quick else 2) if args.traced is None else args.traced
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        return child(args)
    if args.commit:
        return from_commit(args)
    started_at = datetime.now(UTC)
    sizes = QUICK if args.quick else FULL
    byte_compile()
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-staging-"))
    log(f"throw-away XBR_HOME {home}; {sizes}, {args.reps} runs")
    try:
        measured = run_all(args, home, sizes)
    finally:
        if args.keep_home:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    kind = measured["machine"]["database"]
    stamp = f"{started_at:%Y%m%dT%H%MZ}{'-quick' if args.quick else ''}"
    out = args.out or args.results_dir / f"staging-{stamp}-{kind}.json"
    report = assemble(args, sizes, started_at, measured, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_tables(report)
    return 0


def from_commit(args: argparse.Namespace) -> int:
    """This benchmark on the code of a commit: `git archive` into a temporary folder with this
    script copied in, run from there; the JSON goes to this checkout's results folder."""
    git = ["git", "-C", str(REPO)]
    found = subprocess.run([*git, "rev-parse", "--verify", f"{args.commit}^{{commit}}"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    sha = found.stdout.strip()
    tree = Path(tempfile.mkdtemp(prefix="xbr-bench-code-"))
    try:
        archive = subprocess.run([*git, "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        (tree / "bench").mkdir(exist_ok=True)
        shutil.copy2(Path(__file__).resolve(), tree / "bench" / "staging.py")
        command = [sys.executable, str(tree / "bench" / "staging.py"), "--from-commit", sha,
                   "--results-dir", str(args.results_dir.resolve()), "--seed", str(args.seed),
                   "--reps", str(args.reps), "--traced", str(args.traced)]  # fmt: skip
        flags = {"--quick": args.quick, "--profile": args.profile, "--keep-home": args.keep_home}
        command += [flag for flag, on in flags.items() if on]
        command += ["--postgres", args.postgres] if args.postgres else []
        command += ["--out", str(args.out.resolve())] if args.out else []
        log(f"measuring commit {sha[:10]} (git archive in {tree})")
        return subprocess.run(command, check=False).returncode
    finally:
        shutil.rmtree(tree, ignore_errors=True)


METHOD = {
    "phase": "stage() [the folder's files read, validated, stored; then assess()] + report_data() "
    "+ agenda_markdown() + report_html(), timed with perf_counter in a fresh subprocess per run, "
    "after its imports (tasks.staging with Prefect, as in the review's run) and its first "
    "database connection; Jinja compiles the two templates inside the phase (first render)",
    "peak_rss": "VmHWM of the subprocess: its own peak. ru_maxrss is listed too, but on Linux it "
    "keeps the parent's peak RSS across fork and exec, so it can read higher",
    "tracemalloc": "separate runs (traced_runs): tracing slows the phase about 4x and adds memory",
    "mib": "1 MiB = 1,048,576 bytes",
}


def assemble(
    args: argparse.Namespace,
    sizes: Sizes,
    started_at: datetime,
    measured: dict[str, Any],
    out: Path,
) -> dict[str, Any]:
    """The JSON of a benchmark run."""
    evidence = measured["evidence"]
    return {
        "benchmark": "staging",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": measured["machine"],
        "code": measured["code"],
        "sizes": {
            **asdict(sizes),
            "network": sizes.network,
            "backups": sizes.backups,
            "darkweb": sizes.darkweb,
            "privileged": sizes.privileged,
        },
        "evidence_rows": evidence["rows"],
        "evidence_bytes": evidence["current_bytes"],
        "config": {
            "reps": args.reps,
            "traced_reps": args.traced,
            "seed": args.seed,
            "template": TEMPLATE,
            "quick": args.quick,
            **METHOD,
        },
        "results": results(measured["runs"], measured["traced_runs"]),
        "runs": measured["runs"],
        "traced_runs": measured["traced_runs"],
        "profile": measured["profile"],
        "profiled_run": measured["profiled_run"],
        "out": str(out),
    }


if __name__ == "__main__":
    sys.exit(main())
