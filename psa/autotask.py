"""Autotask's REST API: the ApiIntegrationCode, UserName and Secret headers; the zone's URL
found by zoneInformation; queries as a JSON filter, pages followed by their nextPageUrl.

Statuses, priorities, queues and sources are the tenant's picklists, read once by their labels.
The stamp of a ticket is its `externalID`; an opportunity carries it in its description.
Autotask keeps no actual hours on a ticket (time entries hold them): only the estimate goes.
"""

from __future__ import annotations

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
from psa.http import Api, PsaError
from psa.values import moment, number, utc_text

COMPLETE = 5  # the status of a completed ticket in every tenant
PAGE = 500
FIX = ("check --username, --secret and --integration-code "
       "(`xbr psa connect autotask`)")  # fmt: skip
ZONES = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"


def zone_url(
    username: str, lookup: str = ZONES, transport: httpx.BaseTransport | None = None
) -> str:
    """The API URL of the user's zone (…/ATServicesRest/)."""
    try:
        with httpx.Client(timeout=20, transport=transport) as client:
            answer = client.get(lookup, params={"user": username})
        url = answer.json().get("url") if answer.is_success else None
    except (httpx.HTTPError, ValueError, AttributeError):
        url = None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PsaError(
            f"Autotask does not know the API user {username!r}; check --username (the API "
            "user's email)"
        )
    return url


