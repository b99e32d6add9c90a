"""What the deliverables show of the client's plan: the open initiatives by fiscal quarter,
the budget by quarter (approved and proposed) and the decisions asked of the client (the
initiatives proposed or deferred, then the recommendations awaiting a decision)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reports.deliverables.text import DETAIL_MAX, ROWS_MAX, TITLE_MAX, Shown, bounded, one_line
from reports.documents import money
from states.errors import InvalidInput
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import TO_DECIDE

STATUS = {"proposed": "Proposed", "deferred": "Deferred", "approved": "Approved",
          "in_progress": "In progress", "done": "Done"}  # fmt: skip
NO_QUARTER = "No quarter set"


@dataclass(frozen=True)
class Initiative:
    title: str
    status: str
    priority: str
    cost: str


@dataclass(frozen=True)
class Quarter:
    """The roadmap's initiatives targeted at one fiscal quarter (or at none)."""

    label: str
    initiatives: list[Initiative]


@dataclass(frozen=True)
class Spend:
    """The budget of one fiscal quarter: approved and proposed, in the currency."""

    quarter: str
    approved: Decimal
    proposed: Decimal


@dataclass(frozen=True)
class Decision:
    """Something the client is asked to decide: an initiative or a recommendation."""

    title: str
    what: str  # "Initiative · FY2027-Q1 · USD 4,800.00", "Recommendation · Backup and recovery"
    detail: str


def plan_of(context: dict[str, Any]) -> dict[str, Any]:
    """The roadmap by quarter, the budget by quarter and the decisions asked of the client,
    from the report's context."""
    currency = context["currency"]
    roadmap = context["roadmap"]
    by_quarter: dict[str, list[Initiative]] = {}
    for item in roadmap[:ROWS_MAX]:
        by_quarter.setdefault(item["quarter"] or NO_QUARTER, []).append(_initiative(item, currency))
    quarters = [Quarter(label, rows) for label, rows in sorted(by_quarter.items(), key=_when)]
    budget = [
        Spend(q["quarter"], _sum(q, "approved"), _sum(q, "proposed"))
        for q in (context["budget"] or {}).get("quarters", [])
    ]
    return {
        "roadmap": quarters,
        "roadmap_more": max(0, len(roadmap) - ROWS_MAX),
        "budget": budget,
        "currency": currency,
        "decisions": _decisions(roadmap, context["recommendations"], currency),
    }


def _when(entry: tuple[str, list[Initiative]]) -> tuple[int, int, int]:
    """A quarter's place on the roadmap: in time order, those without a quarter last."""
    try:
        quarter = FiscalQuarter.parse(entry[0])
    except InvalidInput:  # NO_QUARTER
        return (1, 0, 0)
    return (0, quarter.year, quarter.quarter)


def _initiative(item: dict[str, Any], currency: str) -> Initiative:
    return Initiative(
        title=one_line(item["title"], TITLE_MAX),
        status=STATUS.get(item["status"], "—"),
        priority=str(item["priority"]).capitalize(),
        cost=_cost(item, currency),
    )


def _cost(item: dict[str, Any], currency: str) -> str:
    """USD 4,800.00, USD 150.00 a month, or USD 4,800.00 + USD 150.00 a month."""
    once, monthly = Decimal(item["one_time"]), Decimal(item["monthly"])
    parts = [money(item["one_time"], currency)] if once or not monthly else []
    parts += [f"{money(item['monthly'], currency)} a month"] if monthly else []
    return " + ".join(parts)


def _sum(quarter: dict[str, Any], side: str) -> Decimal:
    return sum(
        (Decimal(quarter[column][side]) for column in ("one_time", "recurring", "hardware")),
        Decimal("0.00"),
    )


def _decisions(
    roadmap: list[dict[str, Any]], recommendations: list[dict[str, Any]], currency: str
) -> Shown:
    """The initiatives proposed or deferred, then the recommendations awaiting a decision."""
    asked = [i for i in roadmap if i["status"] in {s.value for s in TO_DECIDE}]
    rows = [
        Decision(
            one_line(i["title"], TITLE_MAX),
            f"Initiative · {i['quarter'] or 'no quarter set'} · {_cost(i, currency)}",
            one_line(i.get("why") or "", DETAIL_MAX),
        )
        for i in asked[: ROWS_MAX + 1]
    ]
    rows += [
        Decision(
            one_line(f["title"], TITLE_MAX),
            f"Recommendation · {f['category_label']}",
            one_line(f["detail"] or "", DETAIL_MAX),
        )
        for f in recommendations[: ROWS_MAX + 1]
    ]
    return bounded(rows, len(asked) + len(recommendations))
