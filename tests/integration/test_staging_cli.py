"""Staging's commands: evidence import, findings, scorecard, tickets, thresholds, feedback and
the report; bad input gets one line naming the thing and the fix, exit code 2, and no change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Xbr

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo_evidence"
CLIENT = "Client qbr"


def started(xbr: Xbr) -> int:  # noqa: F811
    review = xbr.json("review", "start", CLIENT, "--no-flow")
    return int(review["id"])


def evidence_count(xbr: Xbr, review_id: int) -> int:  # noqa: F811
    return len(xbr.json("evidence", "list", str(review_id)))


def test_import_shows_findings_and_json_reports_the_assessment(xbr: Xbr) -> None:  # noqa: F811
    review_id = started(xbr)
    data = xbr.json(
        "evidence", "import", str(review_id), *map(str, sorted((DEMO / "q1").iterdir())),
        "--as", "sam@msp.example",
    )  # fmt: skip
    assert len(data["imported"]) == 10
    assert data["assessment"]["changed"] is True
    findings = xbr.json("findings", str(review_id))
    assert {"patch-compliance", "backup-failed", "endpoint-missing"} <= {f["key"] for f in findings}
    card = xbr.json("scorecard", str(review_id))
    assert card["baseline"] is None  # the client's first assessment is its baseline
    assert {row["color"] for row in card["scorecard"]} >= {"red"}
    tickets = xbr.json("ticket", "list", "--client", CLIENT)
    assert tickets
    assert all(t["title"].startswith("Follow-up - ") for t in tickets)
    _, out, _ = xbr("findings", str(review_id))
    assert "Findings of client-qbr-qbr" in out
    assert "recommendation" in out


def test_a_malformed_file_is_one_line_exit_2_and_nothing_stored(
    xbr: Xbr,  # noqa: F811
    tmp_path: Path,
) -> None:
    review_id = started(xbr)
    bad = tmp_path / "patches.csv"
    bad.write_text("device,missing_critical,missing_total\nWS1,abc,2\n", encoding="utf-8")
    good = DEMO / "q1" / "backups.csv"
    code, _, err = xbr(
        "evidence", "import", str(review_id), str(good), str(bad), "--as", "sam@msp.example",
        ok=False,
    )  # fmt: skip
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "patches.csv row 2, column missing_critical" in err
    assert evidence_count(xbr, review_id) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evidence", "import", "{id}", "{demo}/patches.csv", "--as", "nobody@x.example"],
         "unknown person"),
        (["evidence", "import", "{id}", "{tmp}/readme.txt", "--as", "sam@msp.example"],
         "readme.txt"),
        (["client", "thresholds", CLIENT, "--set", "patch_red_below=high"], "patch_red_below"),
        (["client", "thresholds", CLIENT, "--set", "no_such=1"], "no_such"),
        (["client", "thresholds", CLIENT, "--set", "patch_red_below"], "name=value"),
        (["feedback", "{id}", "--as", "vera@msp.example", "--better", "more"], "delivery"),
        (["report", "999"], "unknown review 999"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_one_line(
    xbr: Xbr,  # noqa: F811
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    review_id = started(xbr)
    (tmp_path / "readme.txt").write_text("hello")
    filled = [
        a.format(id=review_id, demo=DEMO / "q1", tmp=tmp_path) if "{" in a else a for a in argv
    ]
    before = xbr.json("client", "thresholds", CLIENT)
    code, _, err = xbr(*filled, ok=False)
    assert code == 2, err
    assert message in err
    assert err.strip().count("\n") == 0, err
    assert xbr.json("client", "thresholds", CLIENT) == before
    assert evidence_count(xbr, review_id) == 0


def test_thresholds_show_where_each_comes_from(xbr: Xbr) -> None:  # noqa: F811
    data = xbr.json("client", "thresholds", CLIENT, "--set", "secure_score_target=80")
    assert data["overrides"] == {"secure_score_target": 80.0}
    assert data["thresholds"]["patch_amber_below"] == 95
    assert xbr.json("client", "thresholds", CLIENT, "--reset")["overrides"] == {}


def test_report_is_written_as_one_html_file(xbr: Xbr, tmp_path: Path) -> None:  # noqa: F811
    review_id = started(xbr)
    xbr("evidence", "import", str(review_id), *map(str, (DEMO / "q1").iterdir()),
        "--as", "sam@msp.example")  # fmt: skip
    out = tmp_path / "report.html"
    data = xbr.json("report", str(review_id), "--out", str(out))
    assert data["path"] == str(out)
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert "Patching" in html
    assert "<svg" in html
