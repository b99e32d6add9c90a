"""Web app: My work and the review page beside 10,000 open reviews, decisions sent from the
review page, and how soon a decision's emails arrive, over real HTTP.

    .venv/bin/python -m bench.web_app [--json FILE] [--databases postgresql,sqlite] \\
        [--requests 200] [--rounds 5] [--emails 20] [--no-prefect] [--quick]

Per database: a seeded generator bulk-inserts 1,000 clients with 10,000 open reviews over the
phases (bench/calendar.py's rows; the templates' WIP limits scaled to that size), one support
engineer holding 200 open tasks (30 overdue), and, through the services, a review in staging
with its evidence and assessment (nist-csf-2 and hipaa-security, bench/assessment.py's
evidence) and one in prep. `xbr web` serves it (--workers processes, 2 as shipped, and its
notifier), uvicorn over real HTTP, with a real SMTP server (deploy/mailbox.py):

  pages      signed-in GETs of My work (`/`) and of the two review pages, interleaved, after a
             warm-up: p50 and p95. Target: p95 < 150 ms.
  decisions  20 people at once, each approving (GET the page, POST `decision=approve`) the
             `needed` gate of a review they are accountable for, its required task closed
             before; the POST's answer (303) timed, over several rounds. Target: p95 < 300 ms.
  emails     one decision at a time: from sending the POST until the next phase's people (the
             notices of its tasks and its gate) have their email in the mailbox; also until
             everyone the decision told has theirs. Target: p50 < 1 s.

Then, unless --no-prefect, the anchors in the same run on a throw-away `xbr up` stack (SQLite,
as bench/decision_latency.py runs it, the mailbox as its SMTP server, reviews started
suspended at their first gate): decision -> email from the web app, from the command line's
path (`decide` and the run's resume, the notifier of `xbr up` sending), and Prefect's
own resume round trip (bench/bare_flow.py, resumed until paused at its next key), interleaved.
Last, the parts of the review page, My work and a decision with its notices are called in
this process on the same database (median CPU milliseconds of each: where the time goes).
JSON goes to bench/results/web-app-<time>.json (or --json) and a table is printed. See
README.md, Benchmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# run as a script, bench/calendar.py would stand in for the standard `calendar` module
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.databases import PG_ADMIN_URL, Copies  # noqa: E402
from bench.decision_latency import (  # noqa: E402
    BenchError,
    log,
    machine_info,
    percentile,
    summary,
    versions,
)

TARGETS = {"page_p95_s": 0.150, "decision_p95_s": 0.300, "email_p50_s": 1.0}
WIP_SCALE = 1000  # the board's WIP limits (2 to 10 reviews) for an installation of 10,000
# share of the open reviews in each phase (the WIP-limited ones well below their scaled limits)
PHASES = {"needed": 0.22, "scheduling": 0.12, "scheduled": 0.25, "staging": 0.08, "prep": 0.06,
          "delivery": 0.04, "follow_up": 0.12, "qa_review": 0.11}  # fmt: skip
TYPED = ("qbr", "xbr-sop", "trs", "btr", "bsrr", "monthly-checkin")  # one open of each type
AD_HOC = "ad-hoc"  # any number open
QUARTERLY = ("qbr", "xbr-sop")  # the deciders' reviews
SUPPORT = "sam@msp.example"  # the support engineer with 200 open tasks
# The team of an MSP with 1,000 clients: name (prefix), email stem, how many, their roles
# everywhere; the first seven are the staff of tests/conftest.py.
TEAM = [
    ("Vera Vcio", "vera", 1, ["vcio", "ceo"]),
    ("Andy Account", "andy", 1, ["account_manager", "sales_assistant"]),
    ("Olga Ops", "olga", 1, ["ops_manager", "team_lead", "exec_assistant"]),
    ("Ivan Intern", "ivan", 1, ["intern"]),
    ("Sam Support", "sam", 1, ["support_engineer", "security_engineer"]),
    ("Tina Tech", "tina", 1, ["support_engineer", "intern"]),
    ("Carl Client", "carl", 1, ["client_contact"]),
    ("Account Manager", "am", 11, ["account_manager"]),
    ("Ops Manager", "om", 4, ["ops_manager"]),
    ("Team Lead", "tl", 4, ["team_lead"]),
    ("Exec Assistant", "ea", 3, ["exec_assistant"]),
    ("Support Engineer", "se", 28, ["support_engineer"]),
    ("Security Engineer", "sec", 3, ["security_engineer"]),
    ("Virtual CIO", "vc", 4, ["vcio"]),
]
DECIDERS = 20  # people deciding at once; each the accountable person of some clients only
SPARE = 6  # reviews decided in this process for the CPU breakdown


def team() -> list[tuple[str, str, list[str]]]:
    """(name, email, roles) of everyone on TEAM."""
    people = []
    for name, stem, count, roles in TEAM:
        domain = "client.example" if roles == ["client_contact"] else "msp.example"
        for n in range(1, count + 1):
            label = f"{name} {n:02d}" if count > 1 else name
            email = f"{stem}{n:02d}@{domain}" if count > 1 else f"{stem}@{domain}"
            people.append((label, email, roles))
    people += [(f"Decider {n:02d}", f"decider{n:02d}@msp.example", []) for n in range(DECIDERS)]
    return people


@dataclass(frozen=True)
class Sizes:
    clients: int
    reviews: int  # open ones
    tasks: int  # the support engineer's open tasks
    overdue: int  # of them
    devices: int  # the assessed reviews' evidence (bench/staging.py's sizes)


FULL = Sizes(clients=1000, reviews=10_000, tasks=200, overdue=30, devices=2000)
QUICK = Sizes(clients=100, reviews=1000, tasks=200, overdue=30, devices=200)


# --- the installation ------------------------------------------------------------------------


def scaled_catalog() -> dict[str, Any]:
    """The shipped templates with their WIP limits scaled to an installation of this size (a
    WIP limit counts the reviews of every client in the phase)."""
    from states.templates.catalog import load_catalog

    catalog = {}
    for name, template in load_catalog().items():
        phases = {
            phase: spec.model_copy(update={"wip_limit": spec.wip_limit * WIP_SCALE})
            if spec.wip_limit
            else spec
            for phase, spec in template.phases.items()
        }
        catalog[name] = template.model_copy(update={"phases": phases})
    return catalog


def bulk_insert(engine: Any, sizes: Sizes, catalog: dict[str, Any], now: datetime,
                seed: int) -> dict[str, Any]:  # fmt: skip
    """The clients and their open reviews, with tasks and audit trails (bench/calendar.py's
    Generator), in one transaction; the trail in time order, as it is appended. Reviews have
    no flow run. The support engineer gets no task here (see give_tasks)."""
    from sqlalchemy import insert, select

    from bench.calendar import ZONES, Generator
    from states.directory import client_slug
    from states.store.models import Base, Person, PersonRole

    staff: dict[str, list[int]] = {}
    with engine.connect() as conn:
        query = select(PersonRole.role, Person.id, Person.email).join(Person).order_by(Person.id)
        for role, person, email in conn.execute(query):
            if email != SUPPORT:
                staff.setdefault(role, []).append(person)
    gen = Generator(catalog, staff, now, seed)
    for name in (*TYPED, AD_HOC):
        gen.templates[name] = catalog[name]
        gen.snapshots[name] = catalog[name].model_dump(mode="json")
    rng = gen.rng
    per_client = sizes.reviews // sizes.clients
    phases, weights = list(PHASES), list(PHASES.values())
    for n in range(1, sizes.clients + 1):
        template = rng.choice(("qbr", "xbr-sop"))
        name = f"Bench Client {n:04d}"
        client = {"id": n, "name": name, "slug": client_slug(name),
                  "cadence": "quarterly", "template": template, "timezone": rng.choice(ZONES),
                  "active": True, "created_at": now - timedelta(days=400),
                  "next_review_on": None}  # fmt: skip
        gen.rows["clients"].append(client)
        kinds = [*TYPED, *[AD_HOC] * (per_client - len(TYPED))]
        for kind in kinds:
            gen.review(client, kind, rng.choices(phases, weights)[0])
    for row in gen.rows["reviews"]:
        row["flow_run_id"] = None  # the decisions' runs are not what is measured here
    gen.rows["audit_log"].sort(key=lambda row: row["at"])
    counts = {table: len(rows) for table, rows in gen.rows.items()}
    with engine.begin() as conn:
        for table, rows in gen.rows.items():
            for start in range(0, len(rows), 5000):
                conn.execute(insert(Base.metadata.tables[table]), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("clients", "reviews"):  # the ids were given: move their sequences on
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")  # fmt: skip
    return counts


def give_tasks(engine: Any, sizes: Sizes, now: datetime, seed: int) -> dict[str, int]:
    """The support engineer's open tasks: `sizes.tasks` support and security tasks of open
    reviews (of their current phase or later), `sizes.overdue` of them due in the past."""
    from sqlalchemy import select, update

    from states.store.models import Person, Review, ReviewTask

    rng = random.Random(f"{seed}:tasks")
    with engine.begin() as conn:
        sam = conn.scalar(select(Person.id).where(Person.email == SUPPORT))
        candidates = conn.execute(
            select(ReviewTask.id, ReviewTask.phase, Review.status)
            .join(Review, Review.id == ReviewTask.review_id)
            .where(ReviewTask.status == "open",
                   ReviewTask.role.in_(("support_engineer", "security_engineer")))
        ).all()  # fmt: skip
        chosen = rng.sample(candidates, sizes.tasks)
        current = sum(1 for _, phase, status in chosen if phase == status)
        for n, (task_id, _, _) in enumerate(chosen):
            due = now - timedelta(days=rng.uniform(0.5, 9)) if n < sizes.overdue else (
                now + timedelta(days=rng.uniform(1, 40))
            )  # fmt: skip
            conn.execute(update(ReviewTask).where(ReviewTask.id == task_id)
                         .values(assignee_id=sam, due_at=due))  # fmt: skip
    return {"tasks": sizes.tasks, "overdue": sizes.overdue, "of_the_current_phase": current}


def opened(uow: Callable[[], Any], client: str, catalog: dict[str, Any], until: str,
           now: datetime) -> int:  # fmt: skip
    """A new review of `client` started at `now` and walked to `until` (tests/team.py); its
    meeting six weeks from today."""
    from states.calendar.opening import start_review
    from tests.team import walk

    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), client, catalog, None, meeting, now=now)
    walk(uow, review_id, until)
    return review_id


def assessed_review(uow: Callable[[], Any], home: Path, catalog: dict[str, Any],
                    evidence: dict[str, Path], name: str, until: str,
                    seed: int) -> int:  # fmt: skip
    """A `bsrr` client assessing nist-csf-2 and hipaa-security, as bench/assessment.py prepares
    it (its first review staged on last quarter's files and answered 91 days ago), whose new
    review is staged on this quarter's files, its carried answers confirmed, and walked on to
    `until` (staging: left there)."""
    from bench import assessment, staging
    from states.directory import add_client, set_standards
    from states.settings import Settings
    from states.staging.intake import evidence_folder, import_files, stage
    from states.staging.record import assess
    from states.standards.answering import confirm_carried
    from states.standards.pinning import shipped_standards
    from tests.team import walk

    add_client(uow(), name, "semiannual", assessment.TEMPLATE, "America/New_York", catalog)
    set_standards(uow(), catalog, shipped_standards(), name, add=[assessment.ADDED])
    then = datetime.now(UTC) - timedelta(days=91)
    first = opened(uow, name, catalog, "staging", then)
    import_files(uow(), first, sorted(evidence["previous"].iterdir()), assessment.ACTOR)
    assess(uow(), first, then)
    assessment.answer_all(uow, first, seed, then)
    staging.cancel(uow, first, "next review")
    review_id = opened(uow, name, catalog, "staging", datetime.now(UTC))
    settings = Settings(home=home)
    shutil.copytree(evidence["current"], evidence_folder(settings, name))
    stage(uow(), settings, review_id)
    confirm_carried(uow(), review_id, assessment.ACTOR)
    if until != "staging":
        walk(uow, review_id, until)
    return review_id


def deciders_reviews(uow: Callable[[], Any], count: int) -> list[dict[str, Any]]:
    """`count` quarterly reviews (qbr, xbr-sop) at their `needed` gate, each client's
    accountable role (ops_manager) given to one of the deciders in turn, the gate's required
    tasks closed by their assignees: each can be approved at once by its decider alone."""
    from sqlalchemy import select

    from states.directory import assign_role
    from states.lifecycle.decisions import complete_task
    from states.store.models import Client, Person, Review, ReviewTask

    with uow() as work:
        rows = work.session.execute(
            select(Review.id, Client.name).join(Client, Client.id == Review.client_id)
            .where(Review.template.in_(QUARTERLY), Review.status == "needed").order_by(Review.id)
            .limit(count)
        ).all()  # fmt: skip
    if len(rows) < count:
        raise BenchError(f"{count} reviews at their needed gate wanted, {len(rows)} found")
    planned = []
    for n, (review_id, client) in enumerate(rows):
        decider = f"decider{n % DECIDERS:02d}@msp.example"
        assign_role(uow(), client, "ops_manager", decider)
        with uow() as work:
            tasks = work.session.execute(
                select(ReviewTask.key, Person.email)
                .join(Person, ReviewTask.assignee_id == Person.id)
                .where(ReviewTask.review_id == review_id, ReviewTask.phase == "needed",
                       ReviewTask.required, ReviewTask.status == "open")
            ).all()  # fmt: skip
        for key, assignee in tasks:
            complete_task(uow(), review_id, key, assignee, hours=0.1)
        planned.append({"review_id": review_id, "client": client, "decider": decider})
    return planned


def sent_before(uow: Callable[[], Any]) -> int:
    """The notices the set-up planned (closing the deciders' tasks asks for their approval)
    count as sent, as the app's notifier would have sent them long before: a decision's
    delivery (of its review's due notices) then sends only what the decision planned."""
    from sqlalchemy import update

    from states.notices.planning import NOTICE
    from states.store.models import OutboxMessage, utcnow

    with uow() as work:
        done = work.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind.startswith(NOTICE), OutboxMessage.status == "pending")
            .values(status="sent", sent_at=utcnow())
        )
        work.commit()
        return int(getattr(done, "rowcount", 0))


def build(url: str, home: Path, sizes: Sizes, seed: int) -> dict[str, Any]:
    """The installation, from an empty database; what was made."""
    from bench import staging
    from states import directory
    from states.store import db

    started = time.perf_counter()
    now = datetime.now(UTC)
    engine = db.make_engine(url)
    db.upgrade(engine)

    def uow() -> Any:
        return db.UnitOfWork(engine)

    people = team()
    for name, email, roles in people:
        directory.add_person(uow(), name, email, roles)
    catalog = scaled_catalog()
    log(f"inserting {sizes.clients} clients with {sizes.reviews} open reviews")
    rows = bulk_insert(engine, sizes, catalog, now, seed)
    tasks = give_tasks(engine, sizes, now, seed)
    log("staging two assessed reviews through the services")
    client_size = staging.Sizes(sizes.devices, sizes.devices // 4, sizes.devices * 5 // 2)
    evidence = staging.generate(home / "evidence", client_size, seed)
    reviews = {
        "staging": assessed_review(uow, home, catalog, evidence["folders"], "Bench Assessed 01",
                                   "staging", seed),
        "prep": assessed_review(uow, home, catalog, evidence["folders"], "Bench Assessed 02",
                                "prep", seed),
    }  # fmt: skip
    staging.settle_database(engine)
    engine.dispose()
    return {"rows": rows, "people": len(people), "support_engineer": tasks,
            "reviews": reviews, "evidence_rows": evidence["rows"]["current"],
            "build_s": round(time.perf_counter() - started, 1)}  # fmt: skip


# --- the web app, in a process of its own ----------------------------------------------------


def clean_env() -> dict[str, str]:
    """This environment without any PREFECT_ or XBR_ variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "XBR_"))}


@contextmanager
def web_app(url: str, home: Path, smtp_url: str, workers: int) -> Iterator[str]:
    """`xbr web` on `url` (its worker processes and its notifier), as an MSP runs it;
    yields its base URL once it answers."""
    import httpx

    from deploy.stack import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**clean_env(), "XBR_HOME": str(home), "XBR_DATABASE_URL": url,
           "XBR_SMTP_URL": smtp_url, "XBR_PUBLIC_URL": base}  # fmt: skip
    command = [sys.executable, "-m", "deploy.cli", "web", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    with (home / "web.log").open("ab") as errors:
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=errors, stderr=errors)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"xbr web did not start; see {home / 'web.log'}")
            time.sleep(0.2)
        yield base
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class TimedMailbox:
    """deploy/mailbox.py's SMTP server, keeping when each message arrived (perf_counter)."""

    def __init__(self) -> None:
        from deploy.mailbox import Mailbox

        self.box = Mailbox()
        self.lock = threading.Lock()
        self.received: list[tuple[float, Any]] = []
        self.url = self.box.url

    def __enter__(self) -> TimedMailbox:
        from email import message_from_bytes, policy

        from aiosmtpd.controller import Controller

        outer = self

        class Keeper:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                arrived = time.perf_counter()
                message = message_from_bytes(envelope.content, policy=policy.default)
                with outer.lock:
                    outer.received.append((arrived, message))
                return "250 Message accepted for delivery"

        self.controller = Controller(Keeper(), hostname=self.box.host, port=self.box.port)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def since(self, index: int) -> list[tuple[float, Any]]:
        with self.lock:
            return list(self.received[index:])

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class Browser:
    """One signed-in person's browser: their session cookie, one keep-alive connection."""

    def __init__(self, base: str, uow: Callable[[], Any], home: Path, email: str) -> None:
        import httpx

        from deploy.webapp.auth import COOKIE, pack
        from notifications.links import load_key
        from states.access.sessions import open_session

        session_id, secret = open_session(uow(), email, "email link", datetime.now(UTC), 12)
        cookie = pack(load_key(home, None), "session", session_id, secret)
        self.email, self.base = email, base
        self.http = httpx.Client(base_url=base, cookies={COOKIE: cookie}, timeout=120,
                                 headers={"Origin": base})  # fmt: skip

    def get(self, path: str, expect: str = "") -> float:
        """Seconds to the whole answer of a GET (200, holding `expect`)."""
        started = time.perf_counter()
        response = self.http.get(path)
        seconds = time.perf_counter() - started
        if response.status_code != 200 or expect not in response.text:
            raise BenchError(f"GET {path} as {self.email}: {response.status_code} "
                             f"{response.text[:300]!r}")  # fmt: skip
        return seconds

    def form(self, review_id: int) -> dict[str, str]:
        """The review page's hidden fields (csrf, phase, round), as a browser shows the form."""
        import html

        response = self.http.get(f"/reviews/{review_id}")
        fields = dict(re.findall(r'<input type="hidden" name="(csrf|phase|round)" value="([^"]*)"',
                                 response.text))  # fmt: skip
        if response.status_code != 200 or len(fields) != 3:
            raise BenchError(f"review page {review_id} as {self.email}: {response.status_code}, "
                             f"fields {sorted(fields)}")  # fmt: skip
        return {k: html.unescape(v) for k, v in fields.items()}

    def approve(self, review_id: int, fields: dict[str, str]) -> tuple[float, float]:
        """POST the approval; (perf_counter when sent, seconds to the 303)."""
        started = time.perf_counter()
        form = {**fields, "decision": "approve", "comment": ""}
        response = self.http.post(f"/reviews/{review_id}", data=form)
        seconds = time.perf_counter() - started
        where = response.headers.get("location", "")
        if response.status_code != 303 or "approve" not in where.lower():
            raise BenchError(f"approving review {review_id} as {self.email}: "
                             f"{response.status_code} {where} {response.text[:300]!r}")  # fmt: skip
        return started, seconds

    def close(self) -> None:
        self.http.close()


# --- what is measured ------------------------------------------------------------------------


def quiet_collector() -> None:
    """Keep this process's garbage collector out of the timings: it built the installation
    and holds much of it, and a full collection here would pause every waiting client
    thread (the server's pauses are what is measured)."""
    gc.collect()
    gc.freeze()


def progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), transient=True)  # fmt: skip


