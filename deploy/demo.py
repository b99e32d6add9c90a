"""`make demo`: a demo MSP runs two consecutive quarterly reviews of a client on the real stack.

A throw-away XBR_HOME, a local mailbox (SMTP), `xbr up` (a private Prefect server, the runner
and the approval page), people with roles, two clients. The first review is walked from
`needed` to `closed` through the real resume path: one refused decision on the way, the first
gate approved from the link in the approval email. At staging, the flow reads the client's
exports from its evidence folder, raises findings and follow-up tickets and scores the client:
its baseline. The next quarter's exports are better, and the second review's report shows the
red going out. Nothing is left running unless --keep.

`python -m deploy.demo --exports q1 FOLDER` only writes the first quarter's sample exports,
dated today, for a walk of your own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.table import Table

import bootstrap
from deploy.cli import run
from deploy.mailbox import Mailbox
from deploy.render import console, say
from deploy.stack import free_port, require_free
from notifications import links
from states import directory
from states.errors import XbrError
from states.read import views
from states.settings import Settings

STAFF = [
    ("Olga Ops", "olga@msp.example", ["ops_manager", "team_lead", "exec_assistant"]),
    ("Andy Account", "andy@msp.example", ["account_manager", "sales_assistant"]),
    ("Vera Vcio", "vera@msp.example", ["vcio", "ceo"]),
    ("Sam Support", "sam@msp.example", ["support_engineer", "security_engineer"]),
    ("Ivan Intern", "ivan@msp.example", ["intern"]),
    ("Carl Contact", "carl@acme-dental.example", ["client_contact"]),
]
CLIENT = "Acme Dental"
CONTACT = "carl@acme-dental.example"
EVIDENCE = Path(__file__).parent / "demo_evidence"
# the day each quarter's sample exports were taken; the demo moves them to today
EXPORTED_ON = {"q1": date(2026, 8, 10), "q2": date(2026, 11, 10)}
ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def step(text: str) -> None:
    console.print(f"\n[bold cyan]== {text}[/]")


def xbr(*argv: str) -> None:
    """Run and show one command line, as a person would type it."""
    console.print(f"[dim]$ xbr {' '.join(argv)}[/]")
    code = run(list(argv))
    if code != 0:
        raise SystemExit(f"demo stopped: `xbr {' '.join(argv)}` exited with {code}")


def review(review_id: int) -> views.ReviewView:
    return views.review_view(bootstrap.root().uow(), review_id)


def _approver(review_id: int) -> str:
    gate = review(review_id).gate
    if gate is None or not gate.eligible_approvers:
        raise SystemExit(f"demo stopped: nobody may decide review {review_id}'s gate")
    return gate.eligible_approvers[0]


def wait_at_gate(review_id: int) -> None:
    """Until the review's run is suspended at the review's current gate (no process held)."""
    from tasks.flow_runs import read_states

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        data = review(review_id)
        expected = f"review-{review_id}-{data.status.replace('_', '-')}-r{data.round}-"
        state = read_states([data.flow_run_id]).get(data.flow_run_id) if data.flow_run_id else None
        key = state.state_details.pause_key if state and state.is_paused() else None
        if key and key.startswith(expected + f"a{data.refusals}-"):
            return
        time.sleep(0.3)
    raise SystemExit(f"demo stopped: review {review_id} did not reach its gate in 90 s")


def do_phase_work(review_id: int) -> None:
    """The simulated team: each assignee closes their open tasks of the current phase."""
    data = review(review_id)
    for task in data.tasks:
        if task.phase == data.status and task.status == "open" and task.assignee:
            xbr("task", "done", str(review_id), task.key, "--as", task.assignee,
                "--hours", "0.25")  # fmt: skip


def first_plan(review_id: int) -> bool:
    """Whether the client still has initiatives to decide (its first review's plan)."""
    from states.read.plans import roadmap

    rows = roadmap(bootstrap.root().uow(), CLIENT).initiatives
    return any(row.status == "proposed" for row in rows)


def answer_assessment(review_id: int) -> None:
    """Sam answers the policy and procedure assessment: the evidence answered some items
    already; the first time he answers the rest, the next time he confirms what was carried
    and says what changed. Olga, who approves staging, reviews his answers."""
    from states.standards.answering import answer_items
    from states.standards.answers import review_questionnaire
    from states.standards.schema import Answer

    rid, sam = str(review_id), "sam@msp.example"
    items = review_questionnaire(bootstrap.root().uow(), review_id).items
    if not any(s.source == "carried" for s in items):
        xbr("assess", rid, "POL-01", "--answer", "not_met", "--note",
            "no written security policy yet; the owner will sign one", "--as", sam)  # fmt: skip
        xbr("assess", rid, "OPS-03", "--answer", "partial", "--note",
            "restores tested once this year, not recorded", "--as", sam)  # fmt: skip
        # the rest on the approval page, answered as "met" here
        items = review_questionnaire(bootstrap.root().uow(), review_id).items
        rest = {s.key: (Answer.MET, "") for s in items if s.open_required}
        answer_items(bootstrap.root().uow(), review_id, rest, sam)
    else:
        xbr("assess", rid, "--confirm-carried", "--as", sam)
        xbr("assess", rid, "POL-01", "--answer", "met", "--note",
            "security policy signed by the owner", "--as", sam)  # fmt: skip


def refused_form_decision(review_id: int) -> None:
    """What the Prefect UI's Resume form sends from someone without the approver's decision
    code."""
    from prefect.flow_runs import resume_flow_run

    run_id = review(review_id).flow_run_id
    console.print("[dim]Resume form in the Prefect UI: approve, with a guessed decision code[/]")
    form = {"decision": "approve", "decision_code": "SAM00-GUESS"}
    for _ in range(60):
        try:
            resume_flow_run(UUID(run_id), run_input=form)
            break
        except RuntimeError as exc:  # right after a suspend the form's schema may be unsaved
            if "schema not found" not in str(exc):
                raise
            time.sleep(0.5)
    deadline = time.monotonic() + 90
    while review(review_id).refusals == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    say(f"refused and suspended again: {review(review_id).last_refusal}")


def page_links(message: Any) -> list[str]:
    """The approval-page links in an email's HTML part."""
    part = message.get_body(preferencelist=("html",))
    html = str(part.get_content()) if part is not None else ""
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+/r/[^"]+)"', html)]


def approve_from_email(mailbox: Mailbox, approver: str) -> None:
    """What the approver does: open the link in the approval email and approve on the page."""
    email = mailbox.wait_for(
        lambda m: (
            approver in str(m["To"])
            and "approv" in str(m["Subject"]).lower()
            and CLIENT in str(m["Subject"])
        ),
        60,
    )
    console.print(f"[dim]{approver} got: {email['Subject']}; opens its link and approves[/]")
    said = submit_page(
        page_links(email)[0],
        lambda page: [("decision", "approve"), ("comment", "approved from the email")],
    )
    console.print(f"approval page: {said}")


def submit_page(link: str, fill: Callable[[str], list[tuple[str, str]]]) -> str:
    """Open a page's link, send its form filled by `fill(page)`; returns the answer's heading."""
    with urllib.request.urlopen(link, timeout=60) as response:
        page = response.read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    form = fill(page)
    if csrf is None or not form:
        raise SystemExit(f"demo stopped: the page has nothing to send: {link}")
    data = urllib.parse.urlencode([("csrf", csrf.group(1)), *form]).encode()
    with urllib.request.urlopen(urllib.request.Request(link, data=data), timeout=60) as response:
        done = re.search(r"<h1>(.*?)</h1>", response.read().decode())
        return done.group(1) if done else str(response.status)


def _decisions(page: str) -> list[tuple[str, str]]:
    """Approve the first initiative on the plan page, decline the second, defer the third."""
    ids = list(dict.fromkeys(re.findall(r'name="move:(\d+)"', page)))
    quarters = re.findall(r'<option value="(FY\d{4}-Q\d)">', page)
    form = []
    for initiative, move in zip(ids, ("approve", "decline", "defer"), strict=False):
        form += [(f"move:{initiative}", move), (f"comment:{initiative}", f"{move} in the QBR")]
        if move == "defer" and quarters:
            form.append((f"defer:{initiative}", quarters[min(3, len(quarters) - 1)]))
    return form


def _review_of(link: str) -> int:
    """The review a page link of the demo's own installation is for."""
    settings = bootstrap.root().settings
    key = links.load_key(settings.home, settings.secret_key or None)
    return links.verify(key, link.rsplit("/r/", 1)[1], datetime.now(UTC)).review_id


def client_decides_plan(mailbox: Mailbox, review_id: int) -> None:
    """What the client's contact does at delivery: open the plan link from the email and
    approve the first proposed initiative, decline the second and defer the third."""
    email = mailbox.wait_for(
        lambda m: (
            CONTACT in str(m["To"])
            and "your plan" in str(m["Subject"]).lower()
            and _review_of(page_links(m)[0]) == review_id  # this review's, not the last one's
        ),
        90,
    )
    console.print(f"[dim]{CONTACT} got: {email['Subject']}; opens its link and decides[/]")
    said = submit_page(page_links(email)[0], _decisions)
    console.print(f"plan page: {said}")
    xbr("roadmap", CLIENT)


def drop_exports(quarter: str) -> None:
    """What the MSP's tools leave in the client's evidence folder, dated as if taken today."""
    folder = bootstrap.root().settings.evidence_root / directory.client_slug(CLIENT)
    shutil.rmtree(folder, ignore_errors=True)
    copy_exports(quarter, folder)
    console.print(f"{quarter} exports in {folder}: {', '.join(p.name for p in folder.iterdir())}")


def copy_exports(quarter: str, folder: Path) -> None:
    """The demo's exports of `quarter` into `folder`, every date moved as if taken today (xbr
    marks exports whose dates are all long past as stale)."""
    folder.mkdir(parents=True, exist_ok=True)
    shift = date.today() - EXPORTED_ON[quarter]
    for export in sorted((EVIDENCE / quarter).iterdir()):
        text = ISO_DAY.sub(
            lambda m: (date.fromisoformat(m.group(1)) + shift).isoformat(), export.read_text()
        )
        (folder / export.name).write_text(text, encoding="utf-8")


def meeting_takes_place(review_id: int) -> None:
    """The demo skips the weeks until the client meeting: it moves the meeting to an hour ago,
    since delivery is approved only once the meeting has started."""
    from states.store.models import Review

    with bootstrap.root().uow() as work:
        row = work.session.get(Review, review_id)
        if row is not None and row.meeting_at is not None:
            row.meeting_at = datetime.now(UTC) - timedelta(hours=1)
            work.commit()
    step("the client meeting takes place (the demo moves it to an hour ago)")


def run_review(review_id: int, mailbox: Mailbox, first: bool) -> None:
    """Walk a review to closed, with the client's feedback at delivery, then its report."""
    while (data := review(review_id)).gate is not None:
        wait_at_gate(review_id)
        gate = data.gate
        step(f"{gate.phase}: the team closes its tasks, {gate.accountable_role} decides")
        if gate.phase == "staging":
            xbr("findings", str(review_id))
            answer_assessment(review_id)
        if gate.phase == "prep":
            xbr("roadmap", CLIENT)  # what staging proposed: priced, by fiscal quarter
            xbr("budget", CLIENT, "--years", "1")
        if gate.phase == "delivery" and first_plan(review_id):
            client_decides_plan(mailbox, review_id)
        if gate.phase == "delivery":
            meeting_takes_place(review_id)
            xbr("feedback", str(review_id), "--as", "vera@msp.example", "--better",
                "send the agenda a week ahead", "--next-meeting", "in three months",
                "--referrals", "Bright Smiles Orthodontics", "--review-request", "yes")  # fmt: skip
        if first:
            refused_form_decision(review_id)
            wait_at_gate(review_id)
        do_phase_work(review_id)
        approver = _approver(review_id)
        if first:
            approve_from_email(mailbox, approver)
            first = False
        elif gate.phase == "scheduling" and not data.meeting_at:
            meeting = (datetime.now(UTC) + timedelta(weeks=19)).strftime("%Y-%m-%dT10:00")
            xbr("approve", str(review_id), "--as", approver, "--phase", "scheduling",
                "--meeting", meeting)  # fmt: skip
        else:
            xbr("approve", str(review_id), "--as", approver, "--phase", gate.phase)
    if data.status != "closed":
        raise SystemExit(f"demo stopped: review {review_id} ended {data.status}, not closed")
    xbr("scorecard", str(review_id))
    xbr("report", str(review_id))


def next_review(review_id: int) -> int:
    """The review of the same client and type that the closed review's run opened."""
    done = review(review_id)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = views.list_reviews(bootstrap.root().uow(), "needed")
        found = [r.id for r in rows if (r.client, r.type) == (done.client, done.type)]
        if found and review(found[0]).flow_run_id:
            return found[0]
        time.sleep(0.5)
    raise SystemExit(f"demo stopped: review {review_id} did not open the next one in 90 s")


def work_the_tickets() -> None:
    """The support team fixes what the follow-up tickets asked for, and closes them."""
    from states.read.scorecards import client_tickets

    for ticket in client_tickets(bootstrap.root().uow()):
        if ticket["status"] == "open":
            xbr("ticket", "close", str(ticket["id"]), "--as", "sam@msp.example")


def show_inbox(mailbox: Mailbox) -> None:
    """Every message each person received, with its approval-page link."""
    table = Table(title=f"The mailbox: {len(mailbox.messages)} emails")
    for column in ("to", "subject", "link"):
        table.add_column(column, overflow="fold")
    for message in sorted(mailbox.messages, key=lambda m: str(m["To"])):
        found = page_links(message)
        attached = [p.get_filename() for p in message.iter_attachments()]
        subject = str(message["Subject"]) + (
            f" [+{', '.join(map(str, attached))}]" if attached else ""
        )
        # the whole link is clickable where the terminal allows; the text shows its start
        link = f"[link={found[0]}]{found[0][:40]}…[/link]" if found else "-"
        table.add_row(str(message["To"]), subject, link)
    console.print(table)


def _port(wanted: int) -> int:
    try:
        require_free(wanted)
    except XbrError:
        return free_port()
    return wanted


def start_stack(home: Path) -> subprocess.Popen[bytes]:
    step(f"xbr up: a private Prefect server and the runner, under {home}")
    # the demo's server is thrown away with its home: any free port will do when 4200 is taken
    os.environ.setdefault("XBR_PREFECT_PORT", str(_port(Settings().prefect_port)))
    log = (home / "up.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "up"], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not (home / "stack.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"demo stopped: `xbr up` did not start; see {home / 'up.log'}")
        time.sleep(0.5)
    stack = json.loads((home / "stack.json").read_text())
    os.environ["PREFECT_API_URL"], os.environ["PREFECT_UI_URL"] = stack["api_url"], stack["ui_url"]
    console.print(f"Prefect UI: {stack['ui_url']}")
    return process


def write_exports(args: list[str]) -> int:
    """`python -m deploy.demo --exports q1|q2 FOLDER`: the demo's sample exports of a quarter,
    dated as if taken today, for a walk of your own (`xbr evidence import`)."""
    if len(args) != 2 or args[0] not in EXPORTED_ON:
        print(f"give the quarter ({' or '.join(EXPORTED_ON)}) and a folder, e.g. "
              "python -m deploy.demo --exports q1 exports", file=sys.stderr)  # fmt: skip
        return 2
    folder = Path(args[1])
    copy_exports(args[0], folder)
    names = sorted(p.name for p in folder.iterdir())
    print(f"{len(names)} sample exports of {args[0]}, dated today, in {folder}: {', '.join(names)}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--exports"]:
        return write_exports(argv[1:])
    keep = "--keep" in argv
    if "home" not in bootstrap.root().settings.model_fields_set:  # a throw-away XBR_HOME,
        os.environ["XBR_HOME"] = tempfile.mkdtemp(prefix="xbr-demo-")  # unless you name one
        bootstrap.reset()
    home = bootstrap.root().settings.home
    os.environ.pop("XBR_DATABASE_URL", None)
    os.environ.pop("PREFECT_API_URL", None)
    began = time.monotonic()
    step("A fresh xbr home, and a local mailbox for the notifications")
    mailbox = Mailbox().start()
    os.environ["XBR_SMTP_URL"] = mailbox.url
    os.environ.setdefault("XBR_WEB_PORT", str(free_port()))
    console.print(f"mailbox: smtp://{mailbox.host}:{mailbox.port}")
    xbr("init")
    stack = start_stack(home)
    try:
        step("The MSP's people and roles, and its client Acme Dental")
        for name, email, roles in STAFF:
            xbr("person", "add", name, "--email", email, *(a for r in roles for a in ("--role", r)))
        xbr("client", "add", CLIENT, "--cadence", "quarterly", "--template", "qbr",
            "--timezone", "America/New_York", "--country", "US", "--subdivision", "NY",
            "--no-first-review")  # fmt: skip
        xbr("client", "assign", CLIENT, "--role", "client_contact", "--email",
            "carl@acme-dental.example")  # fmt: skip
        step(f"This quarter's exports of {CLIENT}, and its QBR: one flow run, at its first gate")
        drop_exports("q1")
        meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
        xbr("review", "start", CLIENT, "--meeting", meeting)
        step("A new client: onboarding opens its first review, as the account calendar would")
        xbr("client", "add", "Globex Clinic", "--cadence", "monthly", "--template",
            "monthly-checkin", "--timezone", "Europe/Berlin", "--country", "DE",
            "--subdivision", "BE")  # fmt: skip
        xbr("calendar", "run")  # every client has its next review: nothing opens twice
        run_review(1, mailbox, first=True)
        step("Closed: the review, its checklist and its audit trail")
        xbr("review", "show", "1")
        step("What each person received (the links open the approval page while xbr is up)")
        show_inbox(mailbox)
        xbr("outbox", "list")
        step("Over the quarter the team works the follow-up tickets (the PSA is told)")
        xbr("ticket", "list", "--client", CLIENT)
        work_the_tickets()
        step(f"Next quarter: better exports, the next QBR of {CLIENT} against its baseline")
        drop_exports("q2")
        following = next_review(1)
        console.print(f"follow-up's last step opened review {following}, with its own flow run")
        run_review(following, mailbox, first=False)
        say(f"flow run: {os.environ['PREFECT_UI_URL']}/runs/flow-run/"
            f"{review(following).flow_run_id}")  # fmt: skip
        console.print(f"demo finished in {time.monotonic() - began:.0f} s")
        if keep:
            console.print(f"--keep: xbr stays up at {os.environ['PREFECT_UI_URL']}; Ctrl-C stops")
            stack.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGTERM)
            stack.wait(timeout=60)
        mailbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
