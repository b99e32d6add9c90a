"""Read models of a client's plan: the roadmap of its initiatives, and the budget by fiscal
quarter (one-time, recurring and hardware; approved and proposed apart; actual cost beside),
for one client or every active one (the portfolio).

A quarter's numbers are the sums of the cost lines in it: a one-time line in the quarter of its
month, a recurring one its monthly amount times the months of the quarter it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from states.directory import client_by_name
from states.plans.fiscal import FiscalQuarter, month_index, months_running, quarters_from
from states.plans.initiatives import Cost, Status, quarter_label
from states.plans.money import format_amount, total
from states.read.views import ReadModel
from states.store.db import UnitOfWork
from states.store.models import Client, CostLine, Initiative

# the budget's two columns: what the client approved (and what is being done), and proposals
APPROVED = frozenset({Status.APPROVED, Status.IN_PROGRESS, Status.DONE})
PROPOSED = frozenset({Status.PROPOSED, Status.DEFERRED})
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class InitiativeView(ReadModel):
    """One initiative as the roadmap shows it; money as two-decimal strings."""

    id: int
    title: str
    category: str
    priority: str
    status: str
    quarter: str | None
    one_time: Decimal
    monthly: Decimal
    findings: list[str]
    items: list[str]
    assets: list[str]
    review_id: int | None
    why: str
    owner_role: str
    actual: Decimal | None

    MONEY: ClassVar[frozenset[str]] = frozenset({"one_time", "monthly", "actual"})

    def to_json(self) -> dict[str, Any]:
        data = ReadModel.to_json(self)
        return {k: format_amount(v) if k in self.MONEY and v is not None else v
                for k, v in data.items()}  # fmt: skip


def initiative_view(initiative: Initiative) -> InitiativeView:
    """An initiative row as the roadmap shows it."""
    lines = initiative.costs
    return InitiativeView(
        id=initiative.id,
        title=initiative.title,
        category=initiative.category,
        priority=initiative.priority,
        status=initiative.status,
        quarter=quarter_label(initiative.quarter_start, initiative.client.fiscal_year_start),
        one_time=total(c.amount for c in lines if c.kind == "one_time"),
        monthly=total(c.amount for c in lines if c.kind == "recurring"),
        findings=list(initiative.findings),
        items=list(initiative.items),
        assets=list(initiative.assets),
        review_id=initiative.review_id,
        why=initiative.why,
        owner_role=initiative.owner_role,
        actual=initiative.actual_cost,
    )


@dataclass(frozen=True)
class Roadmap:
    """A client's initiatives, by target quarter (those without one last), then priority."""

    client: str
    fiscal_year_start: int
    initiatives: list[InitiativeView]

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "fiscal_year_start": self.fiscal_year_start,
            "initiatives": [i.to_json() for i in self.initiatives],
        }


PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _initiatives(session: Session, client_ids: Iterable[int]) -> list[Initiative]:
    return list(
        session.scalars(
            select(Initiative)
            .where(Initiative.client_id.in_(list(client_ids)))
            .options(selectinload(Initiative.costs))
            .order_by(Initiative.id)
        )
    )


def roadmap(uow: UnitOfWork, client_name: str) -> Roadmap:
    """The client's roadmap."""
    with uow:
        client = client_by_name(uow.session, client_name)
        return roadmap_of(client, initiatives_of(uow.session, client))


def cost_lines(uow: UnitOfWork, client_name: str) -> dict[int, list[Cost]]:
    """Each initiative's cost lines as people give them (in fiscal quarters), by its id."""
    with uow:
        client = client_by_name(uow.session, client_name)
        return lines_of(client, initiatives_of(uow.session, client))


def initiatives_of(session: Session, client: Client) -> list[Initiative]:
    """The client's initiatives with their cost lines, in the caller's transaction."""
    return _initiatives(session, [client.id])