def my_work_ready() -> bool:
    """Whether `/` shows My work yet (deploy/webapp/home.py reads states/read/my_work.py)."""
    return "my_work" in (REPO / "deploy" / "webapp" / "home.py").read_text()


def pages(base: str, uow: Callable[[], Any], home: Path, reviews: dict[str, int], requests: int,
          warmup: int) -> dict[str, Any]:  # fmt: skip
    """GETs of My work and of the review pages, round robin, after `warmup` rounds."""
    olga, vera = "olga@msp.example", "vera@msp.example"
    browsers = {email: Browser(base, uow, home, email) for email in (SUPPORT, olga, vera)}
    quiet_collector()
    targets = {  # what, (who, path, a text the page must hold)
        "my_work_support_engineer": (SUPPORT, "/", ""),
        "my_work_ops_manager": (olga, "/", ""),
        "review_staging": (olga, f"/reviews/{reviews['staging']}", "Bench Assessed 01"),
        "review_prep": (vera, f"/reviews/{reviews['prep']}", "Bench Assessed 02"),
    }
    samples: dict[str, list[float]] = {name: [] for name in targets}
    load: list[float] = []
    with progress() as bar:
        task = bar.add_task("pages", total=(warmup + requests) * len(targets))
        for n in range(warmup + requests):
            for name, (who, path, expect) in targets.items():
                if path == "/":
                    last_look(uow, who)
                    load.append(os.getloadavg()[0])
                seconds = browsers[who].get(path, expect)
                if n >= warmup:
                    samples[name].append(seconds)
                bar.advance(task)
    for browser in browsers.values():
        browser.close()
    return {
        "my_work_shown": my_work_ready(),
        "warmup_rounds": warmup,
        "loadavg_1m": summary(load),
        "stats": {name: summary(values) for name, values in samples.items()},
        "samples": {name: [round(v, 5) for v in values] for name, values in samples.items()},
    }


