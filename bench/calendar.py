#!/usr/bin/env python
"""Calendar, sweeper and board: the account calendar's pass, the sweeper's database work and
the board, on a large installation of which little is due.

    .venv/bin/python bench/calendar.py [--reps 5] [--postgres [URL]] [--quick] [--profile]

The issue's target: with 10,000 clients and 20,000 open reviews, of which 100 are due, the
calendar pass and the sweeper tick each take under 1 s on SQLite and PostgreSQL (the work must
grow with what is due, not with what exists), and `xbr board` under 1 s. A seeded generator
bulk-inserts that installation into a template database; every measurement runs on a fresh
copy of it. The same runs on a tenth of the clients and open reviews with as much due show
whether the time follows what is due or what exists. Results go to
bench/results/calendar-<time>-<database>.json and a table is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from states.store.db import UnitOfWork
    from states.templates.schema import Template

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# This file is named like a standard module: run as a script, its folder comes first on
# sys.path, where `import calendar` (states.calendar.cadence needs the real one) would find
# it instead.
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Rich sizes the board to the terminal; the benchmark's output is not one, so give it a width.
os.environ.setdefault("COLUMNS", "160")

from bench.databases import PG_ADMIN_URL, Copies  # noqa: E402

TARGET_SECONDS = 1.0
MIB = 1024 * 1024
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
         "Europe/London", "Europe/Berlin", "Africa/Johannesburg", "Asia/Kolkata", "Asia/Tokyo",
         "Australia/Sydney", "Pacific/Auckland")  # fmt: skip
TEMPLATES = {"qbr": 0.7, "xbr-sop": 0.3}  # the clients' own (quarterly) templates, by share
SECOND = "trs"  # a second review type, started by hand: its reviews hold their own slot
AD_HOC = "ad-hoc"
WAITING_SHARE = 0.1  # clients between reviews: the last one held, the next not open yet
PATH = ("needed", "scheduling", "scheduled", "staging", "prep", "delivery", "follow_up",
        "qa_review", "closed")  # fmt: skip
# phase -> (days since it was entered, meeting from now in days (None: not set yet))
DAYS: dict[str, tuple[tuple[float, float], tuple[float, float] | None]] = {
    "needed": ((0, 28), None),
    "scheduling": ((0, 12), None),
    "scheduled": ((0, 30), (20, 56)),
    "staging": ((0, 12), (10, 14)),
    "prep": ((0, 5), (2, 5)),
    "delivery": ((0, 1), (0.2, 1)),
    "follow_up": ((0, 5), (-5, -1)),
    "qa_review": ((0, 5), (-10, -6)),
}


@dataclass(frozen=True)
class Sizes:
    """One installation: clients, open reviews, and how much of it is due."""

    clients: int
    open_reviews: int
    due: int  # clients the calendar must open a review for, due wakes, reviews with an overdue task
    history: int = 1  # closed reviews per client before its latest

    def smaller(self, factor: int) -> Sizes:
        return replace(
            self, clients=self.clients // factor, open_reviews=self.open_reviews // factor
        )


FULL = Sizes(clients=10_000, open_reviews=20_000, due=100)
QUICK = Sizes(clients=1_000, open_reviews=2_000, due=10)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the installation ------------------------------------------------------------------------


class Generator:
    """Rows of clients, reviews, their tasks and audit trails, inserted in batches."""

    def __init__(self, catalog: dict[str, Template], staff: dict[str, list[int]], now: datetime,
                 seed: int) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.now = now
        self.staff = staff  # role -> the ids of the people holding it
        names = [*TEMPLATES, SECOND, AD_HOC]
        self.templates = {n: catalog[n] for n in names}
        self.snapshots = {n: catalog[n].model_dump(mode="json") for n in names}
        self.rows: dict[str, list[dict[str, Any]]] = {
            "clients": [], "reviews": [], "review_tasks": [], "audit_log": []
        }  # fmt: skip
        self.counts = dict.fromkeys(self.rows, 0)
        self.open_reviews = 0
        self.last_review = 0
        self.expect: dict[str, list[int]] = {"calendar": [], "wakes": [], "reminders": [],
                                             "runs": []}  # fmt: skip
        self.runs_due = 0  # reviews that moved since the sweeper last saw their run waiting

    def days(self, span: tuple[float, float]) -> timedelta:
        return timedelta(days=self.rng.uniform(*span))

    def meeting(self, client: dict[str, Any], moment: datetime) -> datetime:
        """10:00 on that day, in the client's time zone."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(client["timezone"])
        return datetime.combine(moment.astimezone(tz).date(), clock(10), tzinfo=tz).astimezone(UTC)

    def review(
        self,
        client: dict[str, Any],
        template: str,
        status: str,
        meeting_at: datetime | None = None,
        overdue: bool = False,
    ) -> dict[str, Any]:
        """One review in `status`, with its tasks (those of earlier phases done) and its audit
        trail; returns its row. A closed one closed 20 days after its meeting (or yesterday)."""
        from states.calendar.opening import period_of

        spec = self.templates[template]
        ages, meets = DAYS.get(status, ((0, 0), None))
        warning = spec.phase(status).age_warning_days if status in DAYS else None
        if warning is not None:  # younger than its age warning: no escalation is due
            ages = (ages[0], min(ages[1], 0.8 * warning))
        if meeting_at is None and meets is not None:
            meeting_at = self.meeting(client, self.now + self.days(meets))
        if status == "closed" and meeting_at is not None:
            entered = min(meeting_at + timedelta(days=20), self.now - timedelta(days=1))
        else:
            entered = self.now - self.days(ages)
        step = PATH.index(status)
        created = entered - self.days((2, 20)) if step else entered
        if meeting_at is not None and meeting_at < self.now:
            created = meeting_at - timedelta(days=56)
        self.last_review += 1
        self.open_reviews += status != "closed"
        row = {
            "id": self.last_review, "client_id": client["id"], "type": spec.review_type,
            "template": template, "template_snapshot": self.snapshots[template],
            "period": period_of(spec.cadence, meeting_at or created), "status": status,
            "round": step, "meeting_at": meeting_at, "wake_at": None,
            "phase_entered_at": entered, "created_at": created,
            "closed_at": entered if status == "closed" else None,
            "budget_hours": spec.budget_hours, "actual_hours": 0.0, "version": step + 1,
            "flow_run_id": None if status == "closed" else str(uuid.UUID(int=self.last_review)),
            "run_generation": 0, "invite_sequence": 0 if meeting_at else -1,
            "age_warning_at": None, "escalate_at": None, "run_seen_at": None,
        }  # fmt: skip
        if status != "closed":
            if warning is not None:  # as states.notices.planning.set_age_warning sets them
                row["age_warning_at"] = row["escalate_at"] = entered + timedelta(days=warning)
            if len(self.expect["runs"]) < self.runs_due and self.rng.random() < 0.05:
                self.expect["runs"].append(row["id"])  # moved: the next sweep checks its run
            else:  # seen waiting at its gate by one of the last day's sweeps
                row["run_seen_at"] = self.now - self.days((0.01, 0.95))
        if status == "scheduled":  # wakes when its staging must start, days from now
            until = (row["meeting_at"] - self.now).days - 10
            row["wake_at"] = self.now + self.days((1, max(2, until)))
        self.rows["reviews"].append(row)
        self.audit(row)
        self.tasks(row, overdue)
        return row

    def audit(self, review: dict[str, Any]) -> None:
        """The review's start and one step per phase it went through."""
        from states.lifecycle.machine import FORWARD, Phase

        step = PATH.index(review["status"])
        created, entered = review["created_at"], review["phase_entered_at"]
        rows = self.rows["audit_log"]
        rows.append({"review_id": review["id"], "at": created, "from_state": None,
                     "to_state": "needed", "trigger": "start", "actor": "xbr",
                     "comment": "account calendar: due"})  # fmt: skip
        for n in range(1, step + 1):
            trigger = FORWARD[Phase(PATH[n - 1])][0].value
            rows.append({"review_id": review["id"], "at": created + (entered - created) * n / step,
                         "from_state": PATH[n - 1], "to_state": PATH[n], "trigger": trigger,
                         "actor": "olga@msp.example", "comment": ""})  # fmt: skip

    def tasks(self, review: dict[str, Any], overdue: bool) -> None:
        """Done before the review's phase; open from it on and due in 6 days or more (no
        reminder is due), except the first of its phase when `overdue` (due yesterday)."""
        status, entered = review["status"], review["phase_entered_at"]
        step = PATH.index(status)
        rows = self.rows["review_tasks"]
        for position, (phase, spec) in enumerate(self.templates[review["template"]].tasks()):
            people = self.staff.get(spec.role.value) or [None]
            assignee = people[self.rng.randrange(len(people))]
            done = PATH.index(phase.value) < step
            if done:
                due: datetime | None = entered - self.days((0, 10))
            elif phase.value == status and overdue:
                due, overdue = self.now - timedelta(days=1), False
            elif phase.value == status or (spec.due is not None and review["meeting_at"]):
                due = self.now + self.days((6, 40))
            else:
                due = None
            rows.append(
                {
                    "review_id": review["id"], "key": spec.key, "position": position,
                    "phase": phase.value, "title": spec.title, "role": spec.role.value,
                    "kind": spec.kind.value, "required": spec.required, "assignee_id": assignee,
                    "due_at": due, "status": "done" if done else "open",
                    "completed_by_id": assignee if done else None,
                    "completed_at": due if done else None, "hours": 0.0,
                }
            )  # fmt: skip

    def flush(self, conn: Connection, least: int = 20_000) -> None:
        """Insert what is buffered (parents first) once `least` rows have gathered."""
        from sqlalchemy import insert

        from states.store.models import Base

        if sum(len(rows) for rows in self.rows.values()) < least:
            return
        for table, rows in self.rows.items():
            if rows:
                conn.execute(insert(Base.metadata.tables[table]), rows)
                self.counts[table] += len(rows)
                rows.clear()


