"""HaloPSA's API: an OAuth2 client-credentials token from /auth/token (renewed when it runs
out), then /api with a Bearer token; creates and updates are both a POST of an array.

The stamp of a ticket or opportunity is its `third_party_id_string`, and is in its details
too, which Halo's `search` reads. Statuses are read from /api/Status by name; priorities are
Halo's priority ids (--priority red=1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from psa.connection import Connection
from psa.connector import (
    Company,
    OpportunityDraft,
    RemoteTicket,
    TaskDraft,
    TicketChange,
    TicketDraft,
)
from psa.http import Api, PsaError, Refused
from psa.values import moment, number, utc_text

PAGE = 100  # Halo's largest page
FIX = "check --client-id, --client-secret and --tenant (`xbr psa connect halo`)"


class Halo:
    """HaloPSA, in xbr's terms."""

    name = "HaloPSA"

    def __init__(self, connection: Connection, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        base = connection.url.rstrip("/")
        self.api = Api(self.name, base + "/api/", {"Accept": "application/json"},
                       connection.requests_per_second, FIX, transport)  # fmt: skip
        self.token_url = base + "/auth/token"
        self.expires = 0.0
        self._statuses: dict[str, int] | None = None

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        """One API call with a live token; a token refused before its time is renewed once."""
        for renewed in (False, True):
            if time.monotonic() >= self.expires or renewed:
                self._token()
            try:
                return self.api.call(method, url, **kwargs).json()
            except Refused:
                if renewed:
                    raise
        raise AssertionError("unreachable")

    def _token(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self.connection.client_id,
                "client_secret": self.connection.client_secret.get_secret_value(),
                "scope": "all"}  # fmt: skip
        params = {"tenant": self.connection.tenant} if self.connection.tenant else {}
        self.api.pace.wait()
        try:
            answer = self.api.client.post(self.token_url, data=form, params=params)
            body = answer.json()
        except httpx.HTTPError as error:
            raise PsaError(f"HaloPSA's sign-in did not answer ({type(error).__name__})") from None
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        token = body.get("access_token")
        if not answer.is_success or not isinstance(token, str):
            said = f": {body['error']}" if isinstance(body.get("error"), str) else ""
            raise Refused(f"HaloPSA refused xbr's client credentials (HTTP {answer.status_code}"
                          f"{said[:120]}); {FIX}")  # fmt: skip
        lasts = float(body.get("expires_in") or 3600)
        self.expires = time.monotonic() + max(30.0, lasts - 60)
        self.api.client.headers["Authorization"] = f"Bearer {token}"

    def check(self) -> None:
        """Sign in and read the statuses."""
        self._statuses = None
        self._status_ids()

    def board_statuses(self, board: str) -> list[str] | None:
        """Halo's statuses (its teams take them all)."""
        return list(self._status_ids())

    def companies(self, name: str) -> list[Company]:
        """Clients whose name matches `name`."""
        found = self._call("GET", "Client", params={"search": name[:100], "count": 50})
        return [Company(str(c["id"]), str(c.get("name", ""))) for c in found.get("clients", [])]

    def company(self, company_id: str) -> Company:
        """One client by id."""
        found = self._call("GET", f"Client/{_id(company_id)}")
        return Company(str(found["id"]), str(found.get("name", "")))

    def find_ticket(self, stamp: str, company: str) -> str | None:
        """The ticket carrying the stamp (searched, then matched exactly)."""
        params = {"search": stamp, "client_id": _id(company), "count": 50}
        return _stamped(self._call("GET", "Tickets", params=params).get("tickets", []), stamp)

    def create_ticket(self, draft: TicketDraft) -> str:
        """POST one ticket."""
        ticket: dict[str, Any] = {
            "summary": draft.summary[:250],
            "details": f"{draft.detail}\n\nxbr reference: {draft.stamp}".strip(),
            "client_id": _id(draft.company),
            "third_party_id_string": draft.stamp,
        }
        if draft.board:
            ticket["team"] = draft.board
        if draft.status:
            ticket["status_id"] = self._status(draft.status)
        if draft.priority and draft.priority.isdigit():
            ticket["priority_id"] = int(draft.priority)
        ticket.update(_due_and_hours(draft.due, draft.budget_hours, draft.actual_hours))
        return _saved_id(self._call("POST", "Tickets", json=[ticket]))

    def update_ticket(self, ticket_id: str, change: TicketChange) -> None:
        """POST the ticket's id with what changes."""
        ticket = _due_and_hours(change.due, change.budget_hours, change.actual_hours)
        if change.status:
            ticket["status_id"] = self._status(change.status)
        if ticket:
            self._call("POST", "Tickets", json=[{"id": _id(ticket_id), **ticket}])

    def find_task(self, ticket_id: str, task: TaskDraft) -> str | None:
        """The to-do with the task's text and sequence."""
        found = self._call("GET", "ToDo", params={"ticket_id": _id(ticket_id)})
        for item in found if isinstance(found, list) else []:
            if item.get("text") == task.title and item.get("sequence") == task.position:
                return str(item["id"])
        return None

    def add_task(self, ticket_id: str, task: TaskDraft) -> str:
        """POST one to-do."""
        todo = {"ticket_id": _id(ticket_id), "text": task.title, "sequence": task.position,
                "done": task.done}  # fmt: skip
        return _saved_id(self._call("POST", "ToDo", json=[todo]))

    def close_task(self, ticket_id: str, task_id: str) -> None:
        """POST the to-do done."""
        todo = {"id": _id(task_id), "ticket_id": _id(ticket_id), "done": True}
        self._call("POST", "ToDo", json=[todo])

    def find_opportunity(self, stamp: str, draft: OpportunityDraft) -> str | None:
        """The opportunity carrying the stamp."""
        params = {"search": stamp, "client_id": _id(draft.company), "count": 50}
        return _stamped(self._call("GET", "Opportunities", params=params).get("tickets", []), stamp)

    def create_opportunity(self, draft: OpportunityDraft) -> str:
        """POST one opportunity."""
        opportunity = {
            "summary": draft.name[:250], "client_id": _id(draft.company),
            "oppvalue": float(draft.amount), "targetdate": f"{draft.close_on.isoformat()}T00:00:00",
            "details": f"{draft.notes}\n\nxbr reference: {draft.stamp}".strip(),
            "third_party_id_string": draft.stamp,
        }  # fmt: skip
        return _saved_id(self._call("POST", "Opportunities", json=[opportunity]))

    def changed_tickets(self, since: datetime) -> Iterator[RemoteTicket]:
        """Tickets updated since `since`, 100 a page."""
        names = {v: k for k, v in self._status_ids().items()}
        after = utc_text(since, fraction=True)
        page = 1
        while True:
            params = {"pageinate": "true", "page_size": PAGE, "page_no": page,
                      "lastupdatefromdate": after, "order": "id"}  # fmt: skip
            found = self._call("GET", "Tickets", params=params)
            tickets = found.get("tickets", [])
            for item in tickets:
                status = item.get("status_id")
                yield RemoteTicket(
                    id=str(item["id"]), status=names.get(status, str(status)),
                    closed=bool(item.get("hasbeenclosed")),
                    updated_at=moment(item.get("last_update") or item.get("lastupdate")),
                )  # fmt: skip
            if len(tickets) < PAGE or page * PAGE >= int(found.get("record_count", 0)):
                return
            page += 1

    def _status_ids(self) -> dict[str, int]:
        if self._statuses is None:
            found = self._call("GET", "Status")
            rows = found if isinstance(found, list) else []
            self._statuses = {str(s.get("name", "")): int(s["id"]) for s in rows if "id" in s}
        return self._statuses

    def _status(self, name: str) -> int:
        statuses = self._status_ids()
        if name not in statuses:
            known = ", ".join(sorted(statuses)[:12]) or "none"
            raise PsaError(f"HaloPSA has no status {name!r} (it has: {known}); map it with "
                           "`xbr psa connect halo ... --status PHASE=NAME`")  # fmt: skip
        return statuses[name]

    def close(self) -> None:
        """Close the connections."""
        self.api.close()


def _stamped(found: list[dict[str, Any]], stamp: str) -> str | None:
    for item in found:
        if item.get("third_party_id_string") == stamp:
            return str(item["id"])
    return None


def _saved_id(saved: Any) -> str:
    first = saved[0] if isinstance(saved, list) and saved else saved
    if not isinstance(first, dict) or "id" not in first:
        raise PsaError("HaloPSA's answer to a save carried no id")
    return str(first["id"])


def _due_and_hours(
    due: datetime | None, budget: float | None, actual: float | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if due is not None:
        fields["deadlinedate"] = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if budget is not None:
        fields["estimate"] = round(budget, 2)
    if actual is not None:
        fields["timetaken"] = round(actual, 2)
    return fields


def _id(value: str) -> int:
    return number(value, "HaloPSA")
