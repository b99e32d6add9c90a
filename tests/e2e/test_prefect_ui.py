"""A person approves a gate in the Prefect UI: the Resume dialog of a suspended review's run,
in a real headless Chromium against the real Prefect server and runner (`xbr up`).

Screenshots go to test-artifacts/ at the repository root (git-ignored). Without Chromium at
/usr/bin/chromium or the Python package playwright the test is skipped, unless
XBR_REQUIRE_BROWSER=1, which makes it fail instead.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.e2e.conftest import ROOT, Stack, wait_for
from tests.e2e.test_review_flow import close_phase_tasks

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; never `playwright install`
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
APPROVER = "olga@msp.example"  # holds ops_manager, the accountable role of the `needed` gate
COMMENT = "approved in the Prefect UI"
TIMEOUT_MS = 30_000  # a busy machine renders slowly; the UI polls the run every few seconds


def no_browser(reason: str) -> NoReturn:
    """Skip without a browser, unless XBR_REQUIRE_BROWSER=1 says one is required."""
    if os.environ.get("XBR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"XBR_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The browser, checked before the session's Prefect server starts (a skip costs nothing).

    Playwright itself starts inside the test: a running sync Playwright leaves its event loop
    set as this thread's running loop, which would break later tests that use asyncio.
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as missing:
        no_browser(f"the Python package playwright is not installed ({missing})")
    if not os.access(CHROMIUM, os.X_OK):
        no_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def approve_in_resume_dialog(page: Any, expect: Any, code: str) -> None:
    """Click Resume, check the gate's description, fill the form with Olga's decision code,
    approve, submit."""
    resume = page.get_by_role("button", name="Resume", exact=True)
    expect(resume).to_be_visible()
    resume.click()

    # the modal's aria-labelledby names no element: the dialog has no accessible name
    dialog = page.get_by_role("dialog").filter(has_text="Resume Flow Run")
    expect(dialog).to_be_visible()
    # the gate's Markdown description, rendered above the form
    gate = re.compile(r": needed gate$")
    expect(dialog.get_by_role("heading", level=3, name=gate)).to_be_visible()
    expect(dialog.get_by_role("link", name=APPROVER)).to_be_visible()

    def field(label: str) -> Any:
        """A form field by its label text (the labels' `for` points at no control)."""
        return dialog.locator(".schema-form-property").filter(has_text=label)

    # Decision is a custom select: a button showing the value, opened from the keyboard (a
    # mouse click does not open it), with its options in a listbox outside the dialog
    decision = field("Decision").get_by_role(
        "button", name=re.compile(r"^(approve|reject|reschedule|cancel|reopen)$")
    )
    decision.press("ArrowDown")
    page.get_by_role("listbox").get_by_role("option", name="approve", exact=True).click()
    expect(page.get_by_role("listbox")).to_be_hidden()
    expect(decision).to_have_text("approve")

    field("Decision Code").get_by_role("textbox").fill(code)
    field("Comment").get_by_role("textbox").fill(COMMENT)
    expect(field("Decision Code").get_by_role("textbox")).to_have_value(code)
    expect(field("Comment").get_by_role("textbox")).to_have_value(COMMENT)
    page.screenshot(path=str(ARTIFACTS / "prefect-ui-resume-form.png"))

    submit_resume_dialog(dialog)


def submit_resume_dialog(dialog: Any) -> None:
    """Submit the Resume dialog and wait for it to close, which it does once the server took
    the input (a few seconds); once more, as a person would, when a server busy with other runs
    answers with an error and leaves the dialog open."""
    from playwright.sync_api import expect

    for attempt in (1, 2):
        dialog.get_by_role("button", name="Submit", exact=True).click()
        try:
            expect(dialog).to_be_hidden(timeout=25_000)
            return
        except AssertionError:  # what expect raises when the dialog is still open
            if attempt == 2:
                raise


def test_a_gate_approved_in_the_prefect_ui_resume_dialog_advances_the_review(
    chromium: Path, stack: Stack, tmp_path: Path
) -> None:
    from playwright.sync_api import Error, expect, sync_playwright

    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    out = stack.xbr("review", "start", "Client qbr", "--meeting", meeting, "--json").stdout
    review_id = int(json.loads(out)["id"])
    first_key = stack.wait_suspended(review_id)
    review = stack.review(review_id)
    assert review["status"] == "needed"
    close_phase_tasks(stack, review)
    run_url = f"{stack.server.env['PREFECT_UI_URL']}/runs/flow-run/{review['flow_run_id']}"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "prefect-ui-failure.png").unlink(missing_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),  # a fresh user data dir
                executable_path=str(chromium),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1800},  # tall: the whole log fits
            )
        except Error as broken:
            no_browser(f"Chromium does not start: {broken}")
        try:
            browser.set_default_timeout(TIMEOUT_MS)
            page = browser.new_page()
            console: list[str] = []  # the UI logs why a resume failed to the console
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(run_url)
            approve_in_resume_dialog(page, expect, stack.decision_code(review_id, APPROVER))

            wait_for(
                "the approval from the UI to reach the review",
                lambda: stack.review(review_id)["status"] == "scheduling",
            )
            next_key = stack.wait_suspended(review_id)  # suspended again, at the next gate
            assert next_key != first_key
            assert next_key.startswith(f"review-{review_id}-scheduling-")
            audit = stack.review(review_id)["audit"]
            moves = [a for a in audit if a["from"] != a["to"]]
            assert [(a["from"], a["to"]) for a in moves] == [
                (None, "needed"),
                ("needed", "scheduling"),
            ]
            assert moves[-1]["actor"] == APPROVER
            assert moves[-1]["comment"] == COMMENT
            assert moves[-1]["via"] == "Prefect UI Resume form, decision code"

            page.reload()
            expect(page.get_by_text("needed -> scheduling")).to_be_visible()  # the run's log
            banner = page.get_by_role("banner")
            expect(banner.get_by_text("Suspended", exact=True)).to_be_visible()
            expect(banner.get_by_role("button", name="Resume", exact=True)).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "prefect-ui-after-resume.png"))
        except BaseException:
            for open_page in browser.pages:
                open_page.screenshot(path=str(ARTIFACTS / "prefect-ui-failure.png"))
                print("toasts:", open_page.locator(".p-toast").all_inner_texts())
            print("browser console:", *console, sep="\n  ")
            print("run state:", stack.run_state(review["flow_run_id"]))
            raise
        finally:
            browser.close()
