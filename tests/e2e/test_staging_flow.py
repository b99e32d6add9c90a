"""Staging inside the review's flow run: the client's exports in its evidence folder become
findings, tickets and a scorecard when the run reaches staging, the check tasks close themselves,
and the findings, scorecard and agenda are artifacts on the run; a bad export is logged and
the review waits at its gate."""

from __future__ import annotations

import shutil
from pathlib import Path

from deploy.demo import copy_exports
from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_review_flow import approve_gate, close_phase_tasks, start

Q1 = ROOT / "deploy" / "demo_evidence" / "q1"


def artifact_keys(stack: Stack, run_id: str) -> set[str]:
    found = stack.api("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    return {a["key"] for a in found if a.get("key")}


def walk_to(stack: Stack, review_id: int, phase: str) -> None:
    while stack.review(review_id)["status"] != phase:
        stack.wait_suspended(review_id)
        close_phase_tasks(stack, stack.review(review_id))
        approve_gate(stack, review_id)
    stack.wait_suspended(review_id)


def test_the_run_stages_the_clients_exports_and_publishes_the_agenda(stack: Stack) -> None:
    folder = stack.home / "evidence" / "client-qbr"
    copy_exports("q1", folder)  # dated as if taken today: older exports are marked stale
    (folder / "warranty.csv").write_text(
        "asset,model,purchase_date\nPC1,Dell,not-a-date\n", encoding="utf-8"
    )
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, "staging")

    review = stack.review(review_id)
    checks = {t["key"]: t["status"] for t in review["tasks"] if t["phase"] == "staging"}
    # a bad export stops the whole import: nothing assessed, the check tasks wait for people
    assert checks["patch-av-reports"] == "open"
    assert stack.xbr("findings", str(review_id), "--json").stdout.strip() == "[]"
    log = "\n".join(line for line in (stack.home / "runner.log").read_text().splitlines()
                    if "warranty.csv row 2" in line)  # fmt: skip
    assert "column purchase_date" in log

    (folder / "warranty.csv").unlink()
    shutil.copy(Q1 / "warranty.csv", folder / "warranty.csv")
    # the sweeper assesses new exports of reviews in staging
    stack.xbr("sweep")

    review = stack.review(review_id)
    closed = {t["key"] for t in review["tasks"] if t["status"] == "done"}
    assert {"patch-av-reports", "check-warranties", "security-report"} <= closed
    keys = stack.xbr("findings", str(review_id), "--json").stdout
    assert "patch-compliance" in keys
    walk_to(stack, review_id, "prep")
    published = artifact_keys(stack, review["flow_run_id"])
    assert {f"review-{review_id}-findings", f"review-{review_id}-scorecard",
            f"review-{review_id}-agenda"} <= published  # fmt: skip


def test_report_of_a_staged_review(stack: Stack, tmp_path: Path) -> None:
    copy_exports("q1", stack.home / "evidence" / "client-qbr")
    review_id = start(stack, "Client qbr")
    walk_to(stack, review_id, "prep")
    out = tmp_path / "report.html"
    stack.xbr("report", str(review_id), "--out", str(out))
    assert "Scorecard" in out.read_text(encoding="utf-8")
