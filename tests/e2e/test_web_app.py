"""The web app in a real headless Chromium, as its people use it: the app that `xbr up` serves
beside its runner, on the real Prefect server, its emails going to a real SMTP server.

A coordinator signs in with the emailed link, starts a review from the form (it gets its flow
run, as from the command line) and finds it on the board; an engineer on a phone ticks his
staging tasks and answers the assessment; the gate's approver approves staging with the
findings on the page. Every page passes axe-core with no serious or critical violation and
scrolls nowhere sideways at a desktop's width (1400 px) or a phone's (390 px); screenshots of
each go to test-artifacts/ (web-*.png).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from deploy.mailbox import Mailbox
from notifications import links
from states import directory
from states.calendar.opening import start_review
from states.lifecycle.decisions import complete_task
from states.read.views import ReviewView, review_view
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answers import review_questionnaire
from states.templates.catalog import load_catalog
from tests.e2e.conftest import ROOT, Server, Stack, make_stack, run_stack
from tests.e2e.test_prefect_ui import (  # noqa: F401 (chromium: the fixture)
    ARTIFACTS,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    chromium,
    no_browser,
)
from tests.team import answer_assessment, staging_person, walk
from tests.web_browser import check_page, new_context, session_cookie

CLIENT = "Client qbr"
EVIDENCE = ROOT / "deploy" / "demo_evidence" / "q1"
ANDY, SAM = "andy@msp.example", "sam@msp.example"
VIA = "web app, signed in by email link"


@dataclass
class App:
    """The installation `xbr up` runs, its mailbox, and a Chromium to open its pages in."""

    stack: Stack
    mailbox: Mailbox
    browser: Any

    @property
    def url(self) -> str:
        return self.stack.page_url

    def context(self, email: str = "", phone: bool = False) -> Any:
        """A fresh browser, signed in as `email` (a stranger without one)."""
        key = links.load_key(self.stack.home, None)
        cookie = session_cookie(self.stack.uow, key, email) if email else ""
        return new_context(self.browser, self.url, cookie, phone)

    def review(self, review_id: int) -> ReviewView:
        return review_view(self.stack.uow(), review_id)


@contextmanager
def _chromium(executable: Path) -> Iterator[Any]:
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        except Error as broken:
            no_browser(f"Chromium does not start: {broken}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def app(
    chromium: Path,  # noqa: F811
    prefect_server: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """One installation with its runner and web app for the module's tests."""
    home = tmp_path_factory.mktemp("web-app") / "home"
    with Mailbox() as box:
        stack = make_stack(home, prefect_server, {"XBR_SMTP_URL": box.url})
        with contextmanager(run_stack)(stack) as running, _chromium(chromium) as browser:
            yield App(running, box, browser)


def in_staging(app: App, client: str) -> int:
    """A new client's qbr review walked to staging by its people, the client's exports
    imported and assessed (findings and tickets); held, so that no run or sweep acts behind
    the test."""
    uow, catalog = app.stack.uow, load_catalog()
    directory.add_client(uow(), client, "quarterly", "qbr", "Europe/Berlin", catalog)
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), client, catalog, None, meeting, held=True)
    walk(uow, review_id, "staging")
    import_files(uow(), review_id, sorted(EVIDENCE.iterdir()), SAM)
    assess(uow(), review_id)
    return review_id


def signin_link(mailbox: Mailbox, email: str) -> str:
    """The sign-in link in the plain-text part of the newest sign-in email to `email`."""

    def signin_mail(message: EmailMessage) -> bool:
        return bool(message["To"] == email and message["Subject"] == "Your sign-in link for xbr")

    mail = mailbox.wait_for(signin_mail, timeout=30)
    body = mail.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    found = re.search(r"http://\S+/signin/\S+", body.get_content())
    assert found, body.get_content()
    return found[0]