def client_kinds(sizes: Sizes, rng: random.Random) -> list[str]:
    """Each client's situation. The calendar must act on `new` (no review yet) and `due` (its
    next review should open now); `waiting` (the next one opens later) and `holding` (a review
    holds its slot) it must not spend time on."""
    steady = sizes.clients - sizes.due
    waiting = round(steady * WAITING_SHARE)
    kinds = ["new"] * (sizes.due // 2) + ["due"] * (sizes.due - sizes.due // 2)
    kinds += ["waiting"] * waiting + ["holding"] * (steady - waiting)
    rng.shuffle(kinds)
    return kinds


def holding_phases(
    count: int, due: int, templates: list[Template], rng: random.Random
) -> list[str]:
    """The phases of the reviews holding a slot: each WIP-limited phase half full, `due`
    scheduled reviews to wake (`wake`) and `due` with an overdue task (`remind`); the rest in
    needed or scheduled, which have no WIP limit."""
    phases: list[str] = []
    for phase in ("scheduling", "staging", "prep", "delivery"):
        limit = min(t.phase(phase).wip_limit or 10 for t in templates)
        phases += [phase] * max(1, limit // 2)
    phases += ["wake"] * due + ["remind"] * due
    if count < len(phases):
        raise SystemExit(f"{count} clients with an open review cannot take {len(phases)} phases")
    phases += [rng.choice(("needed", "scheduled", "scheduled")) for _ in range(count - len(phases))]
    rng.shuffle(phases)
    return phases


def next_opening(gen: Generator, client: dict[str, Any], first: datetime, last: datetime) -> date:
    """The day the calendar opens the review after the held meeting `last`, as it computes it."""
    from states.calendar.business_days import local_date, zone
    from states.calendar.cadence import next_meeting, opens_on
    from states.templates.schema import Cadence

    tz = zone(client["timezone"])
    target = next_meeting(Cadence.QUARTERLY, local_date(first, tz), local_date(last, tz))
    assert target is not None
    return opens_on(target, gen.templates[client["template"]].schedule.lead_weeks_max)


def add_client(
    gen: Generator, n: int, kind: str, phase: str | None, history: int
) -> dict[str, Any]:
    """One client of `kind` with its reviews: `history` closed ones (a quarter apart), then a
    review in follow-up or QA (`phase`, waiting clients) or one holding its slot (holding)."""
    rng, now = gen.rng, gen.now
    template = "qbr" if rng.random() < TEMPLATES["qbr"] else "xbr-sop"
    client = {"id": n, "name": f"Bench Client {n:05d}", "cadence": "quarterly",
              "template": template, "timezone": rng.choice(ZONES), "active": True,
              "created_at": now - timedelta(days=91 * history + 200),
              "next_review_on": None}  # fmt: skip
    gen.rows["clients"].append(client)
    if kind == "new":  # never had a review: the calendar opens its first
        gen.expect["calendar"].append(n)
        return client
    held = None
    if phase in ("follow_up", "qa_review"):
        held = gen.review(client, template, phase)["meeting_at"]
    last = held or gen.meeting(client, now - gen.days({"due": (58, 62), "waiting": (12, 30),
                                                       "holding": (60, 100)}[kind]))  # fmt: skip
    skip = 1 if held else 0  # the held review in follow-up or QA is the latest
    meetings = [
        gen.meeting(client, last - timedelta(days=91 * k)) for k in range(skip, history + skip)
    ]
    for meeting in meetings:
        gen.review(client, template, "closed", meeting_at=meeting)
    opening = next_opening(gen, client, min([last, *meetings]), last)
    if kind == "due":  # its next review should have opened by today
        assert opening <= now.date(), (client, opening)
        gen.expect["calendar"].append(n)
    client["next_review_on"] = opening
    if kind == "waiting":  # the calendar set the day to look again
        assert opening > (now + timedelta(days=1)).date(), (client, opening)
    if kind == "holding":
        add_holding(gen, client, phase or "needed")
    return client


def add_holding(gen: Generator, client: dict[str, Any], phase: str) -> None:
    """The review holding the client's slot, opened on the day `next_review_on` said."""
    if phase == "wake":  # its staging should have started: the sweeper wakes it
        meeting = gen.meeting(client, gen.now + gen.days((14, 20)))
        row = gen.review(client, client["template"], "scheduled", meeting_at=meeting)
        row["wake_at"] = gen.now - timedelta(minutes=gen.rng.randint(1, 600))
        gen.expect["wakes"].append(row["id"])
    elif phase == "remind":  # a task of its phase was due yesterday
        row = gen.review(client, client["template"], "needed", overdue=True)
        gen.expect["reminders"].append(row["id"])
    else:
        row = gen.review(client, client["template"], phase)
    client["next_review_on"] = date.max  # states.store.models.WHILE_HELD: the calendar passes it by


def populate(conn: Connection, sizes: Sizes, catalog: dict[str, Template],
             staff: dict[str, list[int]], now: datetime, seed: int) -> Generator:  # fmt: skip
    """Every client with its reviews; then reviews of a second type (a slot of their own) for
    clients with nothing due, and ad-hoc ones, until `sizes.open_reviews` are open."""
    gen = Generator(catalog, staff, now, seed)
    gen.runs_due = sizes.due
    kinds = client_kinds(sizes, gen.rng)
    templates = [catalog[t] for t in TEMPLATES]
    phases = iter(holding_phases(kinds.count("holding"), sizes.due, templates, gen.rng))
    held_open = iter(("follow_up", "qa_review"))  # within those phases' WIP limits
    clients: dict[str, list[dict[str, Any]]] = {"new": [], "due": [], "waiting": [], "holding": []}
    for n, kind in enumerate(kinds, start=1):
        phase = next(phases) if kind == "holding" else None
        phase = next(held_open, None) if kind == "waiting" else phase
        clients[kind].append(add_client(gen, n, kind, phase, sizes.history))
        gen.flush(conn)
    # not the clients the calendar must act on: it passes over a client with any open review
    # in a slot phase, of whatever type (states/calendar/recurrence.py, clients_without_next_review)
    steady = clients["waiting"] + clients["holding"]
    gen.rng.shuffle(steady)
    for client in steady[: max(0, sizes.open_reviews - gen.open_reviews)]:
        gen.review(client, SECOND, gen.rng.choice(("needed", "scheduled")))
        gen.flush(conn)
    while gen.open_reviews < sizes.open_reviews:
        gen.review(gen.rng.choice(clients["holding"]), AD_HOC, "needed")
        gen.flush(conn)
    gen.flush(conn, least=0)
    return gen


def house() -> Any:
    """bench/staging.py, for what both benchmarks share (summaries, machine, code, profile)."""
    import bench.staging

    return bench.staging


def build(url: str, sizes: Sizes, catalog: dict[str, Template], now: datetime,
          seed: int) -> dict[str, Any]:  # fmt: skip
    """Migrate an empty database, add the staff (tests/conftest.py), bulk-insert the
    installation; then what a live database would have: PostgreSQL's statistics (autovacuum
    gathers them), SQLite's WAL folded into the file (so that a file copy is complete)."""
    from sqlalchemy import func, select, text

    from states import directory
    from states.store import db
    from states.store.models import Person, PersonRole, Review
    from tests.conftest import STAFF

    started = time.perf_counter()
    engine = db.make_engine(url)
    db.upgrade(engine)
    for name, email, roles in STAFF:
        directory.add_person(db.UnitOfWork(engine), name, email, roles)
    staff: dict[str, list[int]] = {}
    with engine.connect() as conn:
        query = select(PersonRole.role, Person.id).join(Person).order_by(Person.id)
        for role, person in conn.execute(query):
            staff.setdefault(role, []).append(person)
    with engine.begin() as conn:
        gen = populate(conn, sizes, catalog, staff, now, seed)
    with engine.connect() as conn:
        open_now = conn.scalar(
            select(func.count()).where(Review.status.not_in(("closed", "cancelled")))
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("clients", "reviews"):  # the ids were given: move their sequences on
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))  # fmt: skip
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        raw.close()
        assert not busy, "the WAL could not be folded into the database file"
    return {"rows": gen.counts, "open_reviews": open_now,
            "due": {k: len(v) for k, v in gen.expect.items()},
            "build_s": round(time.perf_counter() - started, 1)}  # fmt: skip


# --- measurements ----------------------------------------------------------------------------


@cache
def shipped_catalog() -> dict[str, Template]:
    """The shipped templates, loaded once."""
    from states.templates.catalog import load_catalog

    return load_catalog()


class Legs:
    """Wall time (and, when counted, SQL statements) of consecutive legs of one measurement."""

    def __init__(self, statements: list[int]) -> None:
        self.statements = statements
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._at, self._seen = time.perf_counter(), statements[0]

    def mark(self, leg: str) -> None:
        at, seen = time.perf_counter(), self.statements[0]
        self.seconds[leg] = round(at - self._at, 4)
        self.counts[leg] = seen - self._seen
        self._at, self._seen = at, seen


Operation = Callable[[Callable[[], "UnitOfWork"], Legs, datetime], dict[str, Any]]


def calendar_op(uow: Callable[[], UnitOfWork], legs: Legs, now: datetime) -> dict[str, Any]:
    """The daily pass (`xbr calendar run`), then at once a second one that finds nothing due."""
    from states.calendar.recurrence import calendar_pass

    catalog = shipped_catalog()  # loaded before, as the calendar flow has it before its pass
    legs.mark("-")
    plans = calendar_pass(uow(), catalog, now)
    legs.mark("calendar")
    again = calendar_pass(uow(), catalog, now)
    legs.mark("calendar_idle")
    return {"opened": sum(p.review_id is not None for p in plans), "looked_at": len(plans),
            "opened_again": sum(p.review_id is not None for p in again)}  # fmt: skip


def sweeper_op(uow: Callable[[], UnitOfWork], legs: Legs, now: datetime) -> dict[str, Any]:
    """The database work of one sweeper tick, task by task, without its Prefect calls."""
    from states.lifecycle.run_records import open_review_runs, runs_seen, wake_due
    from states.lifecycle.wip_queue import pull_queue
    from states.notices.planning import plan_reminders
    from states.read import views

    legs.mark("-")
    woken = wake_due(uow(), now)
    for rid in woken:  # wake_due_reviews reads each woken review's run id to resume it
        views.review_view(uow(), rid)
    legs.mark("wake")
    pulled = pull_queue(uow(), now)  # none: the woken took staging's free places
    legs.mark("pull_queue")
    runs = open_review_runs(uow(), now)  # reattach_lost_runs asks Prefect about these runs
    runs_seen(uow(), runs, now)  # and finds them waiting at their gates
    legs.mark("open_review_runs")
    planned = plan_reminders(uow(), now)
    legs.mark("plan_reminders")
    staging = views.list_reviews(uow(), "staging")  # stage_new_exports then reads each folder
    legs.mark("staging_list")
    return {"woken": len(woken), "pulled": len(pulled), "runs_checked": len(runs),
            "reminders_planned": planned, "in_staging": len(staging)}  # fmt: skip


def board_op(uow: Callable[[], UnitOfWork], legs: Legs, now: datetime) -> dict[str, Any]:
    """`board` (what `xbr board` reads), then its Rich rendering, captured."""
    from deploy import render
    from states.read.board import board

    legs.mark("-")
    columns = board(uow(), now)
    legs.mark("board")
    with render.console.capture() as captured:
        render.board(columns)
    legs.mark("board_render")
    return {"cards": sum(c["count"] for c in columns), "rendered_chars": len(captured.get()),
            "width": render.console.width,
            "columns": {c["phase"]: c["count"] for c in columns}}  # fmt: skip


OPERATIONS: dict[str, Operation] = {"calendar": calendar_op, "sweeper": sweeper_op,
                                    "board": board_op}  # fmt: skip


def on_copy(url: str, op: Operation, now: datetime, count: bool = False,
            profile: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Run one operation on a database copy with a new engine (connected before timing),
    optionally counting its SQL statements or under cProfile."""
    from sqlalchemy import event

    from states.store.db import UnitOfWork, make_engine

    engine = make_engine(url)
    with engine.connect():
        pass  # the pool keeps the connection: the operation finds it open
    statements = [0]
    if count:

        def counted(*_: Any) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", counted)
    profiler = cProfile.Profile() if profile else None
    legs = Legs(statements)
    if profiler:
        profiler.enable()
    found = op(lambda: UnitOfWork(engine), legs, now)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(str(profile))
    engine.dispose()
    seconds = {k: v for k, v in legs.seconds.items() if k != "-"}
    counts = {k: v for k, v in legs.counts.items() if k != "-"}
    return {"seconds": seconds, **({"statements": counts} if count else {}), "found": found}


def cli_board(url: str, home: Path) -> dict[str, Any]:
    """`xbr board` as a person runs it: a new process, its imports, the query, the table. The
    console script's two lines, run in this checkout (the venv's `xbr` may be another's)."""
    xbr = [sys.executable, "-c", "import sys; from deploy.cli import main; sys.exit(main())"]
    env = house().child_env(url, home) | {"COLUMNS": os.environ["COLUMNS"]}
    started = time.perf_counter()
    done = subprocess.run([*xbr, "board"], env=env, cwd=REPO, capture_output=True, timeout=900)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"xbr board failed: {done.stderr.decode()[-2000:]}")
    return {"seconds": round(seconds, 4), "stdout_bytes": len(done.stdout)}


# --- the run ---------------------------------------------------------------------------------


def prepare(copies: Copies, scales: dict[str, Sizes], now: datetime, seed: int) -> dict[str, Any]:
    """A template database per scale; the machine's description (read from the first)."""
    catalog = shipped_catalog()
    built: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for label, sizes in scales.items():
        log(f"building {label}: {sizes}")
        url = copies.empty(label)
        built[label] = {"sizes": asdict(sizes), **build(url, sizes, catalog, now, seed)}
        log(f"built {label} in {built[label]['build_s']} s: {built[label]['rows']}")
        info = info or house().machine(url)
        copies.seal(label)
    return {"machine": info, "databases": built}


def cpu_check() -> float:
    """Seconds for a fixed pure-Python loop (best of 3): this VM's speed drifts, and runs made
    at different times compare only alongside it."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def run_all(args: argparse.Namespace, copies: Copies, home: Path) -> dict[str, Any]:
    """Templates, then per repetition each operation of each scale on its own fresh copy
    (scales alternating), then one counted (and profiled) run of each."""
    sizes = QUICK if args.quick else FULL
    scales = {"full": sizes, "small": sizes.smaller(args.factor)}
    now = datetime.now(UTC).replace(microsecond=0)
    speed_before = cpu_check()
    prepared = prepare(copies, scales, now, args.seed)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in scales}
    for rep in range(1, args.reps + 1):
        for label in scales:
            record: dict[str, Any] = {"loadavg_1m": os.getloadavg()[0]}
            for name, op in OPERATIONS.items():
                with copies.fresh(label) as url:
                    record[name] = on_copy(url, op, now)
                    if name == "board" and args.cli:
                        record["cli_board"] = cli_board(url, home)
            runs[label].append(record)
            log(f"{label} run {rep}/{args.reps}: " + ", ".join(
                f"{k} {v:.3f}" for k, v in flat_seconds(record).items()))  # fmt: skip
    inspected: dict[str, Any] = {}
    for label in scales:
        inspected[label] = {}
        for name, op in OPERATIONS.items():
            prof = home / f"{label}-{name}.prof" if args.profile else None
            with copies.fresh(label) as url:
                inspected[label][name] = on_copy(url, op, now, count=True, profile=prof)
            if prof:
                inspected[label][name]["profile"] = house().profile_summary(prof, top=20)
    prepared["machine"]["loadavg_at_end"] = list(os.getloadavg())
    prepared["machine"]["cpu_check_s"] = {"before": speed_before, "after": cpu_check()}
    return {**prepared, "now": now.isoformat(), "runs": runs, "inspected": inspected}


def flat_seconds(record: dict[str, Any]) -> dict[str, float]:
    """leg -> seconds of one run, with the sweeper's legs summed as `sweeper`."""
    seconds: dict[str, float] = {}
    for name in OPERATIONS:
        seconds |= record[name]["seconds"]
    seconds["sweeper"] = round(sum(record["sweeper"]["seconds"].values()), 4)
    if "cli_board" in record:
        seconds["cli_board"] = record["cli_board"]["seconds"]
    return seconds


TARGETS = {
    "calendar": "calendar pass",
    "sweeper": "sweeper tick (database work)",
    "board": "board read (states.read.board.board)",
    "cli_board": "`xbr board` (new process)",
}


def results(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per scale, the summary of every leg; the ratio of the medians full/small; the verdict."""
    summary = house().summary
    per: dict[str, dict[str, Any]] = {}
    for label, records in runs.items():
        legs = [flat_seconds(r) for r in records]
        per[label] = {leg: summary([s[leg] for s in legs]) for leg in legs[0]}
    full, small = per["full"], per.get("small", {})
    ratios = {leg: round(full[leg]["median"] / small[leg]["median"], 2)
              for leg in full if leg in small and small[leg]["median"]}  # fmt: skip
    verdict = {
        key: {"what": what, "median_s": full[key]["median"], "max_s": full[key]["max"],
              "met": full[key]["median"] < TARGET_SECONDS,
              "every_run_met": full[key]["max"] < TARGET_SECONDS}
        for key, what in TARGETS.items() if key in full
    }  # fmt: skip
    met = all(v["met"] for v in verdict.values())
    return {"seconds": per, "ratio_full_over_small": ratios, "target_s": TARGET_SECONDS,
            "targets": verdict, "meets_target": met}  # fmt: skip


def print_tables(report: dict[str, Any]) -> None:
    """Medians per scale, the ratio, the verdict, as Rich tables."""
    from rich.console import Console
    from rich.table import Table

    res = report["results"]
    sizes = {k: v["sizes"] for k, v in report["databases"].items()}
    title = (
        f"{report['machine']['database']}: seconds, median of {report['config']['reps']} "
        f"(full {sizes['full']['clients']:,} clients, small {sizes['small']['clients']:,})"
    )
    table = Table(title=title)
    for column in ("leg", "full", "p95", "small", "full/small", "statements full/small"):
        table.add_column(column, justify="right")
    inspected = report["inspected"]
    for leg, full in res["seconds"]["full"].items():
        small = res["seconds"]["small"].get(leg, {})
        counts = [_statements(inspected[label], leg) for label in ("full", "small")]
        table.add_row(leg, f"{full['median']:.3f}", f"{full['p95']:.3f}",
                      f"{small.get('median', float('nan')):.3f}",
                      f"{res['ratio_full_over_small'].get(leg, float('nan')):.2f}",
                      "/".join(counts))  # fmt: skip
    verdict = Table(title=f"against the target (< {res['target_s']:g} s, full scale)")
    for column in ("", "median", "max", "met"):
        verdict.add_column(column, justify="right")
    for row in res["targets"].values():
        verdict.add_row(row["what"], f"{row['median_s']:.3f}", f"{row['max_s']:.3f}",
                        "yes" if row["met"] else "[red]NO[/]")  # fmt: skip
    console = Console()
    console.print(table, verdict)
    console.print(f"written to {report['out']}")


def _statements(inspected: dict[str, Any], leg: str) -> str:
    for run in inspected.values():
        if leg in run.get("statements", {}):
            return str(run["statements"][leg])
    if leg == "sweeper":
        return str(sum(inspected["sweeper"]["statements"].values()))
    return "-"


METHOD = {
    "installation": "clients (quarterly; qbr 70%, xbr-sop 30%; 11 time zones) with one closed "
    "review each (history), 10% between reviews (next_review_on ahead), the rest with a review "
    "holding their slot (WIP-limited phases half full, the others in needed/scheduled); a "
    "second type (trs) for clients with a history and ad-hoc reviews up to the open count; "
    "every review with its template's tasks (done before its phase, open and due in 6+ days "
    "from it on) and an audit trail; the staff of tests/conftest.py",
    "due": "`due` clients the calendar must act on (half new, without a review; half whose "
    "last review met 60 days ago), `due` scheduled reviews whose wake_at came (staging has 2 "
    "of its 4 places free, so 2 wake and the rest wait in its queue), `due` reviews in needed "
    "with a task due yesterday, `due` open reviews that moved since the sweeper last saw their "
    "run (the others were seen within the day); nothing else is due, no phase is older than "
    "its age warning",
    "timing": "perf_counter around each call, in this process, on a fresh copy of the "
    "template database per operation (SQLite: a file copy; PostgreSQL: CREATE DATABASE "
    "TEMPLATE), with a new engine whose connection is opened before timing",
    "calendar": "states.calendar.recurrence.calendar_pass(uow, catalog, now); calendar_idle: a "
    "second pass right after, which finds nothing due",
    "sweeper": "the states/ functions of tasks/sweeping.py's tasks: wake_due (+ review_view of "
    "the woken; the rest wait in staging's queue), pull_queue, "
    "open_review_runs + runs_seen, plan_reminders(uow, now), "
    "list_reviews(uow, 'staging'); not timed: Prefect (resume, read_states, create runs), "
    "stage() of the reviews in staging (files), deliver_notices (channels)",
    "board": "states.read.board.board(uow, now); board_render: deploy.render.board(columns) into "
    "Rich's capture; cli_board: `xbr board` in a new process, output to a pipe (COLUMNS=160)",
    "statements": "SQL statements per leg, counted in a separate untimed run",
}


def assemble(args: argparse.Namespace, started_at: datetime, measured: dict[str, Any],
             out: Path) -> dict[str, Any]:  # fmt: skip
    """The JSON of a benchmark run."""
    return {
        "benchmark": "calendar",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": measured["machine"],
        "code": house().code_info(None),
        "now": measured["now"],
        "databases": measured["databases"],
        "config": {
            "reps": args.reps,
            "seed": args.seed,
            "factor": args.factor,
            "quick": args.quick,
            "cli": args.cli,
            **METHOD,
        },
        "results": results(measured["runs"]),
        "runs": measured["runs"],
        "inspected": measured["inspected"],
        "out": str(out),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, help="measured runs of each (default 5, --quick 2)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const=PG_ADMIN_URL,
        help=f"run on fresh databases in this server (default {PG_ADMIN_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 clients, 10 due: a smoke test")
    parser.add_argument("--factor", type=int, default=10, help="the small scale: clients / N")
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="skip `xbr board`")
    parser.add_argument("--profile", action="store_true", help="profile the untimed runs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help="default bench/results/calendar-<time>-<db>.json")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary folder")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    args.reps = args.reps or (2 if args.quick else 5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import calendar as standard

    assert hasattr(standard, "monthrange"), "the standard calendar module is shadowed"
    started_at = datetime.now(UTC)
    house().byte_compile()
    home = Path(tempfile.mkdtemp(prefix="xbr-bench-calendar-"))
    copies = Copies(args.postgres, home)
    log(f"throw-away folder {home}; {args.reps} runs")
    try:
        measured = run_all(args, copies, home)
    finally:
        copies.close()
        if args.keep_home:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    kind = measured["machine"]["database"]
    stamp = f"{started_at:%Y%m%dT%H%MZ}{'-quick' if args.quick else ''}"
    out = args.out or args.results_dir / f"calendar-{stamp}-{kind}.json"
    report = assemble(args, started_at, measured, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_tables(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