def last_look(uow: Callable[[], Any], email: str, hours: float = 16) -> None:
    """The person last looked at My work `hours` ago (yesterday evening): each GET of `/` is
    the morning's first, with a night's changes to show, not a reload of a moment ago."""
    from sqlalchemy import update

    from states.store.models import Person

    with uow() as work:
        seen = datetime.now(UTC) - timedelta(hours=hours)
        work.session.execute(update(Person).where(Person.email == email).values(seen_at=seen))
        work.commit()


def outbox_mark(uow: Callable[[], Any]) -> int:
    from sqlalchemy import func, select

    from states.store.models import OutboxMessage

    with uow() as work:
        return int(work.session.scalar(select(func.max(OutboxMessage.id))) or 0)


def settled(uow: Callable[[], Any], review_ids: list[int], timeout: float = 600) -> float:
    """Wait until the notices of these reviews that are due now are delivered (the answer's
    background work is over); the seconds waited."""
    from sqlalchemy import func, or_, select

    from states.notices.planning import NOTICE
    from states.store.models import OutboxMessage, utcnow

    started = time.perf_counter()
    while True:
        with uow() as work:
            left = work.session.scalar(
                select(func.count()).where(
                    OutboxMessage.review_id.in_(review_ids),
                    OutboxMessage.kind.startswith(NOTICE),
                    or_(OutboxMessage.status == "sending",
                        (OutboxMessage.status == "pending")
                        & or_(OutboxMessage.next_attempt_at.is_(None),
                              OutboxMessage.next_attempt_at <= utcnow())),
                )
            )  # fmt: skip
        waited = time.perf_counter() - started
        if not left:
            return waited
        if waited > timeout:
            raise BenchError(f"{left} notices of reviews {review_ids} not delivered in {timeout} s")
        time.sleep(0.05)


