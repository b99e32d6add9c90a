"""The Prefect UI as an operator's view of the reviews, in a real headless Chromium against the
real Prefect server and runner: a closed review's run holds one artifact per kind, the Run form
starts a named and tagged review or fails in one line, the Resume form reads in the client's
time zone, and a refused decision shows on the run's state.

Screenshots go to test-artifacts/ at the repository root (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from states.lifecycle.run_records import review_of_run
from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_prefect_ui import (  # noqa: F401
    ARTIFACTS,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    chromium,
    no_browser,
    submit_resume_dialog,
)
from tests.e2e.test_review_flow import close_phase_tasks, start, walk_to

MAX_ARTIFACTS = 8


@contextmanager
def browser_page(executable: Path, tmp_path: Path, name: str) -> Iterator[Any]:
    """A page of a fresh headless Chromium; on failure a screenshot `<name>-failure.png`."""
    from playwright.sync_api import Error, expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=str(executable),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1600},
            )
        except Error as broken:
            no_browser(f"Chromium does not start: {broken}")
        browser.set_default_timeout(TIMEOUT_MS)
        page = browser.new_page()
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"))
            raise
        finally:
            browser.close()


def run_artifacts(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    """The run's artifacts as its Artifacts tab lists them (Prefect's own result records,
    unkeyed and of type result, are not listed there)."""
    found = stack.api("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    return [a for a in found if a["type"] != "result"]


def test_a_closed_reviews_run_holds_one_artifact_per_kind(
    chromium: Path,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id)
    stack.wait_finished(review_id)
    run_id = stack.review(review_id)["flow_run_id"]
    found = run_artifacts(stack, run_id)
    assert len(found) <= MAX_ARTIFACTS, [(a["key"], a["type"]) for a in found]
    keys = [a["key"] for a in found if a["key"]]  # Prefect's own (the run's result) has none
    assert len(keys) == len(set(keys)), keys
    assert {f"review-{review_id}-{kind}" for kind in ("checklist", "progress", "summary")} <= set(
        keys
    )
    # updated in place: the latest-by-key view (the Artifacts page) shows the last state
    summary = next(a for a in found if a["key"] == f"review-{review_id}-summary")
    assert "Status: **closed**" in summary["data"]
    latest = stack.api(
        "/artifacts/latest/filter", {"artifacts": {"key": {"any_": [summary["key"]]}}}
    )
    assert latest[0]["latest_id"] == summary["id"]
    assert latest[0]["data"] == summary["data"]

    with browser_page(chromium, tmp_path, "ops-artifacts") as page:
        page.goto(f"{stack.server.env['PREFECT_UI_URL']}/runs/flow-run/{run_id}?tab=Artifacts")
        page.locator(".p-tabs").get_by_text("Artifacts", exact=True).click()
        expect(page.get_by_text(f"review-{review_id}-summary").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "prefect-ui-artifacts-tab.png"), full_page=True)
        for key in keys:  # each of the run's artifacts is listed once
            expect(page.get_by_text(key, exact=True)).to_have_count(1)


def deployment_id(stack: Stack) -> str:
    return str(stack.api("/deployments/name/business-review/business-review")["id"])


def runs_with_client(stack: Stack, client: str) -> list[str]:
    """The deployment's runs started for `client` (by its Run form)."""
    runs = stack.api("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id(stack)]}}})
    return [str(r["id"]) for r in runs if r["parameters"].get("client") == client]


def form_run(stack: Stack, parameters: dict[str, Any]) -> str:
    """A run started as the deployment's Run form starts one."""
    run = stack.api(f"/deployments/{deployment_id(stack)}/create_flow_run",
                    {"parameters": parameters})  # fmt: skip
    return str(run["id"])


def submit_run_form(page: Any) -> None:
    """Submit the Run form and wait for the UI to leave it (it shows the deployment's runs);
    once more, as a person would, when a busy Prefect server answers "Something went wrong"."""
    from playwright.sync_api import TimeoutError as StillOnTheForm

    for attempt in (1, 2):
        page.get_by_role("button", name="Submit", exact=True).click()
        try:
            page.wait_for_url(lambda url: not url.rstrip("/").endswith("/run"), timeout=20_000)
            return
        except StillOnTheForm:
            if attempt == 2:
                raise


def test_a_typo_in_the_run_forms_client_fails_the_run_in_one_line(
    chromium: Path,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    run_id = form_run(stack, {"client": "Client qbx", "review_type": "qbr"})
    state = wait_for(
        "the run to fail",
        lambda: (s := stack.run_state(run_id))["type"] in ("FAILED", "COMPLETED", "CRASHED") and s,
    )
    assert state["type"] == "FAILED"
    assert state["message"] == (
        "unknown client 'Client qbx'; did you mean 'Client qbr'? (xbr client list)"
    )
    run = stack.api(f"/flow_runs/{run_id}")
    assert run["run_count"] == 1  # no retries: a typo stays a typo

    typo = form_run(stack, {"client": "Client btr", "review_type": "qbx"})
    state = wait_for("the second run to fail",
                     lambda: (s := stack.run_state(typo))["type"] == "FAILED" and s)  # fmt: skip
    assert state["message"] == (
        "unknown review type 'qbx'; did you mean 'qbr'? (xbr template list)"
    )

    with browser_page(chromium, tmp_path, "ops-run-form") as page:
        ui = stack.server.env["PREFECT_UI_URL"]
        page.goto(f"{ui}/deployments/deployment/{deployment_id(stack)}/run")
        for title in ("Client", "Review type", "Meeting (client's time)"):
            label = re.compile(rf"^{re.escape(title)} \(Optional\)$")
            expect(page.get_by_text(label).first).to_be_visible()
        expect(page.get_by_text("Property is type None")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "prefect-ui-run-form.png"), full_page=True)
        # a coordinator types the client with a typo and submits the form
        field = page.locator(".schema-form-property").filter(has_text=re.compile(r"^Client"))
        field.first.get_by_role("textbox").fill("Clinet qbr")
        expect(field.first.get_by_role("textbox")).to_have_value("Clinet qbr")
        submit_run_form(page)
        typed = wait_for("the form's run", lambda: runs_with_client(stack, "Clinet qbr"))[0]
        state = wait_for(
            "the form's run to fail",
            lambda: (s := stack.run_state(typed))["type"] == "FAILED" and s,
        )
        assert state["message"] == (
            "unknown client 'Clinet qbr'; did you mean 'Client qbr'? (xbr client list)"
        )
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        expect(page.get_by_text("did you mean 'Client qbr'?").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "prefect-ui-run-form-typo.png"), full_page=True)


