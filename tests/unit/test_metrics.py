"""Lean metrics against a hand-computed fixture: five reviews over three ISO weeks, from Monday
2026-11-02 (2026-W45) to Sunday 2026-11-22 (2026-W47), days in UTC.

    1 opened before the window, closed Saturday of W45    lead 7.0 d, 14 h of 12
    2 opened and closed in W45 (Sunday 00:00)             lead 6.0 d, 10 h of 12
    3 reopened from qa_review, closed Wednesday of W47     lead 15.0 d, 8 h of 8
    4 cancelled in scheduling                              no lead time, no hours
    5 still open, in scheduling since 11-09                no lead time, no hours
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.metrics_page import metrics_markdown
from states.errors import InvalidInput
from states.read.metrics import ReviewFacts, Step, Window, compute, percentile
from states.settings import Settings
from tasks.metrics import is_monday

LIFECYCLE = ["needed", "scheduling", "scheduled", "staging", "prep", "delivery", "follow_up"]
WINDOW = Window(date(2026, 11, 2), date(2026, 11, 22))


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def review(
    review_id: int,
    path: list[tuple[str, str]],
    budget: float = 12,
    actual: float = 0,
) -> ReviewFacts:
    """A review that entered each phase of `path` at its moment, the first one from None."""
    steps, source = [], None
    for moment, phase in path:
        steps.append(Step(at(moment), source, phase))
        source = phase
    last_at, status = path[-1]
    return ReviewFacts(
        id=review_id,
        name=f"review-{review_id}",
        status=status,
        created_at=at(path[0][0]),
        closed_at=at(last_at) if status in ("closed", "cancelled") else None,
        budget_hours=budget,
        actual_hours=actual,
        steps=tuple(steps),
    )


R1 = review(1, [
    ("2026-10-31T12:00", "needed"),
    ("2026-11-02T12:00", "scheduling"),  # needed 2.0 d
    ("2026-11-03T12:00", "scheduled"),  # scheduling 1.0
    ("2026-11-04T00:00", "staging"),  # scheduled 0.5
    ("2026-11-05T00:00", "prep"),  # staging 1.0
    ("2026-11-05T12:00", "delivery"),  # prep 0.5
    ("2026-11-06T00:00", "follow_up"),  # delivery 0.5
    ("2026-11-07T00:00", "qa_review"),  # follow_up 1.0
    ("2026-11-07T12:00", "closed"),  # qa_review 0.5
], actual=14)  # fmt: skip
R2 = review(2, [
    ("2026-11-02T00:00", "needed"),
    ("2026-11-03T00:00", "scheduling"),  # needed 1.0
    ("2026-11-04T00:00", "scheduled"),  # scheduling 1.0
    ("2026-11-05T00:00", "staging"),  # scheduled 1.0
    ("2026-11-06T00:00", "prep"),  # staging 1.0
    ("2026-11-06T12:00", "delivery"),  # prep 0.5
    ("2026-11-07T00:00", "follow_up"),  # delivery 0.5
    ("2026-11-07T12:00", "qa_review"),  # follow_up 0.5
    ("2026-11-08T00:00", "closed"),  # qa_review 0.5
], actual=10)  # fmt: skip
R3 = review(3, [
    ("2026-11-03T00:00", "needed"),
    ("2026-11-05T00:00", "scheduling"),  # needed 2.0
    ("2026-11-06T00:00", "scheduled"),  # scheduling 1.0
    ("2026-11-09T00:00", "staging"),  # scheduled 3.0
    ("2026-11-11T00:00", "prep"),  # staging 2.0
    ("2026-11-12T00:00", "delivery"),  # prep 1.0
    ("2026-11-13T00:00", "follow_up"),  # delivery 1.0
    ("2026-11-14T00:00", "qa_review"),  # follow_up 1.0
    ("2026-11-15T00:00", "follow_up"),  # qa_review 1.0, reopened
    ("2026-11-17T00:00", "qa_review"),  # follow_up 2.0 more: 3.0 in all
    ("2026-11-18T00:00", "closed"),  # qa_review 1.0 more: 2.0 in all
], budget=8, actual=8)  # fmt: skip
R4 = review(4, [
    ("2026-11-04T00:00", "needed"),
    ("2026-11-05T00:00", "scheduling"),  # needed 1.0
    ("2026-11-10T00:00", "cancelled"),  # 5 days of scheduling that never finished
], actual=3)  # fmt: skip
R5 = review(5, [
    ("2026-10-20T00:00", "needed"),
    ("2026-11-09T00:00", "scheduling"),  # needed 20.0, then still in scheduling
])  # fmt: skip
FIXTURE = [R1, R2, R3, R4, R5]


def test_lead_time_of_the_closed_reviews_with_median_and_85th_percentile() -> None:
    lead = compute(FIXTURE, WINDOW)["lead_time"]
    # R1 10-31 12:00 -> 11-07 12:00 = 7.0; R2 11-02 -> 11-08 = 6.0; R3 11-03 -> 11-18 = 15.0
    assert [(r["id"], r["days"]) for r in lead["reviews"]] == [(1, 7.0), (2, 6.0), (3, 15.0)]
    assert lead["median_days"] == 7.0  # sorted 6, 7, 15
    assert lead["p85_days"] == 15.0  # nearest rank: ceil(0.85 * 3) = 3rd of 3
    assert lead["reviews"][0]["needed_at"] == "2026-10-31T12:00:00+00:00"


def test_cycle_time_per_phase_is_the_median_of_each_reviews_days_in_it() -> None:
    cycle = {row["phase"]: (row["reviews"], row["median_days"]) for row in
             compute(FIXTURE, WINDOW)["cycle_time"]}  # fmt: skip
    assert cycle == {
        "needed": (5, 2.0),  # 2, 1, 2, 1 (R4) and 20 (R5 left it in the window): 1 1 [2] 2 20
        "scheduling": (3, 1.0),  # 1, 1, 1; R4's stay ended in a cancel, R5's has not ended
        "scheduled": (3, 1.0),  # 0.5, 1, 3
        "staging": (3, 1.0),  # 1, 1, 2
        "prep": (3, 0.5),  # 0.5, 0.5, 1
        "delivery": (3, 0.5),  # 0.5, 0.5, 1
        "follow_up": (3, 1.0),  # 1, 0.5, 3 (R3: 1 + 2 around the reopen)
        "qa_review": (3, 0.5),  # 0.5, 0.5, 2 (R3: 1 + 1)
    }


def test_a_reopened_review_adds_up_its_stays_in_a_phase() -> None:
    cycle = {row["phase"]: row["median_days"] for row in compute([R3], WINDOW)["cycle_time"]}
    assert cycle["follow_up"] == 3.0  # 11-13 -> 11-14 and 11-15 -> 11-17
    assert cycle["qa_review"] == 2.0  # 11-14 -> 11-15 and 11-17 -> 11-18


def test_a_stay_counts_when_it_ends_in_the_window() -> None:
    before = Window(date(2026, 10, 26), date(2026, 11, 1))
    cycle = {row["phase"]: row["reviews"] for row in compute(FIXTURE, before)["cycle_time"]}
    assert cycle == dict.fromkeys(LIFECYCLE + ["qa_review"], 0)  # R1, R5 left needed later


def test_throughput_per_iso_week_against_the_goal_including_an_empty_week() -> None:
    flow = compute(FIXTURE, WINDOW)["throughput"]
    assert [(w["week"], w["monday"], w["closed"], w["met"]) for w in flow["weeks"]] == [
        ("2026-W45", "2026-11-02", 2, True),  # R1 Saturday, R2 Sunday 00:00
        ("2026-W46", "2026-11-09", 0, False),
        ("2026-W47", "2026-11-16", 1, True),  # R3 Wednesday; R4 was cancelled
    ]
    assert flow["closed"] == 3
    assert flow["per_week"] == 1.0  # 3 closed in 21 days
    assert flow["weeks_met"] == 2
    assert flow["goal_per_week"] == 1.0


def test_a_higher_goal_is_met_in_fewer_weeks() -> None:
    flow = compute(FIXTURE, WINDOW, goal_per_week=2)["throughput"]
    assert [w["met"] for w in flow["weeks"]] == [True, False, False]


def test_weeks_are_iso_weeks_in_the_msp_zone() -> None:
    # Sunday 23:30 in New York is Monday 04:30 UTC: last week there, this week in UTC
    late = review(9, [("2026-11-02T12:00", "needed"), ("2026-11-09T04:30", "closed")])
    york = Window(date(2026, 11, 2), date(2026, 11, 15), ZoneInfo("America/New_York"))
    utc = Window(date(2026, 11, 2), date(2026, 11, 15))
    assert [w["closed"] for w in compute([late], york)["throughput"]["weeks"]] == [1, 0]
    assert [w["closed"] for w in compute([late], utc)["throughput"]["weeks"]] == [0, 1]


def _wip_on(data: dict, day: str) -> dict[str, int]:
    row = next(r for r in data["wip"] if r["day"] == day)
    return {phase: n for phase, n in row.items() if phase != "day" and n}


def test_work_in_progress_at_the_end_of_each_day() -> None:
    data = compute(FIXTURE, WINDOW)
    assert len(data["wip"]) == 21
    assert list(data["wip"][0]) == ["day", *LIFECYCLE, "qa_review"]
    # 11-02 24:00: R1 in scheduling since 12:00, R2 and R5 in needed; R3 opens 11-03 00:00
    assert _wip_on(data, "2026-11-02") == {"needed": 2, "scheduling": 1}
    # 11-07 24:00: R1 closed at 12:00, R2 closes only at 11-08 00:00
    assert _wip_on(data, "2026-11-07") == {
        "needed": 1,  # R5
        "scheduling": 1,  # R4
        "scheduled": 1,  # R3
        "qa_review": 1,  # R2
    }
    # 11-14 24:00: R3 in qa_review (reopened at 11-15 00:00), R4 cancelled, R5 in scheduling
    assert _wip_on(data, "2026-11-14") == {"scheduling": 1, "qa_review": 1}
    assert _wip_on(data, "2026-11-22") == {"scheduling": 1}  # R5 only


def test_budget_against_actual_hours_of_the_closed_reviews() -> None:
    hours = compute(FIXTURE, WINDOW)["hours"]
    assert [(r["id"], r["difference"], r["verdict"]) for r in hours["reviews"]] == [
        (1, 2.0, "over"),  # 14 - 12
        (2, -2.0, "under"),  # 10 - 12
        (3, 0.0, "on budget"),  # 8 - 8
    ]
    # 12 + 12 + 8 = 32 budgeted, 14 + 10 + 8 = 32 spent; R4's 3 hours were on a cancelled one
    assert (hours["budget_hours"], hours["actual_hours"], hours["difference"]) == (32, 32, 0)
    assert (hours["over"], hours["under"]) == (1, 1)


def test_no_closed_reviews_gives_empty_metrics_not_errors() -> None:
    later = Window(date(2026, 11, 23), date(2026, 11, 29))
    data = compute(FIXTURE, later)
    assert data["lead_time"] == {"reviews": [], "median_days": None, "p85_days": None}
    assert data["throughput"]["weeks"] == [
        {"week": "2026-W48", "monday": "2026-11-23", "closed": 0, "met": False}
    ]
    assert data["throughput"]["per_week"] == 0
    assert data["hours"]["reviews"] == []
    assert data["hours"]["budget_hours"] == 0
    assert all(_wip_on(data, day.isoformat()) == {"scheduling": 1} for day in later.days())
    assert compute([], later)["cycle_time"][0] == {
        "phase": "needed", "reviews": 0, "median_days": None,
    }  # fmt: skip


def test_a_rejection_stays_in_its_phase() -> None:
    rejected = ReviewFacts(
        **{**R2.__dict__, "steps": (*R2.steps[:3], Step(at("2026-11-03T18:00"), "scheduled",
                                                         "scheduled"), *R2.steps[3:])}
    )  # fmt: skip
    assert compute([rejected], WINDOW) == compute([R2], WINDOW)


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 85, None),
        ([4.0], 85, 4.0),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 85, 9),  # ceil(8.5) = 9th
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 85, 17),
        ([3, 1, 2], 50, 2),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], pct: int, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_bad_window_and_goal_are_refused() -> None:
    with pytest.raises(InvalidInput, match="--since 2026-11-09 is after --until 2026-11-02"):
        Window(date(2026, 11, 9), date(2026, 11, 2))
    with pytest.raises(InvalidInput, match="--goal 0"):
        compute(FIXTURE, WINDOW, goal_per_week=0)


def test_weekly_markdown_has_the_headline_and_tables() -> None:
    text = metrics_markdown(compute(FIXTURE, WINDOW))
    assert text.startswith("# Lean metrics 2026-11-02 to 2026-11-22 (UTC)\n")
    assert "3 reviews closed, 1 a week (goal 1; met in 2 of 3 weeks)" in text
    assert "median 7 d, 85% within 15 d" in text
    assert "32 of 32 budgeted (1 over budget, 1 under)" in text
    assert "**Open on 2026-11-22:** scheduling 1" in text
    assert "| follow_up | 3 | 1 d |" in text
    assert "| review-1 | 12 | 14 | over |" in text


def test_the_week_comes_on_monday_in_the_msp_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    sunday_night_in_york = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)  # Monday in UTC
    assert is_monday(sunday_night_in_york)
    monkeypatch.setenv("XBR_TIMEZONE", "America/New_York")
    assert not is_monday(sunday_night_in_york, Settings())
    assert is_monday(sunday_night_in_york + timedelta(hours=5), Settings())