def check_moved(uow: Callable[[], Any], review_ids: list[int], phase: str) -> None:
    from sqlalchemy import select

    from states.store.models import Review

    with uow() as work:
        rows = work.session.execute(
            select(Review.id, Review.status, Review.queued_for).where(Review.id.in_(review_ids))
        ).all()
    wrong = [tuple(row) for row in rows if row[1] != phase or row[2] is not None]
    if wrong or len(rows) != len(review_ids):
        raise BenchError(f"reviews not moved to {phase}: {wrong}")


def decisions(base: str, uow: Callable[[], Any], home: Path, planned: list[dict[str, Any]],
              rounds: int) -> dict[str, Any]:  # fmt: skip
    """Rounds of DECIDERS people approving at once, each their own review: every thread GETs
    the page, waits for the others, then POSTs; the POST's answer is timed."""
    browsers = {d: Browser(base, uow, home, d) for d in sorted({p["decider"] for p in planned})}
    quiet_collector()
    samples: list[float] = []
    per_round = []
    with progress() as bar:
        task = bar.add_task("decisions", total=rounds * DECIDERS)
        for r in range(rounds):
            batch = planned[r * DECIDERS : (r + 1) * DECIDERS]
            forms = [browsers[p["decider"]].form(p["review_id"]) for p in batch]
            barrier = threading.Barrier(len(batch))
            answers: list[tuple[float, float]] = [(0.0, 0.0)] * len(batch)
            failures: list[BaseException] = []

            def one(i: int, batch: list[dict[str, Any]] = batch,
                    forms: list[dict[str, str]] = forms, barrier: threading.Barrier = barrier,
                    answers: list[tuple[float, float]] = answers,
                    failures: list[BaseException] = failures) -> None:  # fmt: skip
                barrier.wait()
                try:
                    answers[i] = browsers[batch[i]["decider"]].approve(batch[i]["review_id"],
                                                                       forms[i])  # fmt: skip
                except BaseException as exc:  # reported below, once all are back
                    failures.append(exc)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(batch))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                raise failures[0]
            ids = [p["review_id"] for p in batch]
            waited = settled(uow, ids)
            check_moved(uow, ids, "scheduling")
            seconds = [answer for _, answer in answers]
            samples += seconds
            # from the first POST sent to the last 303: one process answers them all
            spread = max(sent + answer for sent, answer in answers) - min(s for s, _ in answers)
            per_round.append({"answers": summary(seconds), "first_sent_to_last_answer_s":
                              round(spread, 3), "background_s": round(waited, 3),
                              "loadavg_1m": os.getloadavg()[0]})  # fmt: skip
            bar.advance(task, len(batch))
    for browser in browsers.values():
        browser.close()
    return {"at_once": DECIDERS, "rounds": rounds, "stats": summary(samples),
            "per_round": per_round, "samples": [round(v, 5) for v in samples]}  # fmt: skip