class Autotask:
    """Autotask, in xbr's terms."""

    name = "Autotask"

    def __init__(self, connection: Connection, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        headers = {
            "ApiIntegrationCode": connection.integration_code.get_secret_value(),
            "UserName": connection.username,
            "Secret": connection.secret.get_secret_value(),
            "Accept": "application/json",
        }
        base = connection.url.rstrip("/") + "/V1.0/"
        self.api = Api(self.name, base, headers, connection.requests_per_second, FIX, transport)
        self._picklists: dict[str, dict[str, int]] | None = None

    def check(self) -> None:
        """Read the tickets' picklists: proves the credentials, and they are needed anyway."""
        self._picklists = None
        self._picklist("status")

    def board_statuses(self, board: str) -> list[str] | None:
        """The tenant's ticket statuses, when `board` is one of its queues."""
        if board not in self._picklist("queueID"):
            return None
        return list(self._picklist("status"))

    def companies(self, name: str) -> list[Company]:
        """Companies whose name contains `name`."""
        query = {
            "MaxRecords": 50,
            "IncludeFields": ["id", "companyName"],
            "filter": [{"op": "contains", "field": "companyName", "value": name[:100]}],
        }
        found = self.api.call("POST", "Companies/query", json=query).json().get("items", [])
        return [Company(str(c["id"]), str(c.get("companyName", ""))) for c in found]

    def company(self, company_id: str) -> Company:
        """One company by id."""
        item = self.api.call("GET", f"Companies/{_id(company_id)}").json().get("item")
        if not item:
            raise PsaError(f"Autotask has no company {company_id}")
        return Company(str(item["id"]), str(item.get("companyName", "")))

    def find_ticket(self, stamp: str, company: str) -> str | None:
        """The ticket whose externalID is the stamp."""
        return self._first("Tickets/query", [{"op": "eq", "field": "externalID", "value": stamp}])

    def create_ticket(self, draft: TicketDraft) -> str:
        """POST Tickets with the stamp as externalID; statuses and priorities by label."""
        body: dict[str, Any] = {
            "companyID": _id(draft.company),
            "title": draft.summary[:255],
            "description": draft.detail[:8000],
            "externalID": draft.stamp,
            "status": self._value("status", draft.status) or self._default("status"),
            "priority": self._value("priority", draft.priority) or self._default("priority"),
        }
        for field, label in (("queueID", draft.board), ("source", draft.source)):
            value = self._value(field, label, required=False)
            if value is not None:
                body[field] = value
        body.update(self._due_and_estimate(draft.due, draft.budget_hours))
        return str(self.api.call("POST", "Tickets", json=body).json()["itemId"])

    def update_ticket(self, ticket_id: str, change: TicketChange) -> None:
        """PATCH Tickets with the ticket's id and what changes."""
        body: dict[str, Any] = self._due_and_estimate(change.due, change.budget_hours)
        if change.status:
            body["status"] = self._value("status", change.status)
        if body:
            self.api.call("PATCH", "Tickets", json={"id": _id(ticket_id), **body})

    def find_task(self, ticket_id: str, task: TaskDraft) -> str | None:
        """The checklist item with the task's name and position."""
        found = self.api.call("GET", f"Tickets/{_id(ticket_id)}/ChecklistItems").json()
        for item in found.get("items", []):
            if item.get("itemName") == task.title[:255] and item.get("position") == task.position:
                return str(item["id"])
        return None

    def add_task(self, ticket_id: str, task: TaskDraft) -> str:
        """POST a checklist item."""
        body = {"itemName": task.title[:255], "position": task.position,
                "isCompleted": task.done}  # fmt: skip
        url = f"Tickets/{_id(ticket_id)}/ChecklistItems"
        return str(self.api.call("POST", url, json=body).json()["itemId"])

    def close_task(self, ticket_id: str, task_id: str) -> None:
        """PATCH the checklist item complete."""
        url = f"Tickets/{_id(ticket_id)}/ChecklistItems"
        self.api.call("PATCH", url, json={"id": _id(task_id), "isCompleted": True})

    def find_opportunity(self, stamp: str, draft: OpportunityDraft) -> str | None:
        """The opportunity whose description carries the stamp."""
        return self._first("Opportunities/query", [
            {"op": "contains", "field": "description", "value": stamp},
            {"op": "eq", "field": "companyID", "value": _id(draft.company)},
        ])  # fmt: skip

    def create_opportunity(self, draft: OpportunityDraft) -> str:
        """POST an opportunity, owned by --opportunity-owner."""
        owner = self.connection.opportunity_owner
        if not owner.isdigit():
            raise PsaError("Autotask's opportunities need an owner: give the resource id with "
                           "`xbr psa connect autotask ... --opportunity-owner ID`")  # fmt: skip
        body = {
            "title": draft.name[:128], "companyID": _id(draft.company),
            "amount": float(draft.amount), "cost": 0.0, "probability": 50,
            "projectedCloseDate": f"{draft.close_on.isoformat()}T00:00:00Z",
            "ownerResourceID": int(owner), "stage": 1, "status": 1, "useQuoteTotals": False,
            "createDate": utc_text(datetime.now(UTC)),
            "description": f"{draft.notes[:1500]}\n\nxbr reference: {draft.stamp}".strip(),
        }  # fmt: skip
        return str(self.api.call("POST", "Opportunities", json=body).json()["itemId"])

    def changed_tickets(self, since: datetime) -> Iterator[RemoteTicket]:
        """Tickets whose last activity is after `since`, 500 a page."""
        labels = {v: k for k, v in self._picklist("status").items()}
        query = {
            "MaxRecords": PAGE,
            "IncludeFields": ["id", "status", "lastActivityDate", "completedDate"],
            "filter": [{"op": "gt", "field": "lastActivityDate", "value": utc_text(since)}],
        }
        url: str | None = "Tickets/query"
        while url:
            page = self.api.call("POST", url, json=query).json()
            for item in page.get("items", []):
                status = item.get("status")
                yield RemoteTicket(
                    id=str(item["id"]), status=labels.get(status, str(status)),
                    closed=status == COMPLETE or bool(item.get("completedDate")),
                    updated_at=moment(item.get("lastActivityDate")),
                )  # fmt: skip
            url = (page.get("pageDetails") or {}).get("nextPageUrl")

    def _first(self, url: str, filters: list[dict[str, Any]]) -> str | None:
        query = {"MaxRecords": 1, "IncludeFields": ["id"], "filter": filters}
        found = self.api.call("POST", url, json=query).json().get("items", [])
        return str(found[0]["id"]) if found else None

    def _picklist(self, field: str) -> dict[str, int]:
        if self._picklists is None:
            fields = self.api.call("GET", "Tickets/entityInformation/fields").json()
            self._picklists = {
                str(f.get("name", "")).lower(): {
                    str(v.get("label", "")): int(v["value"])
                    for v in f.get("picklistValues") or []
                    if str(v.get("value", "")).lstrip("-").isdigit()
                }
                for f in fields.get("fields", [])
                if f.get("isPickList")
            }
        return self._picklists.get(field.lower(), {})

    def _value(self, field: str, label: str | None, required: bool = True) -> int | None:
        """The picklist value of a label; a clear error when the tenant has no such label."""
        if not label:
            return None
        values = self._picklist(field)
        if label in values:
            return values[label]
        if not required:
            return None
        known = ", ".join(sorted(values)[:12]) or "none"
        raise PsaError(f"Autotask has no ticket {field} {label!r} (it has: {known}); map it "
                       "with `xbr psa connect autotask ... --status PHASE=LABEL`")  # fmt: skip

    def _default(self, field: str) -> int:
        values = self._picklist(field)
        return min(values.values()) if values else 1

    def _due_and_estimate(self, due: datetime | None, hours: float | None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if due is not None:
            fields["dueDateTime"] = utc_text(due)
        if hours is not None:
            fields["estimatedHours"] = round(hours, 2)
        return fields

    def close(self) -> None:
        """Close the connections."""
        self.api.close()


def _id(value: str) -> int:
    return number(value, "Autotask")