def roadmap_of(client: Client, rows: Iterable[Initiative]) -> Roadmap:
    """The roadmap of the client's initiatives (read with their cost lines)."""
    views = sorted(
        (initiative_view(i) for i in rows),
        key=lambda v: (v.quarter is None, v.quarter or "", PRIORITY_ORDER[v.priority], v.id),
    )
    return Roadmap(client.name, client.fiscal_year_start, views)


def lines_of(client: Client, rows: Iterable[Initiative]) -> dict[int, list[Cost]]:
    """The cost lines of the client's initiatives as people give them, by initiative id."""
    start = client.fiscal_year_start
    return {
        initiative.id: [
            Cost(
                line.kind,
                line.amount,
                FiscalQuarter.of(line.starts, start),
                FiscalQuarter.of(line.ends, start) if line.ends else None,
                line.hardware,
                line.label,
            )
            for line in initiative.costs
        ]
        for initiative in rows
    }


@dataclass(frozen=True)
class QuarterBudget:
    """One fiscal quarter of a client's budget."""

    quarter: FiscalQuarter
    start: date
    one_time: tuple[Decimal, Decimal]  # (approved, proposed)
    recurring: tuple[Decimal, Decimal]
    hardware: tuple[Decimal, Decimal]
    actual: Decimal

    def to_json(self) -> dict[str, Any]:
        def pair(values: tuple[Decimal, Decimal]) -> dict[str, str]:
            return {"approved": format_amount(values[0]), "proposed": format_amount(values[1])}

        return {
            "quarter": self.quarter.label,
            "start": self.start.isoformat(),
            "one_time": pair(self.one_time),
            "recurring": pair(self.recurring),
            "hardware": pair(self.hardware),
            "actual": format_amount(self.actual),
        }


@dataclass(frozen=True)
class Budget:
    """A client's budget forecast: a row per fiscal quarter."""

    client: str
    currency: str
    quarters: list[QuarterBudget]

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "currency": self.currency,
            "quarters": [q.to_json() for q in self.quarters],
        }


class LineRow(NamedTuple):
    """What the budget reads of a cost line."""

    kind: str
    amount: Decimal
    starts: date
    ends: date | None
    hardware: bool


class PlannedRow(NamedTuple):
    """What the budget reads of an initiative, with its lines that count."""

    status: str
    actual_cost: Decimal | None
    updated_at: datetime
    costs: list[LineRow]


class OwnerRow(NamedTuple):
    """What the budget reads of a client."""

    id: int
    name: str
    fiscal_year_start: int


def budget(
    uow: UnitOfWork, client_name: str, currency: str, years: int = 3, today: date | None = None
) -> Budget:
    """The client's budget for `years` fiscal years from the current quarter."""
    with uow:
        client = client_by_name(uow.session, client_name)
        owner = OwnerRow(client.id, client.name, client.fiscal_year_start)
        planned = _planned(uow.session, Initiative.client_id == client.id)
    return forecast(owner, planned.get(owner.id, []), currency, years, today or date.today())


def budgets(
    uow: UnitOfWork, currency: str, years: int = 3, today: date | None = None
) -> list[Budget]:
    """Every active client's budget (the portfolio), by client name, in three queries."""
    with uow:
        session = uow.session
        clients = [
            OwnerRow(*row)
            for row in session.execute(
                select(Client.id, Client.name, Client.fiscal_year_start)
                .where(Client.active)
                .order_by(Client.name)
            )
        ]
        planned = _planned(session, Client.active.is_(True))
    day = today or date.today()
    return [forecast(c, planned.get(c.id, []), currency, years, day) for c in clients]


