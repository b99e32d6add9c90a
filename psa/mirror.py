"""Delivering what xbr mirrors in the PSA, one outbox message at a time: the review's ticket
(made once, then its status, meeting date, hours and tasks brought up to date), a follow-up
ticket (made, closed) and an approved initiative's opportunity.

Every create is made exactly once: it is marked as sent before it goes, and a retry after a
lost answer finds the object by its stamp before it would create it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from psa.connection import Connection
from psa.connector import Connector, OpportunityDraft, TaskDraft, TicketChange, TicketDraft
from states.psa import links, reads
from states.psa.links import Link
from states.psa.mirroring import OPPORTUNITY, REVIEW, TICKET
from states.store.db import UnitOfWork


@dataclass
class Mirror:
    """One pass's PSA: its connection, connector and this installation's stamp tag."""

    uow: UnitOfWork
    connection: Connection
    connector: Connector
    tag: str

    def deliver(self, kind: str, payload: dict[str, Any]) -> None:
        """Carry out one outbox message; PsaError when the PSA did not take it."""
        if kind == REVIEW:
            self.review(payload["review_id"], payload.get("status"))
        elif kind == TICKET:
            self.ticket(payload["ticket_id"])
        elif kind == OPPORTUNITY:
            self.opportunity(payload["initiative_id"])

    def review(self, review_id: int, status: str | None) -> None:
        """The review's ticket: made with the step's status, or brought to it; then its due
        date, hours and the tasks of the phases reached."""
        review = reads.review(self.uow, review_id)
        if review.company is None:
            return  # the client was unmapped since
        label = self.connection.statuses[status or review.status]
        wanted = {"status": label, "due": _iso(review.meeting_at),
                  "budget": review.budget_hours, "actual": review.actual_hours}  # fmt: skip
        draft = TicketDraft(
            stamp="", summary=review.summary, company=review.company,
            detail="Mirrored from xbr: the review's phase, tasks and hours follow it.",
            board=self.connection.board, status=label, due=review.meeting_at,
            budget_hours=review.budget_hours, actual_hours=review.actual_hours,
        )  # fmt: skip
        ticket, state = self._ensure("review", review_id, review_id, draft, wanted)
        change = TicketChange(
            status=_new(state, wanted, "status"),
            due=review.meeting_at if _new(state, wanted, "due") else None,
            budget_hours=_new(state, wanted, "budget"),
            actual_hours=_new(state, wanted, "actual"),
        )
        if change:
            self.connector.update_ticket(ticket.remote_id or "", change)
            links.told(self.uow, ticket.id, {**state, **wanted, "seen": None})
        self._tasks(review_id, ticket.remote_id or "", review.tasks)

    def _tasks(self, review_id: int, ticket_id: str, tasks: list[reads.MirroredTask]) -> None:
        known = links.links_of(self.uow, self.connection.kind, "task", [t.id for t in tasks])
        for task in tasks:
            draft = TaskDraft(task.title, task.position, task.done)
            link = known.get(task.id) or links.link(
                self.uow, self.connection.kind, self.tag, "task", task.id, review_id, ticket_id
            )
            remote = self._made(link, partial(self.connector.find_task, ticket_id, draft),
                                partial(self.connector.add_task, ticket_id, draft),
                                {"done": task.done})  # fmt: skip
            if task.done and not remote.state.get("done"):
                self.connector.close_task(ticket_id, remote.remote_id or "")
                links.told(self.uow, link.id, {"done": True})

    def ticket(self, ticket_id: int) -> None:
        """The follow-up ticket: made (with its priority and source), closed once it is."""
        ticket = reads.ticket(self.uow, ticket_id)
        if ticket.company is None:
            return
        draft = TicketDraft(
            stamp="", summary=ticket.summary, company=ticket.company, detail=ticket.detail,
            board=self.connection.ticket_board or self.connection.board,
            status=self.connection.closed_status if ticket.closed else None,
            priority=self.connection.priorities.get(ticket.severity),
            source=self.connection.source or None, due=ticket.due_at,
        )  # fmt: skip
        made, state = self._ensure("ticket", ticket_id, None, draft, {"closed": ticket.closed})
        if ticket.closed and not state.get("closed"):
            change = TicketChange(status=self.connection.closed_status)
            self.connector.update_ticket(made.remote_id or "", change)
            links.told(self.uow, made.id, {**state, "closed": True})

    def opportunity(self, initiative_id: int) -> None:
        """The approved initiative as an opportunity: its first year's value, closing by the
        end of its quarter (in 90 days when it has none)."""
        initiative = reads.initiative(self.uow, initiative_id)
        if initiative.company is None:
            return
        link = links.link(self.uow, self.connection.kind, self.tag, "opportunity",
                          initiative_id, None)  # fmt: skip
        draft = OpportunityDraft(
            stamp=link.stamp, name=initiative.name, company=initiative.company,
            amount=initiative.amount, notes=initiative.why,
            close_on=initiative.close_on or date.today() + timedelta(days=90),
        )  # fmt: skip
        self._made(link, lambda: self.connector.find_opportunity(link.stamp, draft),
                   lambda: self.connector.create_opportunity(draft),
                   {"amount": str(initiative.amount)})  # fmt: skip

    def _ensure(
        self, obj: str, local_id: int, review_id: int | None, draft: TicketDraft,
        state: dict[str, Any],
    ) -> tuple[Link, dict[str, Any]]:  # fmt: skip
        """The object's ticket, made with `draft` (and its stamp) unless it exists; with what
        the PSA knows of it (`state` when just made)."""
        link = links.link(self.uow, self.connection.kind, self.tag, obj, local_id, review_id)
        stamped = TicketDraft(**{**draft.__dict__, "stamp": link.stamp})
        made = self._made(link, lambda: self.connector.find_ticket(link.stamp, draft.company),
                          lambda: self.connector.create_ticket(stamped), state)  # fmt: skip
        return made, made.state

    def _made(
        self, link: Link, find: Callable[[], str | None], create: Callable[[], str],
        state: dict[str, Any],
    ) -> Link:  # fmt: skip
        """The link with the PSA's id: known, found by its stamp after a create that may have
        gone (it knows nothing of what the PSA was told then), or made now with `state`."""
        if link.remote_id is not None:
            return link
        if link.create_sent:
            found = find()
            if found is not None:
                links.created(self.uow, link.id, found, {})
                return Link(**{**link.__dict__, "remote_id": found, "state": {}})
        links.mark_create_sent(self.uow, link.id)
        remote_id = create()
        links.created(self.uow, link.id, remote_id, state)
        return Link(**{**link.__dict__, "remote_id": remote_id, "state": state})


def _new(state: dict[str, Any], wanted: dict[str, Any], key: str) -> Any:
    """The wanted value when the PSA was told another (or nothing), else None."""
    return wanted[key] if state.get(key) != wanted[key] and wanted[key] is not None else None


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
