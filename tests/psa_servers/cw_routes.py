"""ConnectWise Manage's REST resources under `/{codebase}apis/3.0`: what each route answers."""

from __future__ import annotations

import copy
from typing import Any

from tests.psa_servers import cw_listing as listing
from tests.psa_servers.common import Request, Response, Route, route
from tests.psa_servers.cw_store import (
    COMPANY_FIELDS,
    FORECAST_TYPES,
    NOTE_FIELDS,
    OPEN_STATUS,
    OPPORTUNITY_FIELDS,
    TASK_FIELDS,
    TICKET_FIELDS,
    CwStore,
    Record,
    invalid_field,
    patch_changes,
    replace,
)


class CwResources:
    """The routes of one company's API; `root` is the server's URL, for the `Link` headers."""

    def __init__(self, store: CwStore, root: str) -> None:
        self.store = store
        self.root = root

    def routes(self) -> list[Route]:
        """Every route under the API root, as (method, path pattern, handler)."""
        return self._service_routes() + self._other_routes()

    def _service_routes(self) -> list[Any]:
        t, task, note = (
            r"/service/tickets",
            r"/service/tickets/(\d+)/tasks",
            r"/service/tickets/(\d+)/notes",
        )
        return [
            route("GET", t, lambda r: self._list(r, "ticket", TICKET_FIELDS)),
            route("GET", t + "/count", lambda r: self._count(r, "ticket", TICKET_FIELDS)),
            route("POST", t + "/search", self._search_tickets),
            route("POST", t, self._create_ticket),
            route("GET", t + r"/(\d+)", lambda r, i: self._one("ticket", i, "Ticket")),
            route("PATCH", t + r"/(\d+)", self._patch_ticket),
            route("DELETE", t + r"/(\d+)", lambda r, i: self._delete("ticket", i, "Ticket")),
            route("GET", task, lambda r, i: self._children(r, "task", "ticketId", i, TASK_FIELDS)),
            route(
                "GET", task + "/count", lambda r, i: self._child_count(r, "task", i, TASK_FIELDS)
            ),
            route("POST", task, self._create_task),
            route("GET", task + r"/(\d+)", lambda r, i, k: self._child("task", i, k)),
            route("PATCH", task + r"/(\d+)", self._patch_task),
            route("DELETE", task + r"/(\d+)", lambda r, i, k: self._delete_child("task", i, k)),
            route("GET", note, lambda r, i: self._children(r, "note", "ticketId", i, NOTE_FIELDS)),
            route("POST", note, self._create_note),
            route("GET", note + r"/(\d+)", lambda r, i, k: self._child("note", i, k)),
        ]

    def _other_routes(self) -> list[Any]:
        o, c, b = "/sales/opportunities", "/company/companies", "/service/boards"
        return [
            route("GET", o, lambda r: self._list(r, "opportunity", OPPORTUNITY_FIELDS)),
            route("GET", o + "/count", lambda r: self._count(r, "opportunity", OPPORTUNITY_FIELDS)),
            route("POST", o, self._create_opportunity),
            route("GET", o + r"/(\d+)", lambda r, i: self._one("opportunity", i, "Opportunity")),
            route("PATCH", o + r"/(\d+)", self._patch_opportunity),
            route(
                "DELETE", o + r"/(\d+)", lambda r, i: self._delete("opportunity", i, "Opportunity")
            ),
            route("GET", o + r"/(\d+)/forecast", self._forecast),
            route("POST", o + r"/(\d+)/forecast", self._add_forecast_item),
            route("GET", c, lambda r: self._list(r, "company", COMPANY_FIELDS)),
            route("GET", c + "/count", lambda r: self._count(r, "company", COMPANY_FIELDS)),
            route("GET", c + r"/(\d+)", lambda r, i: self._one("company", i, "Company")),
            route("GET", b, lambda r: self._list(r, "board", {"id", "name", "inactiveFlag"})),
            route("GET", b + r"/(\d+)", lambda r, i: self._one("board", i, "Board")),
            route("GET", b + r"/(\d+)/statuses", self._statuses),
            route("GET", "/service/sources", lambda r: self._list(r, "source", {"id", "name"})),
            route(
                "GET",
                "/service/priorities",
                lambda r: self._list(r, "priority", {"id", "name", "sort"}),
            ),
            route(
                "GET",
                "/system/info",
                lambda r: Response(200, {"version": "v2025.1", "isCloud": False}),
            ),
        ]

    # generic reads

    def _list(self, request: Request, kind: str, documented: set[str]) -> Response:
        records = list(self.store.records(kind))
        return listing.page_of(
            request, records, listing.known_fields(records, documented), self.root
        )

    def _count(self, request: Request, kind: str, documented: set[str]) -> Response:
        records = list(self.store.records(kind))
        return listing.count_of(request, records, listing.known_fields(records, documented))

    def _one(self, kind: str, record_id: str, resource: str) -> Response:
        return Response(200, self.store.get(kind, int(record_id), resource))

    def _delete(self, kind: str, record_id: str, resource: str) -> Response:
        self.store.get(kind, int(record_id), resource)
        del self.store.tables[kind][int(record_id)]
        return Response(204)

    def _children(
        self, request: Request, kind: str, key: str, parent: str, documented: set[str]
    ) -> Response:
        self.store.get("ticket", int(parent), "Ticket")
        records = self.store.children(kind, key, int(parent))
        return listing.page_of(
            request, records, listing.known_fields(records, documented), self.root
        )

    def _child_count(
        self, request: Request, kind: str, parent: str, documented: set[str]
    ) -> Response:
        self.store.get("ticket", int(parent), "Ticket")
        records = self.store.children(kind, "ticketId", int(parent))
        return listing.count_of(request, records, listing.known_fields(records, documented))

    def _child(self, kind: str, parent: str, child: str) -> Response:
        return Response(200, self._child_record(kind, parent, child))

    def _child_record(self, kind: str, parent: str, child: str) -> Record:
        self.store.get("ticket", int(parent), "Ticket")
        record = self.store.get(kind, int(child), kind.capitalize())
        if record["ticketId"] != int(parent):
            raise listing.invalid(f"{kind} {child} is not on ticket {parent}")
        return record

    def _delete_child(self, kind: str, parent: str, child: str) -> Response:
        del self.store.tables[kind][self._child_record(kind, parent, child)["id"]]
        return Response(204)

    def _statuses(self, request: Request, board_id: str) -> Response:
        self.store.get("board", int(board_id), "Board")
        records = self.store.board_statuses(int(board_id))
        fields = listing.known_fields(records, {"id", "name", "closedStatus", "defaultFlag"})
        return listing.page_of(request, records, fields, self.root)

    # writes

    def _body(self, request: Request, shape: type) -> Any:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise listing.invalid("The request body is not valid JSON") from None
        if not isinstance(body, shape):
            raise listing.invalid(f"The request body must be a JSON {shape.__name__}")
        return body

    def _search_tickets(self, request: Request) -> Response:
        conditions = self._body(request, dict).get("conditions")
        searched = copy.copy(request)
        searched.query = {**request.query, "conditions": [conditions or ""]}
        return self._list(searched, "ticket", TICKET_FIELDS)

    def _create_ticket(self, request: Request) -> Response:
        return Response(201, self.store.new_ticket(self._body(request, dict)))

    def _patch_ticket(self, request: Request, ticket_id: str) -> Response:
        ticket = self.store.get("ticket", int(ticket_id), "Ticket")
        changes = patch_changes(self._body(request, list), TICKET_FIELDS, ticket, "ticket")
        return Response(200, replace(ticket, self.store.set_ticket_fields(ticket, changes, False)))

    def _create_task(self, request: Request, ticket_id: str) -> Response:
        self.store.get("ticket", int(ticket_id), "Ticket")
        base = {"ticketId": int(ticket_id), "closedFlag": False, "priority": 1}
        task = self.store.save(base, self._body(request, dict), "task", ("notes",), creating=True)
        return Response(201, self.store.insert("task", task))

    def _patch_task(self, request: Request, ticket_id: str, task_id: str) -> Response:
        task = self._child_record("task", ticket_id, task_id)
        changes = patch_changes(self._body(request, list), TASK_FIELDS, task, "task")
        return Response(200, self.store.save(task, changes, "task", ("notes",), creating=False))

    def _create_note(self, request: Request, ticket_id: str) -> Response:
        self.store.get("ticket", int(ticket_id), "Ticket")
        base = {"ticketId": int(ticket_id), "detailDescriptionFlag": False,
                "internalAnalysisFlag": False, "resolutionFlag": False,
                "dateCreated": self.store.stamp(), "createdBy": self.store.updated_by}  # fmt: skip
        note = self.store.save(base, self._body(request, dict), "note", ("text",), creating=True)
        return Response(201, self.store.insert("note", note))

    def _create_opportunity(self, request: Request) -> Response:
        base = {"status": dict(OPEN_STATUS), "closedFlag": False}
        body = self._body(request, dict)
        opportunity = self.store.save(base, body, "opportunity", ("name", "company"), creating=True)
        return Response(201, self.store.insert("opportunity", opportunity))

    def _patch_opportunity(self, request: Request, opportunity_id: str) -> Response:
        found = self.store.get("opportunity", int(opportunity_id), "Opportunity")
        changes = patch_changes(self._body(request, list), OPPORTUNITY_FIELDS, found, "opportunity")
        return Response(
            200, self.store.save(found, changes, "opportunity", ("name", "company"), False)
        )

    def _forecast(self, request: Request, opportunity_id: str) -> Response:
        self.store.get("opportunity", int(opportunity_id), "Opportunity")
        items = self.store.children("forecast", "opportunityId", int(opportunity_id))
        return Response(200, {"id": int(opportunity_id), "forecastItems": items})

    def _add_forecast_item(self, request: Request, opportunity_id: str) -> Response:
        found = self.store.get("opportunity", int(opportunity_id), "Opportunity")
        body = self._body(request, dict)
        if body.get("forecastType") not in FORECAST_TYPES:
            raise invalid_field(
                "forecast", "forecastType", f"forecastType must be one of {sorted(FORECAST_TYPES)}"
            )
        for number in ("revenue", "cost"):
            if not isinstance(body.get(number, 0), int | float) or isinstance(
                body.get(number), bool
            ):
                raise invalid_field("forecast", number, f"{number} must be a number")
        base = {"opportunityId": found["id"], "revenue": 0.0, "cost": 0.0, "includeFlag": True,
                "status": dict(OPEN_STATUS)}  # fmt: skip
        item = self.store.insert("forecast", {**base, **copy.deepcopy(body)})
        item["opportunityId"] = found["id"]
        found["_info"] = self.store.info(found["_info"])
        return Response(201, item)