def _planned(session: Session, which: ColumnElement[bool]) -> dict[int, list[PlannedRow]]:
    """The initiatives `which` selects (with their cost lines where they count), by client
    id: columns only, two queries whatever the number of clients and lines."""
    found = session.execute(
        select(
            Initiative.id, Initiative.client_id, Initiative.status, Initiative.actual_cost,
            Initiative.updated_at,
        )
        .join(Client, Client.id == Initiative.client_id)
        .where(which)
    )  # fmt: skip
    by_id: dict[int, PlannedRow] = {}
    by_client: dict[int, list[PlannedRow]] = {}
    for initiative_id, client_id, status, actual_cost, updated_at in found:
        row = PlannedRow(status, actual_cost, updated_at, [])
        by_id[initiative_id] = row
        by_client.setdefault(client_id, []).append(row)
    lines = session.execute(
        select(
            CostLine.initiative_id, CostLine.kind, CostLine.amount, CostLine.starts,
            CostLine.ends, CostLine.hardware,
        )
        .join(Initiative, Initiative.id == CostLine.initiative_id)
        .join(Client, Client.id == Initiative.client_id)
        .where(which, Initiative.status.in_([str(s) for s in APPROVED | PROPOSED]))
        .order_by(CostLine.id)
    )  # fmt: skip
    for initiative_id, kind, amount, starts, ends, hardware in lines:
        by_id[initiative_id].costs.append(LineRow(kind, amount, starts, ends, hardware))
    return by_client


def planned_row(initiative: Initiative) -> PlannedRow:
    """What the budget reads of an initiative loaded with its cost lines (as `_planned`)."""
    counts = Status(initiative.status) in APPROVED | PROPOSED
    lines = [
        LineRow(line.kind, line.amount, line.starts, line.ends, line.hardware)
        for line in (initiative.costs if counts else [])
    ]
    return PlannedRow(initiative.status, initiative.actual_cost, initiative.updated_at, lines)


def forecast(
    client: OwnerRow, initiatives: Iterable[PlannedRow], currency: str, years: int, today: date
) -> Budget:
    """A budget from a client's initiatives (those declined or cancelled count for nothing)."""
    start = client.fiscal_year_start
    first = FiscalQuarter.of(today, start)
    quarters = quarters_from(first, 4 * years)
    sums: dict[tuple[FiscalQuarter, str, bool], list[Decimal]] = {}
    actual: dict[FiscalQuarter, list[Decimal]] = {}
    spread = Spread(quarters, start)
    for initiative in initiatives:
        status = Status(initiative.status)
        if status is Status.DONE and initiative.actual_cost is not None:
            done = FiscalQuarter.of(initiative.updated_at.date(), start)
            actual.setdefault(done, []).append(initiative.actual_cost)
        if status not in APPROVED and status not in PROPOSED:
            continue
        approved = status in APPROVED
        for line in initiative.costs:
            column = "hardware" if line.hardware else line.kind
            for quarter, amount in spread(line):
                sums.setdefault((quarter, column, approved), []).append(amount)

    def both(quarter: FiscalQuarter, column: str) -> tuple[Decimal, Decimal]:
        return (
            total(sums.get((quarter, column, True), [])),
            total(sums.get((quarter, column, False), [])),
        )

    return Budget(
        client.name,
        currency,
        [
            QuarterBudget(
                q,
                q.start(start),
                both(q, "one_time"),
                both(q, "recurring"),
                both(q, "hardware"),
                total(actual.get(q, [])),
            )  # fmt: skip
            for q in quarters
        ],
    )


class Spread:
    """The amounts a cost line puts in each of a budget's quarters, in month arithmetic (the
    quarters' months counted once per budget, not once per line)."""

    def __init__(self, quarters: list[FiscalQuarter], start: int) -> None:
        self.first = [month_index(q.start(start)) for q in quarters]
        self.quarters = quarters

    def __call__(self, line: LineRow) -> Iterable[tuple[FiscalQuarter, Decimal]]:
        if line.kind == "one_time":
            n = (month_index(line.starts) - self.first[0]) // 3
            if 0 <= n < len(self.quarters):
                yield self.quarters[n], line.amount
            return
        for quarter, first in zip(self.quarters, self.first, strict=True):
            months = months_running(first, line.starts, line.ends)
            if months:
                yield quarter, line.amount * months


__all__ = [
    "ZERO", "Budget", "InitiativeView", "QuarterBudget", "Roadmap", "budget", "budgets", "roadmap",
]  # fmt: skip
