"""ConnectWise Manage's REST API 3.0: Basic auth of companyId+publicKey:privateKey and the
integration's clientId header; `conditions` queries; pages followed by their Link header.

The stamp of a ticket is its `externalXRef`; an opportunity (which has none) carries it in its
notes. An opportunity's amount is a forecast item's revenue (it has no amount of its own).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
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
from psa.http import Api, PsaError
from psa.values import moment, number, utc_text

PAGE = 1000  # the largest page ConnectWise gives
SUMMARY = 100  # characters of a ticket's summary, an opportunity's name
FIX = ("check --company-id, --public-key, --private-key and --client-id "
       "(`xbr psa connect connectwise`)")  # fmt: skip
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def site_api(site: str, company_id: str, transport: httpx.BaseTransport | None = None) -> str:
    """The API root of a ConnectWise site: its codebase read from /login/companyinfo."""
    site = site.rstrip("/")
    try:
        with httpx.Client(timeout=20, transport=transport) as client:
            answer = client.get(f"{site}/login/companyinfo/{company_id}")
        codebase = answer.json()["Codebase"] if answer.is_success else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        codebase = None
    if not isinstance(codebase, str) or not re.fullmatch(r"[\w.-]+/", codebase):
        raise PsaError(
            f"ConnectWise at {site} does not know company {company_id!r}; check --url (your "
            "site, e.g. https://api-na.myconnectwise.net) and --company-id"
        )
    return f"{site}/{codebase}apis/3.0"


class ConnectWise:
    """ConnectWise Manage, in xbr's terms."""

    name = "ConnectWise"

    def __init__(self, connection: Connection, transport: httpx.BaseTransport | None = None):
        login = f"{connection.company_id}+{connection.public_key}:"
        login += connection.private_key.get_secret_value()
        headers = {
            "Authorization": "Basic " + base64.b64encode(login.encode()).decode(),
            "clientId": connection.client_id,
            "Accept": "application/json",
        }
        self.api = Api(self.name, connection.url.rstrip("/") + "/", headers,
                       connection.requests_per_second, FIX, transport)  # fmt: skip

    def check(self) -> None:
        """Count the companies: any answer but a refusal proves the keys."""
        self.api.call("GET", "company/companies/count")

    def board_statuses(self, board: str) -> list[str] | None:
        """The board's statuses (GET /service/boards/{id}/statuses)."""
        term = re.sub(r'["\\]', "", board)[:100]
        found = self._get("service/boards", conditions=f'name = "{term}"', fields="id,name")
        if not found:
            return None
        statuses = self._get(f"service/boards/{int(found[0]['id'])}/statuses", fields="id,name")
        return [str(s.get("name", "")) for s in statuses]

    def companies(self, name: str) -> list[Company]:
        """Companies whose name contains `name` (quotes dropped: the query's own syntax)."""
        term = re.sub(r'["\\]', "", name)[:100]
        found = self._get("company/companies", conditions=f'name contains "{term}"',
                          fields="id,name", pageSize=50)  # fmt: skip
        return [Company(str(c["id"]), str(c.get("name", ""))) for c in found]

    def company(self, company_id: str) -> Company:
        """One company by id."""
        found = self.api.call("GET", f"company/companies/{_id(company_id)}").json()
        return Company(str(found["id"]), str(found.get("name", "")))

    def find_ticket(self, stamp: str, company: str) -> str | None:
        """The ticket whose externalXRef is the stamp."""
        found = self._get("service/tickets", conditions=f'externalXRef = "{stamp}"', fields="id")
        return str(found[0]["id"]) if found else None

    def create_ticket(self, draft: TicketDraft) -> str:
        """POST /service/tickets with the stamp as externalXRef."""
        body: dict[str, Any] = {
            "summary": _cut(draft.summary, SUMMARY),
            "company": {"id": _id(draft.company)},
            "externalXRef": draft.stamp,
            "initialDescription": draft.detail,
        }
        for key, value in (("board", draft.board), ("status", draft.status),
                           ("priority", draft.priority), ("source", draft.source)):  # fmt: skip
            if value:
                body[key] = {"name": value}
        body.update(_hours_and_due(draft.due, draft.budget_hours, draft.actual_hours))
        return str(self.api.call("POST", "service/tickets", json=body).json()["id"])

    def update_ticket(self, ticket_id: str, change: TicketChange) -> None:
        """PATCH the ticket with one replace per field that changes."""
        ops = [{"op": "replace", "path": k, "value": v}
               for k, v in _hours_and_due(change.due, change.budget_hours,
                                          change.actual_hours).items()]  # fmt: skip
        if change.status:
            ops.insert(0, {"op": "replace", "path": "status", "value": {"name": change.status}})
        if ops:
            self.api.call("PATCH", f"service/tickets/{_id(ticket_id)}", json=ops)

    def find_task(self, ticket_id: str, task: TaskDraft) -> str | None:
        """The ticket's task with the task's title as notes and its position as priority."""
        for found in self._get(f"service/tickets/{_id(ticket_id)}/tasks"):
            if found.get("notes") == task.title and found.get("priority") == task.position:
                return str(found["id"])
        return None

    def add_task(self, ticket_id: str, task: TaskDraft) -> str:
        """POST a task: its title as notes, its position as its priority (the order)."""
        body = {"notes": task.title, "priority": task.position, "closedFlag": task.done}
        url = f"service/tickets/{_id(ticket_id)}/tasks"
        return str(self.api.call("POST", url, json=body).json()["id"])

    def close_task(self, ticket_id: str, task_id: str) -> None:
        """PATCH closedFlag."""
        url = f"service/tickets/{_id(ticket_id)}/tasks/{_id(task_id)}"
        self.api.call("PATCH", url, json=[{"op": "replace", "path": "closedFlag", "value": True}])

    def find_opportunity(self, stamp: str, draft: OpportunityDraft) -> str | None:
        """The opportunity whose notes carry the stamp, its forecast item added if missing."""
        found = self._get("sales/opportunities", fields="id",
                          conditions=f'notes contains "{stamp}" and company/id = '
                                     f"{_id(draft.company)}")  # fmt: skip
        if not found:
            return None
        opportunity_id = str(found[0]["id"])
        forecast = self.api.call("GET", f"sales/opportunities/{opportunity_id}/forecast").json()
        if not forecast.get("forecastItems"):  # the create was cut short before its amount
            self._add_revenue(opportunity_id, draft)
        return opportunity_id

    def create_opportunity(self, draft: OpportunityDraft) -> str:
        """POST the opportunity (stamp in its notes), then its amount as a forecast item."""
        body = {
            "name": _cut(draft.name, SUMMARY),
            "company": {"id": _id(draft.company)},
            "expectedCloseDate": f"{draft.close_on.isoformat()}T00:00:00Z",
            "notes": f"{draft.notes}\n\nxbr reference: {draft.stamp}".strip(),
            "source": "BTR",
        }
        opportunity_id = str(self.api.call("POST", "sales/opportunities", json=body).json()["id"])
        self._add_revenue(opportunity_id, draft)
        return opportunity_id

    def _add_revenue(self, opportunity_id: str, draft: OpportunityDraft) -> None:
        item = {"forecastType": "Service", "revenue": float(draft.amount), "cost": 0.0,
                "includeFlag": True, "forecastDescription": _cut(draft.name, 50)}  # fmt: skip
        self.api.call("POST", f"sales/opportunities/{opportunity_id}/forecast", json=item)

    def changed_tickets(self, since: datetime) -> Iterator[RemoteTicket]:
        """Tickets with lastUpdated after `since`, by id, a page of 1,000 at a time."""
        params = {"conditions": f"lastUpdated > [{utc_text(since)}]", "orderBy": "id asc",
                  "fields": "id,status,closedFlag,_info", "pageSize": PAGE}  # fmt: skip
        url: str | None = "service/tickets"
        while url:
            response = self.api.call("GET", url, params=params)
            for found in response.json():
                info = found.get("_info") or {}
                yield RemoteTicket(
                    id=str(found["id"]),
                    status=str((found.get("status") or {}).get("name", "")),
                    closed=bool(found.get("closedFlag")),
                    updated_at=moment(info.get("lastUpdated")),
                    by=str(info.get("updatedBy", "")),
                )
            follow = _NEXT.search(response.headers.get("Link", ""))
            url, params = (follow.group(1), {}) if follow else (None, {})

    def _get(self, url: str, **params: Any) -> list[dict[str, Any]]:
        found = self.api.call("GET", url, params={"pageSize": PAGE, **params}).json()
        return found if isinstance(found, list) else []

    def close(self) -> None:
        """Close the connections."""
        self.api.close()


def _hours_and_due(
    due: datetime | None, budget: float | None, actual: float | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if due is not None:
        fields["requiredDate"] = utc_text(due)
    if budget is not None:
        fields["budgetHours"] = round(budget, 2)
    if actual is not None:
        fields["actualHours"] = round(actual, 2)
    return fields


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _id(value: str) -> int:
    return number(value, "ConnectWise")
