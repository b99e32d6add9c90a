"""The portfolio page, `/portfolio`: every active client with its last and next review, its
score trend and the budget it approved for the coming year, sorted by the column a person picks
(on the server: the column headers are links, no script); `/portfolio.csv` is the same table,
sorted alike, as a file. For the MSP's staff only: it names every client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deploy.webapp.site import Site
from states.access.sessions import SignedIn
from states.calendar.business_days import zone
from states.plans.money import display_amount, total
from states.read.portfolio import TREND, ClientRow, portfolio, portfolio_csv
from states.store.models import utcnow

ASC, DESC = "asc", "desc"
NOT_STAFF = "the portfolio shows every client, so it is for the MSP's staff; find your own "
NOT_STAFF += "reviews and plans under My work"


def _next_on(row: ClientRow) -> tuple[int, date] | None:
    """When the next review meets (or the calendar opens it); an open one without a date
    after those with one."""
    if row.next is not None:
        return (0, row.next.day) if row.next.day else (1, date.min)
    return (0, row.opens_on) if row.opens_on else None


@dataclass(frozen=True)
class Column:
    """A column the table sorts by: its header, its value, the order of a first click."""

    key: str
    label: str
    value: Callable[[ClientRow], Any]
    first: str = ASC
    numeric: bool = False


COLUMNS = (
    Column("client", "Client", lambda r: r.name.casefold()),
    Column("template", "Template", lambda r: (r.template, r.cadence)),
    Column("last", "Last review", lambda r: r.last.at if r.last else None, DESC),
    Column("next", "Next review", _next_on),
    Column("score", "Score trend", lambda r: r.score, DESC, numeric=True),
    Column("change", "Change", lambda r: r.change, DESC, numeric=True),
    Column("budget", "Approved budget", lambda r: r.approved, DESC, numeric=True),
)
BY_KEY = {c.key: c for c in COLUMNS}


def sorted_rows(
    rows: list[ClientRow], sort: str, order: str
) -> tuple[list[ClientRow], Column, str]:
    """The rows by the column `sort` names (the client's name when it names none) in `order`
    (the column's own first order when it is neither asc nor desc); ties by name, and rows
    without a value last either way."""
    column = BY_KEY.get(sort, COLUMNS[0])
    order = order if order in (ASC, DESC) else column.first
    by_name = sorted(rows, key=lambda r: (r.name.casefold(), r.id))
    valued = [r for r in by_name if column.value(r) is not None]
    valued.sort(key=column.value, reverse=order == DESC)  # stable: ties keep the name order
    return valued + [r for r in by_name if column.value(r) is None], column, order


def _headers(column: Column, order: str) -> list[dict[str, Any]]:
    """Each header's link: the sorted one turns its order round, the others start with theirs."""
    headers = []
    for each in COLUMNS:
        sorted_now = each is column
        then = (DESC if order == ASC else ASC) if sorted_now else each.first
        headers.append(
            {
                "label": each.label,
                "numeric": each.numeric,
                "href": "/portfolio?" + urlencode({"sort": each.key, "order": then}),
                "aria_sort": ("ascending" if order == ASC else "descending") if sorted_now else "",
            }
        )
    return headers


def router(site: Site) -> APIRouter:
    """GET /portfolio and GET /portfolio.csv."""
    routes = APIRouter()

    def staff(request: Request) -> SignedIn | Response:
        """The signed-in staff member, else the sign-in page or the 403 page."""
        person = site.person_or_signin(request)
        if isinstance(person, SignedIn) and not person.staff:
            return site.refuse(request, person, NOT_STAFF)
        return person

    def read(sort: str, order: str) -> tuple[list[ClientRow], Column, str, datetime]:
        now = utcnow().astimezone(zone(site.settings.timezone))  # the MSP's today
        rows = portfolio(site.plain_uow(), now, site.settings.currency)
        return (*sorted_rows(rows, sort, order), now)

    @routes.get("/portfolio")
    def page(request: Request, sort: str = "", order: str = "") -> Response:
        person = staff(request)
        if not isinstance(person, SignedIn):
            return person
        rows, column, order, now = read(sort, order)
        currency = site.settings.currency
        return site.page(
            "app/portfolio.html.j2",
            person,
            here="portfolio",
            rows=rows,
            column=column,
            order=order,
            headers=_headers(column, order),
            today=now.date(),
            trend=TREND,
            money=lambda amount: display_amount(amount, currency),
            approved=display_amount(total(r.approved for r in rows), currency),
            csv_href="/portfolio.csv?" + urlencode({"sort": column.key, "order": order}),
        )

    @routes.get("/portfolio.csv")
    def download(request: Request, sort: str = "", order: str = "") -> Response:
        person = staff(request)
        if not isinstance(person, SignedIn):
            return person
        rows, _, _, now = read(sort, order)
        name = f"xbr-portfolio-{now.date().isoformat()}.csv"
        return Response(
            portfolio_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return routes