def test_a_coordinator_signs_in_by_email_starts_a_review_and_finds_it_on_the_board(
    app: App,
) -> None:
    from playwright.sync_api import expect

    context = app.context()
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to xbr")).to_be_visible()
    check_page(page, "signin", ARTIFACTS)
    page.get_by_label("Your work email").fill(ANDY)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_page(page, "signin-sent", ARTIFACTS)

    page.goto(signin_link(app.mailbox, ANDY))
    check_page(page, "signin-confirm", ARTIFACTS)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    expect(page.get_by_text("Andy Account").first).to_be_visible()
    check_page(page, "home", ARTIFACTS)

    page.get_by_role("navigation").get_by_role("link", name="Start a review").click()
    client = page.get_by_label("Client")
    expect(page.locator(f'datalist#clients option[value="{CLIENT}"]')).to_have_count(1)
    check_page(page, "start-client", ARTIFACTS)
    client.fill(CLIENT)
    page.get_by_role("button", name="Next: type and meeting").click()
    expect(page.get_by_text(CLIENT, exact=True)).to_be_visible()
    check_page(page, "start-type", ARTIFACTS)
    page.get_by_label("Review type").select_option("qbr")
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    page.get_by_label("Meeting").fill(meeting)
    page.get_by_role("button", name="Start the review").click()

    expect(page).to_have_url(re.compile(r"/reviews/\d+$"))
    review_id = int(page.url.rsplit("/", 1)[1])
    review = app.review(review_id)
    assert (review.client, review.type, review.status) == (CLIENT, "qbr", "needed")
    assert review.flow_run_id, "started through the same service as the CLI, with its run"
    run = app.stack.api(f"/flow_runs/{review.flow_run_id}")
    assert "client:client-qbr" in run["tags"]
    (start,) = [a for a in review.audit if a.to_state == "needed" and a.from_state is None]
    assert (start.actor, start.via) == (ANDY, VIA)
    expect(page.get_by_role("heading", name="Needed", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Its flow run in Prefect")).to_be_visible()
    check_page(page, "review-needed", ARTIFACTS)

    page.get_by_role("navigation").get_by_role("link", name="Board").click()
    card = page.locator(f'a[href="/reviews/{review_id}"]')
    expect(card).to_have_text(CLIENT)
    expect(page.locator("#needed").locator(f'a[href="/reviews/{review_id}"]')).to_be_visible()
    check_page(page, "board", ARTIFACTS)
    columns = page.locator(".board > .column")
    assert columns.count() >= 8
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    board = page.locator(".board")
    assert board.evaluate("b => b.scrollWidth <= b.clientWidth"), "the board scrolls sideways"
    last = columns.last.bounding_box()
    assert last
    assert last["x"] + last["width"] <= 1400
    spilled = "cs => cs.filter(c => c.scrollWidth > c.clientWidth).map(c => c.id)"
    assert columns.evaluate_all(spilled) == [], "a column's heading or cards spill over"
    card.click()
    expect(page).to_have_url(re.compile(rf"/reviews/{review_id}$"))
    context.close()


def test_an_engineer_on_a_phone_ticks_his_tasks_and_answers_the_assessment(app: App) -> None:
    from playwright.sync_api import expect

    review_id = in_staging(app, "Client on the road")
    mine = [t for t in app.review(review_id).tasks
            if t.phase == "staging" and t.assignee == SAM and t.status == "open"]  # fmt: skip
    assert mine
    items = [s for s in review_questionnaire(app.stack.uow(), review_id).items if s.open_required]
    assert items

    context = app.context(SAM, phone=True)
    page = context.new_page()
    page.goto(f"/reviews/{review_id}")
    expect(page.get_by_role("heading", name="Staging", exact=True)).to_be_visible()
    check_page(page, "review-staging-engineer", ARTIFACTS, phone=True)
    for task in mine:
        page.get_by_role("checkbox", name=task.title).check()
    for state in items:
        answer = page.get_by_role("group", name=f"Answer to {state.item.id}", exact=True)
        answer.get_by_role("radio", name="Met", exact=True).check()
    first = items[0].item.id
    page.get_by_label(f"Note on {first}", exact=True).fill("Seen in the policy binder")
    page.get_by_role("button", name="Save", exact=True).click()

    saved = page.get_by_role("status")
    expect(saved).to_contain_text(f"{len(mine)} task")
    expect(saved).to_contain_text(f"{len(items)} items answered")
    page.screenshot(path=str(ARTIFACTS / "web-review-saved-phone.png"), full_page=True)
    context.close()

    tasks = {t.key: t for t in app.review(review_id).tasks}
    assert {(tasks[t.key].status, tasks[t.key].completed_by) for t in mine} == {("done", SAM)}
    answered = {s.key: s for s in review_questionnaire(app.stack.uow(), review_id).items}
    answers = {(answered[s.key].answer, answered[s.key].answered_by) for s in items}
    assert answers == {("met", SAM)}
    assert answered[items[0].key].note == "Seen in the policy binder"


def test_the_gate_approver_approves_staging_with_the_findings_on_the_page(app: App) -> None:
    from playwright.sync_api import expect

    review_id = in_staging(app, "Client at the gate")
    uow = app.stack.uow
    review = app.review(review_id)
    for task in review.tasks:  # the staging people finish their part
        if task.phase == "staging" and task.status == "open":
            assert task.assignee
            complete_task(uow(), review_id, task.key, task.assignee)
    answer_assessment(uow, review_id, staging_person(list(review.tasks)))
    gate = app.review(review_id).gate
    assert gate is not None
    assert gate.phase == "staging"
    approver = gate.eligible_approvers[0]

    context = app.context(approver)
    page = context.new_page()
    page.goto(f"/reviews/{review_id}")
    evidence = page.locator("#evidence")
    expect(evidence.get_by_role("heading", name=re.compile(r"^\d+ findings: "))).to_be_visible()
    expect(evidence.locator("li.finding").first).to_be_visible()
    expect(page.get_by_role("heading", name="Findings and tickets")).to_be_visible()
    check_page(page, "review-staging-approver", ARTIFACTS)
    page.get_by_role("radio", name=re.compile(r"^Approve: move on to ")).check()
    page.get_by_label("Comment").fill("The findings and tickets are right")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("Saved:")
    expect(page.get_by_role("heading", name="Prep", exact=True)).to_be_visible()
    check_page(page, "review-prep", ARTIFACTS)
    context.close()

    review = app.review(review_id)
    assert review.status == "prep"
    (moved,) = [a for a in review.audit if (a.from_state, a.to_state) == ("staging", "prep")]
    assert (moved.actor, moved.via) == (approver, VIA)
    assert moved.comment == "The findings and tickets are right"


def test_the_other_pages_and_a_refusal_pass_axe_and_fit_a_phone(app: App) -> None:
    from playwright.sync_api import expect

    review_id = in_staging(app, "Client in review")
    context = app.context("vera@msp.example")  # vCIO and CEO: every page with its forms
    page = context.new_page()
    for path, name, heading in [
        ("/portfolio", "portfolio", "Portfolio"),
        ("/clients", "clients", "Clients"),
        ("/people", "people", "People"),
        (f"/reviews/{review_id}", "review-staging-vcio", "Staging"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        check_page(page, name, ARTIFACTS)
    report = page.goto(f"/reviews/{review_id}/report")
    assert report
    assert report.ok
    check_page(page, "report", ARTIFACTS)
    context.close()

    context = app.context(SAM)
    page = context.new_page()
    page.goto("/")  # his staging tasks wait for him
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    check_page(page, "home-engineer", ARTIFACTS)
    refused = page.goto("/reviews/new")  # starting reviews is for coordinators
    assert refused
    assert refused.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    check_page(page, "refused", ARTIFACTS)
    context.close()