NEXT_PHASE = ("notice.tasks", "notice.approval")  # the next phase's work and its gate


def planned(uow: Callable[[], Any], review_id: int, after: int) -> dict[str, list[str]]:
    """The people the notices planned for the review since outbox id `after` are for:
    `next_phase` (its tasks and its gate), `all` (also those consulted and informed)."""
    from sqlalchemy import select

    from states.notices.planning import NOTICE
    from states.store.models import OutboxMessage

    with uow() as work:
        rows = work.session.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient).where(
                OutboxMessage.id > after, OutboxMessage.review_id == review_id,
                OutboxMessage.kind.startswith(NOTICE),
            )
        ).all()  # fmt: skip
    people = [(kind, r) for kind, r in rows if r and "@" in r and not r.startswith("role:")]
    return {"next_phase": sorted({r for kind, r in people if kind in NEXT_PHASE}),
            "all": sorted({r for _, r in people})}  # fmt: skip


def arrivals(mailbox: TimedMailbox, mark: int, recipients: list[str],
             timeout: float = 60) -> dict[str, float]:  # fmt: skip
    """recipient -> perf_counter when their first email since `mark` arrived, once all have
    one."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, float] = {}
        for arrived, message in mailbox.since(mark):
            to = str(message.get("To", "")).lower()
            for recipient in recipients:
                if recipient in to and recipient not in got:
                    got[recipient] = arrived
        if len(got) == len(recipients):
            return got
        if time.monotonic() > deadline:
            raise BenchError(
                f"no email within {timeout} s for {sorted(set(recipients) - set(got))}"
            )
        time.sleep(0.005)


def email_record(uow: Callable[[], Any], mailbox: TimedMailbox, review_id: int, mark: int,
                 after: int, sent: float, answer: float) -> dict[str, Any]:  # fmt: skip
    """One decision's timings from `sent`: its answer, the next phase's people's emails (the
    last of them), everyone's, and the first."""
    from sqlalchemy import select

    from states.store.models import Review

    people = planned(uow, review_id, after)
    with uow() as work:
        template = work.session.scalar(select(Review.template).where(Review.id == review_id))
    if not people["next_phase"]:
        raise BenchError(f"the decision on review {review_id} told the next phase nobody")
    got = arrivals(mailbox, mark, people["all"])
    return {"review_id": review_id, "template": template, "answer_s": answer,
            "next_phase_s": max(got[r] for r in people["next_phase"]) - sent,
            "all_s": max(got.values()) - sent, "first_s": min(got.values()) - sent,
            "next_phase_people": len(people["next_phase"]), "people": len(people["all"]),
            "loadavg_1m": os.getloadavg()[0]}  # fmt: skip


def emails_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    def of(key: str) -> dict[str, Any]:
        return summary([float(r[key]) for r in records])

    templates = sorted({r["template"] for r in records})
    by_template = {
        name: {key: summary([float(r[key]) for r in records if r["template"] == name])
               for key in ("next_phase_s", "all_s", "people")}
        for name in templates
    }  # fmt: skip
    return {"decisions": len(records), "next_phase": of("next_phase_s"), "all": of("all_s"),
            "first": of("first_s"), "answer": of("answer_s"),
            "next_phase_people": of("next_phase_people"), "people": of("people"),
            "by_template": by_template, "samples": records}  # fmt: skip


