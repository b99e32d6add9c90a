"""Autotask's REST routes under `/ATServicesRest/V1.0`: entities, queries and their pages."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.psa_servers import at_query
from tests.psa_servers.at_entities import (
    CHECKLIST_ITEMS,
    ENTITIES,
    RESOURCES,
    TICKET_NOTES,
    TICKETS,
    Entity,
    Record,
    errors,
    field_info,
)
from tests.psa_servers.at_store import AtStore
from tests.psa_servers.common import Request, Response, Route, route

NAME = r"/([A-Za-z]+)"


class AtResources:
    """The routes of one tenant's API; `api_url` (ending in V1.0) prefixes the page URLs."""

    def __init__(self, store: AtStore, api_url: str, request_count: Callable[[], int]) -> None:
        self.store = store
        self.api_url = api_url
        self.request_count = request_count

    def routes(self) -> list[Route]:
        """Every route under the API root, as (method, path pattern, handler)."""
        checklist, notes = r"/Tickets/(\d+)/ChecklistItems", r"/Tickets/(\d+)/Notes"
        return [
            route("GET", "/ThresholdInformation", self._threshold),
            route("GET", NAME + "/entityInformation/fields", self._fields),
            route("GET", NAME + "/query", lambda r, n: self._query(r, n, count=False)),
            route("POST", NAME + "/query", lambda r, n: self._query(r, n, count=False)),
            route("GET", NAME + "/query/count", lambda r, n: self._query(r, n, count=True)),
            route("POST", NAME + "/query/count", lambda r, n: self._query(r, n, count=True)),
            route("GET", NAME + "/query/(next|prev)", self._more),
            route("POST", NAME + "/query/(next|prev)", self._more),
            route("GET", checklist, lambda r, t: self._children(CHECKLIST_ITEMS, t)),
            route("POST", checklist, lambda r, t: self._write_child(r, CHECKLIST_ITEMS, t, True)),
            route("PATCH", checklist, lambda r, t: self._write_child(r, CHECKLIST_ITEMS, t, False)),
            route("GET", checklist + r"/(\d+)", lambda r, t, i: self._child(CHECKLIST_ITEMS, t, i)),
            route("DELETE", checklist + r"/(\d+)", self._delete_checklist_item),
            route("GET", notes, lambda r, t: self._children(TICKET_NOTES, t)),
            route("POST", notes, lambda r, t: self._write_child(r, TICKET_NOTES, t, True)),
            route("GET", NAME + r"/(\d+)", self._get),
            route("POST", NAME, lambda r, n: self._write(r, n, creating=True)),
            route("PATCH", NAME, lambda r, n: self._write(r, n, creating=False)),
        ]

    def _entity(self, name: str) -> Entity:
        entity = ENTITIES.get(name.lower())
        if entity is None:
            raise errors(404, f"No entity named {name}")
        return entity

    def _threshold(self, request: Request) -> Response:
        return Response(200, {"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
                              "currentTimeframeRequestCount": self.request_count()})  # fmt: skip

    def _fields(self, request: Request, name: str) -> Response:
        entity = self._entity(name)
        picklists = self.store.picklists if entity is TICKETS else {}
        return Response(200, {"fields": field_info(entity, picklists)})

    def _get(self, request: Request, name: str, record_id: str) -> Response:
        return Response(200, {"item": self.store.record(self._entity(name), int(record_id))})

    # queries

    def _query(self, request: Request, name: str, count: bool) -> Response:
        entity = self._entity(name)
        query = self._read_query(request, request.method == "POST")
        matched = self._matching(entity, query)
        if count:
            return Response(200, {"queryCount": len(matched)})
        return self._page(entity, query, matched, {"pageSize": query.max_records}, request)

    def _more(self, request: Request, name: str, direction: str) -> Response:
        entity = self._entity(name)
        try:
            paging = json.loads(request.arg("paging") or "")
        except ValueError:
            paging = None
        if not isinstance(paging, dict):
            raise errors(400, "paging is not valid")
        if paging.get("post") and request.method != "POST":
            raise errors(405, "The requested resource does not support http method 'GET'.")
        query = self._read_query(request, request.method == "POST" and bool(request.body))
        matched = self._matching(entity, query)
        return self._page(entity, query, matched, paging, request)

    def _read_query(self, request: Request, from_body: bool) -> at_query.Query:
        try:
            raw = request.json() if from_body else json.loads(request.arg("search") or "")
            return at_query.parse_query(raw)
        except (ValueError, UnicodeDecodeError) as error:
            text = str(error) if isinstance(error, at_query.QueryError) else "not valid JSON"
            raise errors(400, f"The query is not valid: {text}") from None

    def _matching(self, entity: Entity, query: at_query.Query) -> list[Record]:
        records = list(self.store.tables[entity.name.lower()].values())
        known = {name.lower(): name for r in records for name in r} | {
            name.lower(): name for name in entity.fields
        }
        try:
            at_query.check(query.filter, lambda field: known.get(field.lower()))
        except at_query.QueryError as error:
            raise errors(400, str(error)) from None
        return sorted(
            (r for r in records if at_query.matches(query.filter, r)), key=lambda r: r["id"]
        )

    def _page(
        self,
        entity: Entity,
        query: at_query.Query,
        matched: list[Record],
        paging: Record,
        request: Request,
    ) -> Response:
        found = at_query.page(matched, query.max_records, paging)
        if query.include and "id" not in {f.lower() for f in query.include} and found.after:
            raise errors(400, "IncludeFields must include id when the query has more pages")
        base = f"{self.api_url}/{entity.name}/query"
        post = {"post": True} if request.method == "POST" else {}
        size = {"pageSize": query.max_records, **post}
        after = {**size, "afterId": found.after}
        before = {**size, "beforeId": found.before}
        details = {
            "count": len(found.items),
            "requestCount": query.max_records,
            "prevPageUrl": at_query.page_url(base + "/prev", before, query)
            if found.before
            else None,
            "nextPageUrl": at_query.page_url(base + "/next", after, query) if found.after else None,
        }
        items = [at_query.trimmed(r, query.include) for r in found.items]
        return Response(200, {"items": items, "pageDetails": details})

    # writes

    def _write(self, request: Request, name: str, creating: bool) -> Response:
        entity = self._entity(name)
        if entity is RESOURCES:
            raise errors(405, "Resources cannot be written through this API")
        return Response(200, {"itemId": self.store.save(entity, self._body(request), creating)})

    def _write_child(
        self, request: Request, entity: Entity, ticket_id: str, creating: bool
    ) -> Response:
        self.store.record(TICKETS, int(ticket_id))
        body = {**self._body(request), "ticketID": int(ticket_id)}
        if not creating:
            if not isinstance(body.get("id"), int):
                raise errors(400, f"The id of the {entity.singular} to update is required")
            self._child(entity, ticket_id, str(body["id"]))
        return Response(200, {"itemId": self.store.save(entity, body, creating)})

    def _children(self, entity: Entity, ticket_id: str) -> Response:
        self.store.record(TICKETS, int(ticket_id))
        items = [
            r
            for r in self.store.tables[entity.name.lower()].values()
            if r["ticketID"] == int(ticket_id)
        ]
        details = {
            "count": len(items),
            "requestCount": 500,
            "prevPageUrl": None,
            "nextPageUrl": None,
        }
        return Response(200, {"items": items, "pageDetails": details})

    def _child(self, entity: Entity, ticket_id: str, item_id: str) -> Response:
        record = self.store.record(entity, int(item_id)) if item_id.isdigit() else None
        if record is None or record["ticketID"] != int(ticket_id):
            raise errors(404, f"{entity.singular} {item_id} is not on ticket {ticket_id}")
        return Response(200, {"item": record})

    def _delete_checklist_item(self, request: Request, ticket_id: str, item_id: str) -> Response:
        self._child(CHECKLIST_ITEMS, ticket_id, item_id)
        del self.store.tables[CHECKLIST_ITEMS.name.lower()][int(item_id)]
        return Response(200, {"itemId": int(item_id)})

    def _body(self, request: Request) -> Record:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise errors(400, "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors(400, "The request body must be a JSON object")
        return body
