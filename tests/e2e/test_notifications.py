"""Approving from a notification: the real email from a real SMTP server (aiosmtpd), its link
opened against the approval page that `xbr up` serves, the review advanced and its run resumed;
and the same page in headless Chromium (tick a task, approve, screenshot)."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from deploy.mailbox import Mailbox
from tests.e2e.conftest import Server, Stack, make_stack, run_stack
from tests.e2e.test_prefect_ui import ARTIFACTS, CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.e2e.test_review_flow import start

ANDY, OLGA = "andy@msp.example", "olga@msp.example"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def mailed_stack(tmp_path: Path, prefect_server: Server, mailbox: Mailbox) -> Iterator[Stack]:
    """A running installation whose notices go to the mailbox by email."""
    yield from run_stack(
        make_stack(tmp_path / "home", prefect_server, {"XBR_SMTP_URL": mailbox.url})
    )


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def approval_link(mailbox: Mailbox, stack: Stack, to: str) -> str:
    """The approval link of the approval request emailed to `to`."""
    request = mailbox.wait_for(
        lambda m: to in str(m["To"]) and "approv" in str(m["Subject"]).lower(), timeout=90
    )
    links = re.findall(rf'href="({re.escape(stack.page_url)}/r/[^"]+)"', _html(request))
    assert links, _html(request)
    return str(links[0]).replace("&amp;", "&")


def _post(url: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_the_emailed_link_approves_and_the_run_resumes(
    mailed_stack: Stack, mailbox: Mailbox
) -> None:
    review_id = start(mailed_stack, "Client qbr")
    mailed_stack.wait_suspended(review_id)
    mailbox.wait_for(lambda m: ANDY in str(m["To"]), timeout=90)  # his task, by email
    mailed_stack.xbr("task", "done", str(review_id), "confirm-qbr-scope", "--as", ANDY)
    link = approval_link(mailbox, mailed_stack, OLGA)

    with urllib.request.urlopen(link, timeout=60) as response:
        page = response.read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page
    status, done = _post(
        link, [("csrf", csrf.group(1)), ("decision", "approve"), ("comment", "from the email")]
    )
    assert status == 200, done

    review = mailed_stack.review(review_id)
    assert (review["status"], review["round"]) == ("scheduling", 1)
    assert any(a["comment"] == "from the email" for a in review["audit"])
    mailed_stack.wait_suspended(review_id)  # the run followed to the scheduling gate
    status, again = _post(link, [("csrf", csrf.group(1)), ("decision", "approve")])
    assert status == 403, again  # a decision link works once


def test_the_approval_page_in_a_browser(
    mailed_stack: Stack,
    mailbox: Mailbox,
    chromium: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    review_id = start(mailed_stack, "Client qbr")
    mailed_stack.wait_suspended(review_id)
    ticket = mailbox.wait_for(lambda m: ANDY in str(m["To"]), timeout=90)
    task_link = re.findall(rf'href="({re.escape(mailed_stack.page_url)}/r/[^"]+)"', _html(ticket))
    assert task_link, _html(ticket)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page: Any = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.set_default_timeout(TIMEOUT_MS)
        # Andy ticks his task from his link
        page.goto(task_link[0].replace("&amp;", "&"))
        page.get_by_label(re.compile("Confirm the QBR is due")).check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text(re.compile("needed", re.I)).first).to_be_visible()
        # Olga approves from hers
        page.goto(approval_link(mailbox, mailed_stack, OLGA))
        page.get_by_label(re.compile("^Approve")).check()
        page.get_by_label("Comment").fill("approved on my phone")
        page.screenshot(path=str(ARTIFACTS / "approval-page.png"), full_page=True)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text(re.compile("scheduling", re.I)).first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "approval-done.png"), full_page=True)
        browser.close()
    assert mailed_stack.review(review_id)["status"] == "scheduling"
    mailed_stack.wait_suspended(review_id)
