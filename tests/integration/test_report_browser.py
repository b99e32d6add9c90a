"""The review report as a client sees it: the HTML file opened in headless Chromium, at desktop
and phone widths, loading nothing but itself. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.documents import report_html
from tests.e2e.test_prefect_ui import ARTIFACTS, CHROMIUM_ARGS, chromium  # noqa: F401
from tests.unit.test_outputs import acme_dental


def _open(browser: Any, url: str, width: int) -> tuple[Any, list[str], list[str]]:
    """A page at `width` showing `url`, with the requests it made and the console's errors."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="load")
    return page, requests, errors


def test_the_report_renders_in_chromium_from_the_file_alone(chromium: Path, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    report = tmp_path / "review-report.html"
    report.write_text(report_html(acme_dental()), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page, requests, errors = _open(browser, report.as_uri(), 1200)
            assert page.title() == "Acme Dental · Quarterly business review 2026-Q4"
            rows = page.locator("tr.category-row")
            expect(rows).to_have_count(8)
            for i in range(8):
                expect(rows.nth(i)).to_be_visible()
            expect(rows.first).to_contain_text("Patching")
            for chart in ("svg.scorecard-chart", "svg.volume-chart"):
                box = page.locator(chart).bounding_box()
                assert box, chart
                assert box["width"] > 300, (chart, box)
                assert box["height"] > 150, (chart, box)
            assert page.locator("svg.scorecard-chart rect.bar-current").count() == 8
            page.screenshot(path=str(ARTIFACTS / "review-report.png"), full_page=True)

            phone, phone_requests, phone_errors = _open(browser, report.as_uri(), 390)
            # nothing wider than the phone: no sideways scrolling
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            box = phone.locator("svg.scorecard-chart").bounding_box()
            assert box
            assert 0 < box["width"] <= 390
            phone.screenshot(path=str(ARTIFACTS / "review-report-phone.png"), full_page=True)
        finally:
            browser.close()

    assert requests == [report.as_uri()]
    assert phone_requests == [report.as_uri()]
    assert errors == []
    assert phone_errors == []