def emails_from_web(base: str, uow: Callable[[], Any], home: Path, mailbox: TimedMailbox,
                    todo: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """One decision at a time from the review page: from sending the POST until the people
    it notified have their email."""
    browsers: dict[str, Browser] = {}
    records = []
    with progress() as bar:
        task = bar.add_task("decision -> email (web)", total=len(todo))
        for p in todo:
            browser = browsers.get(p["decider"]) or Browser(base, uow, home, p["decider"])
            browsers[p["decider"]] = browser
            records.append(web_decision(browser, uow, mailbox, p["review_id"]))
            settled(uow, [p["review_id"]])
            bar.advance(task)
    for browser in browsers.values():
        browser.close()
    return emails_summary(records)


def web_decision(browser: Browser, uow: Callable[[], Any], mailbox: TimedMailbox,
                 review_id: int) -> dict[str, Any]:  # fmt: skip
    """GET the review page, POST the approval; its timings to the emails."""
    fields = browser.form(review_id)
    mark, after = mailbox.count(), outbox_mark(uow)
    sent, answer = browser.approve(review_id, fields)
    return email_record(uow, mailbox, review_id, mark, after, sent, answer)


# --- where the time goes, in this process (CPU seconds: what the load of others inflates least)


def cpu_check() -> float:
    """Seconds of bench/assessment.py's fixed pure-Python loop: how fast the machine is now."""
    from bench.assessment import cpu_check as check

    return check()


def cpu_ms(call: Callable[[], Any], repeats: int = 7) -> float:
    """Median CPU milliseconds of `call` in this process, after one untimed call."""
    call()
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return round(percentile(times, 0.5) * 1000, 1)


def page_parts(site: Any, uow: Callable[[], Any], person: Any,
               review_id: int) -> dict[str, Callable[[], Any]]:  # fmt: skip
    """The review page and the parts deploy/webapp/review_page.py builds it from, each a call
    as the page makes it (`gate_evidence_own_report_data`: as it was made before the page
    handed its report data on)."""
    from deploy import assessment_page, plan_editing
    from deploy.webapp import review_page
    from reports.documents import agenda_html
    from states.read import views
    from states.read.gate_evidence import gate_evidence
    from states.read.review_page import read_review_page
    from states.read.scorecards import report_data

    email, currency = person.email, site.settings.currency
    data = report_data(uow(), review_id, currency=currency)
    context = review_page.page_context(site, person, review_id)

    def page(given: dict[str, Any]) -> Any:
        return site.page("app/review.html.j2", person, **given, done="")

    parts: dict[str, Callable[[], Any]] = {
        "whole_page": lambda: page(review_page.page_context(site, person, review_id)),
        "page_read": lambda: read_review_page(
            site.uow(person).reading(), review_id, email, currency
        ),  # fmt: skip
        "review_view": lambda: views.review_view(uow(), review_id),
        "report_data": lambda: report_data(uow(), review_id, currency=currency),
        "gate_evidence": lambda: gate_evidence(uow(), review_id, email, currency, data),
        "gate_evidence_own_report_data": lambda: gate_evidence(uow(), review_id, email, currency),
        "assessment": lambda: assessment_page.assessment(uow(), review_id, email),
        "plan_editing": lambda: plan_editing.section(uow(), review_id, email),
        "render": lambda: page(context),
    }
    if context["agenda"] is not None:
        parts["agenda_html"] = lambda: agenda_html(data)
    return parts


def costs(url: str, home: Path, reviews: dict[str, int], spare: list[dict[str, Any]],
          smtp_url: str) -> dict[str, Any]:  # fmt: skip
    """The review pages' parts, My work and a decision with its notices, called as the web
    app calls them, on the same database: median CPU milliseconds of each."""
    import ssl

    from deploy.web import _Handlers
    from deploy.webapp.auth import Auth
    from deploy.webapp.site import Site
    from notifications.outbox import deliver_due
    from states.access.sessions import open_session, signed_in
    from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
    from states.read.my_work import my_work
    from states.settings import Settings
    from states.store import db

    settings = Settings(home=home, database_url=url, smtp_url=smtp_url)
    engine = db.make_engine(settings.url)

    def uow() -> Any:
        return db.UnitOfWork(engine)

    handlers = _Handlers(settings, uow)
    site = Site(settings, uow, Auth(handlers.key, uow, settings.page_url, 12), handlers.pages,
                handlers)  # fmt: skip
    found: dict[str, Any] = {}
    for phase, who in (("staging", "olga@msp.example"), ("prep", "vera@msp.example")):
        person = signed_in(uow(), *open_session(uow(), who, "email link", datetime.now(UTC), 1),
                           datetime.now(UTC))  # fmt: skip
        assert person is not None
        parts = page_parts(site, uow, person, reviews[phase])
        found[f"review_{phase}"] = {name: cpu_ms(call) for name, call in parts.items()}
    now = datetime.now(UTC)

    def look(person_id: int) -> Any:  # the morning's first look, as pages() makes it
        return my_work(uow(), person_id, now, now - timedelta(hours=16))

    for label, who in (("support_engineer", SUPPORT), ("ops_manager", "olga@msp.example")):
        person = signed_in(uow(), *open_session(uow(), who, "email link", now, 1), now)
        assert person is not None
        found[f"my_work_{label}"] = cpu_ms(partial(look, person.person_id))
    decided, delivered, notices = [], [], []
    for p in spare:
        started = time.process_time()
        decide(uow(), DecisionRequest(p["review_id"], DecisionKind.APPROVE, p["decider"],
                                      phase="needed"))  # fmt: skip
        middle = time.process_time()
        sent = deliver_due(uow(), settings, p["review_id"])
        decided.append(middle - started)
        delivered.append(time.process_time() - middle)
        notices.append(len(sent))
    found["decide"] = round(percentile(decided[1:], 0.5) * 1000, 1)
    found["deliver_due"] = round(percentile(delivered[1:], 0.5) * 1000, 1)
    found["notices_per_decision"] = percentile([float(n) for n in notices], 0.5)
    found["ssl_create_default_context"] = cpu_ms(ssl.create_default_context, 20)
    engine.dispose()
    return found


def measure_database(
    kind: str, args: argparse.Namespace, sizes: Sizes, work: Path
) -> dict[str, Any]:
    """Build the installation on `kind`, then pages, decisions and emails over HTTP."""
    from bench import staging
    from states.store import db

    home = work / kind
    home.mkdir()
    copies = Copies(PG_ADMIN_URL if kind == "postgresql" else None, home)
    try:
        url = copies.empty("app")
        result: dict[str, Any] = {
            "database": kind,
            "installation": build(url, home, sizes, args.seed),
        }
        engine = db.make_engine(url)

        def uow() -> Any:
            return db.UnitOfWork(engine)

        log(f"{kind}: {result['installation']['build_s']} s to build; deciders' reviews next")
        result["cpu_check_s"] = [cpu_check()]
        planned = deciders_reviews(uow, args.rounds * DECIDERS + args.emails + SPARE)
        result["installation"]["notices_of_the_set_up"] = sent_before(uow)
        staging.settle_database(engine)
        with TimedMailbox() as mailbox, web_app(url, home, mailbox.url, args.workers) as base:
            reviews = result["installation"]["reviews"]
            result["pages"] = pages(base, uow, home, reviews, args.requests, args.warmup)
            for name, stats in result["pages"]["stats"].items():
                log(f"{kind} {name}: p50 {stats['p50']:.3f} s, p95 {stats['p95']:.3f} s")
            result["decisions"] = decisions(base, uow, home, planned, args.rounds)
            stats = result["decisions"]["stats"]
            log(f"{kind} decisions: p50 {stats['p50']:.3f} s, p95 {stats['p95']:.3f} s")
            todo = planned[args.rounds * DECIDERS : args.rounds * DECIDERS + args.emails]
            result["emails"] = emails_from_web(base, uow, home, mailbox, todo)
            stats = result["emails"]["next_phase"]
            log(f"{kind} decision -> email: p50 {stats['p50']:.3f} s p95 {stats['p95']:.3f} s")
            log(f"{kind}: where the time goes (CPU, in this process)")
            result["cpu_ms"] = costs(url, home, reviews, planned[-SPARE:], mailbox.url)
            result["cpu_check_s"].append(cpu_check())
        engine.dispose()
        return result
    finally:
        copies.close()


# --- the anchors: an `xbr up` stack with real flow runs, in a child process ------------------


class StackReviews:
    """Reviews of the stack's database, started as `xbr review start` starts one, suspended at
    their `needed` gate (XBR_START_SUSPENDED), their required task closed."""

    def __init__(self, catalog: dict[str, Any]) -> None:
        from states.settings import Settings
        from states.store import db

        self.settings = Settings()
        self.engine = db.make_engine(self.settings.url)
        self.catalog = catalog

    def uow(self) -> Any:
        from states.store.db import UnitOfWork

        return UnitOfWork(self.engine)

    def add(self, count: int) -> list[dict[str, Any]]:
        from states import directory
        from tasks.flow_runs import attach_new_run

        for name, email, roles in team():
            directory.add_person(self.uow(), name, email, roles)
        made = []
        for n in range(count):
            client, decider = f"Stack Client {n:03d}", f"decider{n % DECIDERS:02d}@msp.example"
            directory.add_client(self.uow(), client, "quarterly", "qbr", "America/New_York",
                                 self.catalog)  # fmt: skip
            directory.assign_role(self.uow(), client, "ops_manager", decider)
            review_id = self.start(client)
            made.append({"review_id": review_id, "client": client, "decider": decider,
                         "run_id": attach_new_run(self.uow, review_id)})  # fmt: skip
        return made

    def start(self, client: str) -> int:
        from states.calendar.opening import start_review
        from states.lifecycle.decisions import complete_task
        from states.read.views import review_view

        review_id = start_review(self.uow(), client, self.catalog)
        for task in review_view(self.uow(), review_id).tasks:
            if task.phase == "needed" and task.status == "open" and task.assignee:
                complete_task(self.uow(), review_id, task.key, task.assignee, hours=0.1)
        return review_id


def cli_decision(
    reviews: StackReviews, mailbox: TimedMailbox, review: dict[str, Any]
) -> dict[str, Any]:
    """`xbr approve` in this process: `decide`, then `follow_up` wakes the run; the notifier
    of `xbr up` sends the notices. Timed from the call to the emails."""
    from flows.wake import follow_up
    from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide

    uow, review_id = reviews.uow, review["review_id"]
    mark, after = mailbox.count(), outbox_mark(uow)
    sent = time.perf_counter()
    result = decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, review["decider"],
                                           phase="needed"))  # fmt: skip
    note = follow_up(uow(), reviews.settings, review_id, result.round,
                     {"decision": "approve", "comment": ""})  # fmt: skip
    answer = time.perf_counter() - sent
    if note:
        raise BenchError(f"review {review_id}: {note.strip()}")
    return email_record(uow, mailbox, review_id, mark, after, sent, answer)


