"""A client's plan read once for everything a page makes of it: its roadmap, its cost lines
as people give them, its budget, and what its vCIO or account manager may change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from sqlalchemy.orm import Session

from states.directory import covers
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import Phase
from states.plans.initiatives import OPEN, PLANNERS, Cost
from states.read.plans import (
    Budget,
    InitiativeView,
    OwnerRow,
    Roadmap,
    forecast,
    initiatives_of,
    lines_of,
    planned_row,
    roadmap_of,
)
from states.store.db import UnitOfWork
from states.store.models import Client, Initiative, Review


class ClientPlan:
    """A client's initiatives with their cost lines (two queries); its roadmap and its cost
    lines are each made from them once, when first asked for."""

    def __init__(self, client: Client, rows: list[Initiative]) -> None:
        self.client, self.rows = client, rows

    @cached_property
    def roadmap(self) -> Roadmap:
        """The client's roadmap, by target quarter (those without one last), then priority."""
        return roadmap_of(self.client, self.rows)

    @cached_property
    def cost_lines(self) -> dict[int, list[Cost]]:
        """Each initiative's cost lines as people give them (in fiscal quarters), by its id."""
        return lines_of(self.client, self.rows)

    def budget(self, currency: str, years: int, today: date) -> Budget:
        """The client's budget for `years` fiscal years from the quarter of `today`."""
        client = self.client
        owner = OwnerRow(client.id, client.name, client.fiscal_year_start)
        return forecast(owner, [planned_row(i) for i in self.rows], currency, years, today)


def client_plan(session: Session, client: Client) -> ClientPlan:
    """The client's plan, in the caller's transaction."""
    return ClientPlan(client, initiatives_of(session, client))


@dataclass(frozen=True)
class OpenPlan:
    """A client's open initiatives as its roadmap orders them, each with its cost lines: what
    its vCIO or account manager may change while a review of it is in prep."""

    client: str
    initiatives: list[tuple[InitiativeView, tuple[Cost, ...]]]


def plan_to_edit(uow: UnitOfWork, review_id: int, email: str) -> OpenPlan | None:
    """The client's open plan when `email` may change it on the review's pages; else None."""
    with uow:
        return open_plan_for(uow.session, load_review(uow.session, review_id), email)


def open_plan_for(
    session: Session, review: Review, email: str, plan: ClientPlan | None = None
) -> OpenPlan | None:
    """`plan_to_edit` in the caller's transaction: None unless the review is in prep and
    `email` is its client's vCIO or account manager. `plan`: the client's, if read already."""
    if review.status != Phase.PREP or not covers(session, review.client_id, email, PLANNERS):
        return None
    plan = plan or client_plan(session, review.client)
    lines = plan.cost_lines
    shown = [v for v in plan.roadmap.initiatives if v.status in OPEN]
    return OpenPlan(plan.client.name, [(v, tuple(lines.get(v.id, []))) for v in shown])
