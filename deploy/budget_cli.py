"""`xbr roadmap CLIENT` and `xbr budget CLIENT|--all`: a client's plan by fiscal quarter, and
the portfolio's budgets."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from deploy import render
from deploy.context import JsonOpt, settings, uow
from notifications.psa import spreadsheet_cell
from states.errors import InvalidInput
from states.plans.money import total
from states.read.plans import ZERO, Budget, Roadmap, budget, budgets, roadmap


def roadmap_command(client: str, as_json: JsonOpt = False) -> None:
    """A client's roadmap: its initiatives by target quarter, with their cost and status."""
    shown = roadmap(uow(), client)
    render.out(as_json, shown, lambda: _roadmap_table(shown))


def money(value: Decimal) -> str:
    """An amount in a table cell: grouped, two decimals (the currency is in the title)."""
    return f"{value:,.2f}"


def _roadmap_table(shown: Roadmap) -> None:
    currency = settings().currency
    rows = [
        {
            **v.to_json(),
            "quarter": v.quarter or "-",
            "one_time": money(v.one_time),
            "monthly": money(v.monthly),
        }
        for v in shown.initiatives
    ]
    render.rows(
        f"Roadmap of {shown.client} ({currency}; its fiscal year starts in month "
        f"{shown.fiscal_year_start})",
        ["id", "quarter", "title", "priority", "status", "one_time", "monthly"],
        rows,
    )


def budget_command(
    client: Annotated[str | None, typer.Argument(help="The client; or --all.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every active client's budget.")] = False,
    years: Annotated[int, typer.Option("--years", min=1, max=10, help="Fiscal years ahead.")] = 3,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write it as CSV.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A client's budget per fiscal quarter: one-time, recurring and hardware, approved and
    proposed apart, with the actual cost of what was done; --all: every active client's."""
    if every == (client is not None):
        raise InvalidInput(
            "give a client or --all, not both" if every else "give a client, or --all for every "
            "active client's budget"
        )  # fmt: skip
    currency = settings().currency
    shown = (
        budgets(uow(), currency, years) if every else [budget(uow(), client or "", currency, years)]
    )
    if csv_file is not None:
        _write_csv(shown, csv_file)
    if every:
        portfolio = {"currency": currency, "clients": shown}
        render.out(as_json, portfolio, lambda: _portfolio_table(shown, currency))
    else:
        render.out(as_json, shown[0], lambda: _budget_table(shown[0]))


COLUMNS = [
    "quarter", "one_time_approved", "one_time_proposed", "recurring_approved",
    "recurring_proposed", "hardware_approved", "hardware_proposed", "actual",
]  # fmt: skip


def _flat(shown: Budget) -> list[dict[str, str]]:
    rows = []
    for q in shown.quarters:
        data = q.to_json()
        rows.append(
            {
                "quarter": data["quarter"],
                **{
                    f"{k}_{side}": data[k][side]
                    for k in ("one_time", "recurring", "hardware")
                    for side in ("approved", "proposed")
                },
                "actual": data["actual"],
            }  # fmt: skip
        )
    return rows


def _write_csv(shown: list[Budget], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, ["client", "currency", *COLUMNS])
        writer.writeheader()
        for each in shown:
            for row in _flat(each):
                cells = {"client": each.client, "currency": each.currency, **row}
                writer.writerow({k: spreadsheet_cell(v) for k, v in cells.items()})


def _budget_table(shown: Budget) -> None:
    """A row per quarter; each column "approved / proposed", "-" for nothing."""

    def cell(values: tuple[Decimal, Decimal]) -> str:
        return " / ".join(money(v) if v else "-" for v in values)

    rows = [
        {
            "quarter": q.quarter.label,
            "one-time": cell(q.one_time),
            "recurring": cell(q.recurring),
            "hardware": cell(q.hardware),
            "actual": money(q.actual) if q.actual else "-",
        }
        for q in shown.quarters
    ]
    render.rows(
        f"Budget of {shown.client} ({shown.currency}; approved / proposed)",
        ["quarter", "one-time", "recurring", "hardware", "actual"],
        rows,
    )


def _portfolio_table(shown: list[Budget], currency: str) -> None:
    """A line per client: its next four quarters (its coming fiscal year of quarters)."""
    rows, sums = [], [ZERO, ZERO, ZERO]
    for each in shown:
        year = each.quarters[:4]
        amounts = [
            total(v for q in year for v in (q.one_time[0], q.recurring[0])),
            total(v for q in year for v in (q.one_time[1], q.recurring[1])),
            total(v for q in year for v in q.hardware),
        ]
        sums = [total(pair) for pair in zip(sums, amounts, strict=True)]
        quarters = f"{year[0].quarter.label} to {year[-1].quarter.label}"
        rows.append({"client": each.client, "quarters": quarters,
                     **dict(zip(PORTFOLIO, (money(a) for a in amounts),
                                strict=True))})  # fmt: skip
    rows.append({"client": f"{len(shown)} clients", "quarters": "",
                 **dict(zip(PORTFOLIO, (money(a) for a in sums),
                            strict=True))})  # fmt: skip
    render.rows(
        f"Budgets of the next four quarters ({currency}): one-time and recurring approved and "
        "proposed; hardware (approved and proposed)",
        ["client", "quarters", *PORTFOLIO],
        rows,
    )


PORTFOLIO = ["approved", "proposed", "hardware"]