def anchors(args: argparse.Namespace) -> dict[str, Any]:
    """The child: decision -> email from the web app and from the command line, and Prefect's
    resume round trip, interleaved on one throw-away `xbr up` stack."""
    from bench.decision_latency import (
        Api,
        BareWalker,
        Processes,
        scrub_environment,
        start_bare_runner,
        start_stack,
        wait_for_deployment,
    )  # fmt: skip
    from deploy.stack import free_port

    home = Path(args.home)
    (home / "logs").mkdir(parents=True)
    processes = Processes(home / "logs")
    with TimedMailbox() as mailbox:
        scrub_environment(home, 1440)  # no sweeper run in the middle of the measurements
        os.environ.update({"XBR_SMTP_URL": mailbox.url, "XBR_START_SUSPENDED": "true",
                           "XBR_WEB_PORT": str(free_port()),
                           "XBR_PREFECT_PORT": str(free_port())})  # fmt: skip
        try:
            api_url = start_stack(processes, home)
            from bootstrap.prefect_env import use_prefect
            from states.settings import Settings

            settings = Settings()
            use_prefect(settings)
            api = Api(api_url)
            wait_for_deployment(api, processes, "business-review/business-review")
            start_bare_runner(processes, api_url)
            wait_for_deployment(api, processes, "bare-gates/bare-gates")
            reviews = StackReviews(scaled_catalog())
            log(f"stack up: starting {2 * args.stack_decisions} reviews suspended at their gate")
            made = reviews.add(2 * args.stack_decisions)
            log("waiting for the notifier to send what the set-up planned")
            settled(reviews.uow, [r["review_id"] for r in made], timeout=900)
            bare = BareWalker(api, processes, 120, args.bare + 1)
            return interleave(args, settings, reviews, mailbox, bare, made)
        finally:
            processes.stop_all()


