"""The one interface every PSA's connector has: companies, tickets with their tasks,
opportunities, and the tickets changed since a moment. Each PSA's module speaks its own API.

Every object xbr creates carries its stamp (`TicketDraft.stamp`), and each connector can find
an object by it again: a create whose answer was lost is looked up, never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Company:
    """A company in the PSA."""

    id: str
    name: str


@dataclass(frozen=True)
class TicketDraft:
    """A ticket to create: `board` and `status` by their names in the PSA (None: its default)."""

    stamp: str
    summary: str
    company: str
    detail: str = ""
    board: str | None = None
    status: str | None = None
    priority: str | None = None
    source: str | None = None
    due: datetime | None = None
    budget_hours: float | None = None
    actual_hours: float | None = None


@dataclass(frozen=True)
class TicketChange:
    """What to change on a ticket; None leaves a field as it is."""

    status: str | None = None
    due: datetime | None = None
    budget_hours: float | None = None
    actual_hours: float | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.status, self.due, self.budget_hours,
                                           self.actual_hours))  # fmt: skip


@dataclass(frozen=True)
class TaskDraft:
    """One task of a ticket: its title, its place in the list and whether it is done."""

    title: str
    position: int
    done: bool = False


@dataclass(frozen=True)
class OpportunityDraft:
    """A sale to plan: what, for whom, how much and by when it should close."""

    stamp: str
    name: str
    company: str
    amount: Decimal
    close_on: date
    notes: str = ""


@dataclass(frozen=True)
class RemoteTicket:
    """A ticket as the PSA shows it now: its status's name, whether it is closed, when it last
    changed (the PSA's clock) and by whom."""

    id: str
    status: str
    closed: bool
    updated_at: datetime
    by: str = ""


class Connector(Protocol):
    """One PSA's API, in xbr's terms."""

    name: str

    def check(self) -> None:
        """One call that proves the credentials; Refused when they are wrong."""

    def board_statuses(self, board: str) -> list[str] | None:
        """The names of the statuses a ticket on `board` can take; None when there is no
        such board."""

    def companies(self, name: str) -> list[Company]:
        """The companies whose name contains `name` (at most a page of them)."""

    def company(self, company_id: str) -> Company:
        """One company by its id; PsaError when there is none."""

    def find_ticket(self, stamp: str, company: str) -> str | None:
        """The id of the ticket carrying `stamp`, None when there is none."""

    def create_ticket(self, draft: TicketDraft) -> str:
        """Create the ticket with its stamp; its id."""

    def update_ticket(self, ticket_id: str, change: TicketChange) -> None:
        """Change what `change` gives."""

    def find_task(self, ticket_id: str, task: TaskDraft) -> str | None:
        """The id of the ticket's task at the task's position and with its title, or None."""

    def add_task(self, ticket_id: str, task: TaskDraft) -> str:
        """Add the task to the ticket; its id."""

    def close_task(self, ticket_id: str, task_id: str) -> None:
        """Mark the task done."""

    def find_opportunity(self, stamp: str, draft: OpportunityDraft) -> str | None:
        """The id of the opportunity carrying `stamp` (made whole if its create was cut
        short), None when there is none."""

    def create_opportunity(self, draft: OpportunityDraft) -> str:
        """Create the opportunity with its amount; its id."""

    def changed_tickets(self, since: datetime) -> Iterator[RemoteTicket]:
        """Every ticket changed after `since` (the PSA's clock), page by page."""

    def close(self) -> None:
        """Close the connections."""