def test_a_run_started_from_the_run_form_is_named_and_tagged_like_xbrs(stack: Stack) -> None:
    run_id = form_run(stack, {"client": "client BTR", "review_type": "btr"})
    run = wait_for(
        "the run to take its review's name",
        lambda: "type:btr" in (r := stack.api(f"/flow_runs/{run_id}"))["tags"] and r,
    )
    review_id = wait_for("the run's review", lambda: review_of_run(stack.uow(), run_id))
    review = stack.review(review_id)
    assert review["flow_run_id"] == run_id
    assert run["name"] == review["name"]
    assert {"client:client-btr", "type:btr", "xbr"} <= set(run["tags"])
    stack.wait_suspended(review_id)


def test_the_resume_form_reads_in_the_clients_zone_and_a_refusal_shows_on_the_run(
    chromium: Path,  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    review_id = start(stack, "Client qbr")  # Client qbr lives in Europe/Berlin
    stack.wait_suspended(review_id)
    review = stack.review(review_id)
    close_phase_tasks(stack, review)
    run_id = review["flow_run_id"]
    with browser_page(chromium, tmp_path, "ops-resume") as page:
        page.goto(f"{stack.server.env['PREFECT_UI_URL']}/runs/flow-run/{run_id}")
        page.get_by_role("button", name="Resume", exact=True).click()
        dialog = page.get_by_role("dialog").filter(has_text="Resume Flow Run")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_text("Prove who you are with your decision code")).to_be_visible()
        expect(dialog.get_by_text(re.compile(r"Meeting: \w{3} \d+ \w{3} \d{4}, 10:00 CES?T"))
               ).to_be_visible()  # fmt: skip
        expect(dialog.get_by_text("Europe/Berlin").first).to_be_visible()
        expect(dialog.get_by_text("Property is type None")).to_have_count(0)
        expect(dialog.get_by_text(re.compile(r"round \d"))).to_have_count(0)
        expect(dialog.get_by_text(re.compile(r"review-\d+-needed"))).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "prefect-ui-resume-form-ops.png"))

        field = dialog.locator(".schema-form-property").filter(has_text="Decision Code")
        field.get_by_role("textbox").fill("SAM00-GUESS")
        submit_resume_dialog(dialog)

        state = wait_for(
            "the run to wait again, refused",
            lambda: (s := stack.run_state(run_id))["name"] == "Refused" and s,
        )
        assert state["type"] == "PAUSED"
        assert "decision code is missing, wrong or expired" in state["message"]
        summary = next(
            a for a in run_artifacts(stack, run_id) if a["key"] == f"review-{review_id}-summary"
        )
        assert "Status: **Refused**" in summary["data"]
        assert "**Refused:**" in summary["data"]
        page.reload()
        banner = page.get_by_role("banner")
        expect(banner.get_by_text("Refused", exact=True)).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "prefect-ui-refused.png"))