def interleave(args: argparse.Namespace, settings: Any, reviews: StackReviews,
               mailbox: TimedMailbox, bare: Any,
               made: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """web, cli, bare in turn (each order as often as the others), each measurement once no
    flow-run process is alive."""
    kinds = ["web", "cli", "bare"]
    todo: dict[str, list[Any]] = {"web": made[0::2], "cli": made[1::2],
                                  "bare": list(range(args.bare))}  # fmt: skip
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    browsers: dict[str, Browser] = {}
    with progress() as bar:
        task = bar.add_task("anchors", total=sum(len(v) for v in todo.values()))
        turn = 0
        while any(len(samples[k]) < len(todo[k]) for k in kinds):
            order = kinds[turn % 3 :] + kinds[: turn % 3]
            for kind in order if turn % 2 == 0 else order[::-1]:
                n = len(samples[kind])
                if n >= len(todo[kind]):
                    continue
                idle = bare.wait_idle()
                if kind == "bare":
                    record = bare.step()
                elif kind == "cli":
                    record = cli_decision(reviews, mailbox, todo[kind][n])
                else:
                    p = todo[kind][n]
                    browser = browsers.get(p["decider"]) or Browser(
                        settings.page_url, reviews.uow, settings.home, p["decider"]
                    )
                    browsers[p["decider"]] = browser
                    record = web_decision(browser, reviews.uow, mailbox, p["review_id"])
                record["idle_wait_s"] = idle
                samples[kind].append(record)
                bar.advance(task)
            turn += 1
    for browser in browsers.values():
        browser.close()
    bare_s = [r["latency_s"] for r in samples["bare"] if not r["final"]]
    from deploy.notifier import EVERY_SECONDS

    return {"database": "sqlite (xbr up)", "notifier_every_s": EVERY_SECONDS,
            "web": emails_summary(samples["web"]), "cli": emails_summary(samples["cli"]),
            "bare_resume": {**summary(bare_s), "samples": samples["bare"]}}  # fmt: skip


def run_anchors(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """The anchors in a child process (prefect reads its API URL once, when imported)."""
    out = work / "anchors.json"
    command = [sys.executable, "-m", "bench.web_app", "--anchors-child", "--home",
               str(work / "stack"), "--json", str(out),
               "--stack-decisions", str(args.stack_decisions),
               "--bare", str(args.bare)]  # fmt: skip
    log("anchors: a throw-away xbr up stack")
    if subprocess.run(command, cwd=REPO, env=clean_env()).returncode:
        log("the anchors' run failed; see its output above")
        return None
    return dict(json.loads(out.read_text()))


# --- the parent ------------------------------------------------------------------------------


def verdicts(report: dict[str, Any]) -> None:
    """Each database's results against the targets, and the ratios against the anchors."""
    anchor = report.get("anchors")
    for result in report["results"]:
        pages, emails = result["pages"]["stats"], result["emails"]["next_phase"]
        worst = max(v["p95"] for v in pages.values())
        result["verdict"] = {
            "pages_p95_s": worst, "pages_met": worst < TARGETS["page_p95_s"],
            "decisions_p95_s": result["decisions"]["stats"]["p95"],
            "decisions_met": result["decisions"]["stats"]["p95"] < TARGETS["decision_p95_s"],
            "email_p50_s": emails["p50"], "email_met": emails["p50"] < TARGETS["email_p50_s"],
        }  # fmt: skip
        if anchor:
            result["verdict"]["email_p50_over_cli_p50"] = round(
                emails["p50"] / anchor["cli"]["next_phase"]["p50"], 3
            )
            result["verdict"]["email_p50_over_bare_resume_p50"] = round(
                emails["p50"] / anchor["bare_resume"]["p50"], 3)  # fmt: skip
    if anchor:
        web, cli = anchor["web"]["next_phase"]["p50"], anchor["cli"]["next_phase"]["p50"]
        bare = anchor["bare_resume"]["p50"]
        anchor["ratios"] = {"web_over_cli_p50": round(web / cli, 3),
                            "web_over_bare_resume_p50": round(web / bare, 3),
                            "cli_over_bare_resume_p50": round(cli / bare, 3)}  # fmt: skip


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def ms(stats: dict[str, Any], key: str) -> str:
        return f"{stats[key] * 1000:.0f} ms" if stats.get("n") else "-"

    def sec(stats: dict[str, Any], key: str) -> str:
        return f"{stats[key]:.2f} s" if stats.get("n") else "-"

    anchor = report.get("anchors")
    table = Table(title="web app: p50 and p95 over real HTTP", title_justify="left")
    for column in ("what", "n", "p50", "p95", "target", "vs anchor (p50)"):
        table.add_column(column, justify="left" if column in ("what", "target") else "right")
    for r in report["results"]:
        db, v = r["database"], r["verdict"]
        for name, stats in r["pages"]["stats"].items():
            met = "met" if stats["p95"] < TARGETS["page_p95_s"] else "[red]missed[/red]"
            table.add_row(f"{db}: GET {name}", str(stats["n"]), ms(stats, "p50"),
                          ms(stats, "p95"), f"p95 < 150 ms: {met}", "")  # fmt: skip
        stats = r["decisions"]["stats"]
        met = "met" if v["decisions_met"] else "[red]missed[/red]"
        table.add_row(f"{db}: POST approve, {DECIDERS} at once", str(stats["n"]),
                      ms(stats, "p50"), ms(stats, "p95"), f"p95 < 300 ms: {met}", "")  # fmt: skip
        for key, label in (("next_phase", "next phase's people"), ("all", "everyone told"),
                           ("first", "first email")):  # fmt: skip
            stats = r["emails"][key]
            target = ""
            if key == "next_phase":
                met = "met" if v["email_met"] else "[red]missed[/red]"
                target = f"p50 < 1 s: {met}"
            versus = ""
            if anchor and key == "next_phase":
                versus = (f"CLI {v['email_p50_over_cli_p50']:.2f}, "
                          f"Prefect resume {v['email_p50_over_bare_resume_p50']:.2f}")  # fmt: skip
            table.add_row(f"{db}: decision -> email, {label}", str(stats["n"]),
                          sec(stats, "p50"), sec(stats, "p95"), target, versus)  # fmt: skip
            if key == "next_phase":
                for name, part in r["emails"]["by_template"].items():
                    stats, told = part["next_phase_s"], part["people"]["p50"]
                    table.add_row(f"  of which {name} reviews ({told:.0f} people told)",
                                  str(stats["n"]), sec(stats, "p50"), sec(stats, "p95"), "",
                                  "")  # fmt: skip
    if anchor:
        for path, label in (("web", "web app"), ("cli", "command line (the notifier of xbr up)")):
            stats = anchor[path]["next_phase"]
            versus = f"web/CLI {anchor['ratios']['web_over_cli_p50']:.2f}" if path == "web" else ""
            table.add_row(f"xbr up (SQLite): decision -> email, {label}", str(stats["n"]),
                          sec(stats, "p50"), sec(stats, "p95"), "same-run anchor",
                          versus)  # fmt: skip
        stats = anchor["bare_resume"]
        table.add_row("xbr up: Prefect resume -> paused (bare flow)", str(stats["n"]),
                      sec(stats, "p50"), sec(stats, "p95"), "same-run anchor", "")  # fmt: skip
    Console(width=170).print(table)
    for r in report["results"]:
        print(f"{r['database']}: CPU ms in one process: " + json.dumps(r["cpu_ms"]))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="default bench/results/web-app-<time>.json")
    parser.add_argument("--databases", default="postgresql", help="postgresql,sqlite")
    parser.add_argument("--requests", type=int, default=200, help="GETs of each page, timed")
    parser.add_argument("--warmup", type=int, default=20, help="GETs of each page before")
    parser.add_argument("--rounds", type=int, default=5, help=f"rounds of {DECIDERS} decisions")
    parser.add_argument("--emails", type=int, default=20, help="decisions timed to their email")
    parser.add_argument("--stack-decisions", type=int, default=20,
                        help="decisions of each path on the xbr up stack")  # fmt: skip
    parser.add_argument("--bare", type=int, default=12, help="bare Prefect resumes")
    parser.add_argument("--no-prefect", action="store_true", help="no xbr up stack, no anchors")
    parser.add_argument("--quick", action="store_true", help="a tenth of the installation")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="xbr web's processes")
    parser.add_argument("--anchors-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.anchors_child:
        result = anchors(args)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        return 0
    from bench.decision_latency import byte_compile
    from bench.staging import code_info, source_digest

    byte_compile()
    sizes = QUICK if args.quick else FULL
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="xbr-bench-web-"))
    report: dict[str, Any] = {
        "benchmark": "web_app", "started_at": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.web_app", *sys.argv[1:]]),
        "machine": machine_info(), "versions": versions(), "targets": TARGETS,
        "config": {k: v for k, v in vars(args).items()
                   if k not in ("anchors_child", "home")},
        "sizes": vars(sizes), "code": code_info(None), "results": [],
    }  # fmt: skip
    try:
        for kind in args.databases.split(","):
            report["results"].append(measure_database(kind, args, sizes, work))
        if not args.no_prefect:
            report["anchors"] = run_anchors(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdicts(report)
    report["code"]["digest_at_end"] = source_digest()
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"]["loadavg_at_end"] = list(os.getloadavg())
    out = args.json or REPO / "bench" / "results" / f"web-app-{started:%Y%m%dT%H%MZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(report)
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
