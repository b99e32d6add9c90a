"""EXPLORATION draft."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_review_flow import close_phase_tasks

ART = ROOT / "test-artifacts"


def test_explore(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    out = stack.xbr("review", "start", "Client qbr", "--meeting", meeting, "--json").stdout
    review_id = int(json.loads(out)["id"])
    stack.wait_suspended(review_id)
    review = stack.review(review_id)
    close_phase_tasks(stack, review)
    run_id = review["flow_run_id"]
    ui = stack.server.env["PREFECT_UI_URL"]
    ART.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as udd, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            udd,
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic"],
            viewport={"width": 1400, "height": 1000},
        )
        page = ctx.new_page()
        page.on("console", lambda m: print("CONSOLE", m.type, m.text))
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        page.wait_for_timeout(5000)
        page.screenshot(path=str(ART / "explore-1.png"), full_page=True)
        (ART / "explore-1.html").write_text(page.content())
        print(page.accessibility.snapshot() if hasattr(page, "accessibility") else "")
        page.get_by_role("button", name="Resume").click()
        page.wait_for_timeout(3000)
        page.screenshot(path=str(ART / "explore-2.png"), full_page=True)
        dialog = page.get_by_role("dialog")
        print("DIALOG NAME", dialog.get_attribute("aria-labelledby"))
        print(page.accessibility.snapshot() if hasattr(page, "accessibility") else "")
        print(dialog.aria_snapshot())
        sel = dialog.get_by_role("button", name="approve")

        def lb(tag):
            page.wait_for_timeout(800)
            print(
                "TRY",
                tag,
                page.get_by_role("listbox").count(),
                page.get_by_role("option").count(),
                page.evaluate("matchMedia('(hover: hover)').matches"),
            )
            for o in page.get_by_role("option").all():
                print("   OPT", o.inner_text(), o.is_visible())

        sel.click()
        lb("click")
        sel.click()
        lb("click2")
        sel.focus()
        page.keyboard.press("ArrowDown")
        lb("arrow")
        sel.dispatch_event("click")
        lb("dispatch")
        page.screenshot(path=str(ART / "explore-3.png"), full_page=True)
        (ART / "explore-3.html").write_text(page.content())
        box = dialog.locator(".schema-form-property", has_text="Approver Email").get_by_role(
            "textbox"
        )
        box.fill("olga@msp.example")
        dialog.get_by_role("button", name="Submit").click()
        for i in range(6):
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ART / f"explore-4-{i}.png"), full_page=True)
        print("REVIEW", stack.review(review_id)["status"])
        (ART / "explore-4.html").write_text(page.content())
        print(page.locator("body").aria_snapshot())
        ctx.close()
