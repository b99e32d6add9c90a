"""`xbr metrics` on a real database: a review identified three days ago and walked to closed
shows in lead time, cycle time, this week's throughput and hours; `--png` draws the cumulative
flow diagram; bad input is one line and exit code 2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from states.calendar.opening import start_review
from states.store import db
from states.templates.catalog import load_catalog
from tests.integration.conftest import Xbr
from tests.integration.test_cli import MEETING
from tests.team import walk

CLIENT = "Client qbr"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def closed_review(xbr: Xbr, database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:  # noqa: F811
    """One review of CLIENT, needed since three days ago, 2.5 hours worked, now closed."""
    monkeypatch.delenv("XBR_TIMEZONE", raising=False)
    engine = db.make_engine(database_url)
    try:
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        review_id = start_review(
            db.UnitOfWork(engine), CLIENT, load_catalog(), meeting=MEETING, now=three_days_ago
        )
        review = xbr.json("review", "show", str(review_id))
        task = next(t for t in review["tasks"] if t["status"] == "open")
        xbr("task", "done", str(review_id), task["key"], "--as", task["assignee"],
            "--hours", "2.5")  # fmt: skip
        walk(lambda: db.UnitOfWork(engine), review_id, "closed")
    finally:
        engine.dispose()
    return review_id


def test_a_closed_review_shows_in_every_metric(xbr: Xbr, closed_review: int) -> None:  # noqa: F811
    data = xbr.json("metrics")
    assert set(data) == {
        "since", "until", "timezone", "lead_time", "cycle_time", "throughput", "wip", "hours",
    }  # fmt: skip
    [lead] = data["lead_time"]["reviews"]
    assert lead["id"] == closed_review
    assert 2.9 < lead["days"] < 3.1
    assert data["lead_time"]["median_days"] == data["lead_time"]["p85_days"] == lead["days"]
    needed = next(row for row in data["cycle_time"] if row["phase"] == "needed")
    assert needed["reviews"] == 1
    assert 2.9 < needed["median_days"] < 3.1
    week = datetime.now(UTC).date().isocalendar()
    this_week = data["throughput"]["weeks"][-1]
    assert this_week["week"] == f"{week.year}-W{week.week:02d}"
    assert (this_week["closed"], this_week["met"]) == (1, True)
    assert len(data["throughput"]["weeks"]) == 4  # the default window: four ISO weeks
    assert data["wip"][-1]["day"] == datetime.now(UTC).date().isoformat()
    [hours] = data["hours"]["reviews"]
    assert hours["actual_hours"] == 2.5
    assert hours["verdict"] == "under"
    _, out, _ = xbr("metrics", "--goal", "2")
    assert "Lean metrics" in out
    assert "goal 2, met in 0 of 4 weeks" in out


def test_png_writes_the_cumulative_flow_diagram(
    xbr: Xbr,  # noqa: F811
    closed_review: int,
    tmp_path: Path,
) -> None:
    png = tmp_path / "charts" / "flow.png"
    _, out, _ = xbr("metrics", "--png", str(png))
    assert "cumulative flow diagram written" in out
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2026-13-01"], "--since '2026-13-01' is not a date; write YYYY-MM-DD"),
        (["--until", "yesterday"], "--until 'yesterday' is not a date; write YYYY-MM-DD"),
        (["--since", "2026-11-09", "--until", "2026-11-02"], "--since 2026-11-09 is after"),
        (["--goal", "0"], "--goal 0 is no goal"),
        (["--png", "{tmp}"], "--png"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    xbr: Xbr,  # noqa: F811
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = xbr("metrics", *args, ok=False)
    assert code == 2
    assert err.strip().count("\n") == 0
    assert message in err
    assert out == ""
