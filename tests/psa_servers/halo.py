"""A local HaloPSA: client-credentials tokens, array POSTs that create or update, list pages."""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from tests.psa_servers import halo_listing as listing
from tests.psa_servers.common import (
    ApiError,
    Clock,
    PsaServer,
    Request,
    Response,
    as_utc,
    dispatch,
    route,
    utc_now,
)
from tests.psa_servers.halo_listing import Record, bad_request
from tests.psa_servers.halo_store import HaloStore

DENIED = {"Message": "Authorization has been denied for this request."}
DEFAULT_STATUSES = ((1, "New", False), (2, "In Progress", False), (9, "Closed", True))
TICKET_TYPES = [{"id": 1, "name": "Incident"}, {"id": 2, "name": "Service Request"}]


class HaloServer(PsaServer):
    """HaloPSA for one tenant with one API application (`client_id`, `client_secret`)."""

    def __init__(
        self,
        client_id: str = "xbr",
        client_secret: str = "s3cret",
        tenant: str = "msp",
        *,
        token_seconds: int = 3600,
        latency: float = 0.0,
        rate_per_second: float | None = None,
        clock: Clock = utc_now,
        port: int = 0,
    ) -> None:
        super().__init__(latency=latency, rate_per_second=rate_per_second, clock=clock, port=port)
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.token_seconds = token_seconds
        self.store = HaloStore(clock, who=client_id)
        self._tokens: dict[str, datetime] = {}  # token -> when it expires
        for status_id, name, closed in DEFAULT_STATUSES:
            self.add_status(status_id, name, closed)
        self._routes = self._api_routes()

    @property
    def api_url(self) -> str:
        """The resource server, `{url}/api`."""
        return f"{self.url}/api"

    @property
    def token_url(self) -> str:
        """The authorisation server's token endpoint, `{url}/auth/token`."""
        return f"{self.url}/auth/token"

    def credentials(self) -> dict[str, str]:
        """What a client is configured with."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "tenant": self.tenant,
        }

    # setup, as an administrator would configure the PSA

    def add_client(self, name: str) -> int:
        """A client (customer company)."""
        with self.lock:
            return self.store.add_client(name)

    def add_status(self, status_id: int, name: str, closed: bool) -> None:
        """A ticket status; `closed` ones close the ticket they are set on."""
        with self.lock:
            self.store.add_status(status_id, name, closed)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working, as after `token_seconds`."""
        with self.lock:
            self._tokens.clear()

    # a person using the PSA

    def create_ticket(self, body: Record) -> int:
        """A ticket created by the rules of `POST /api/Tickets`; its id."""
        with self.lock:
            return int(self.store.save("ticket", [body])[0]["id"])

    def set_ticket(self, ticket_id: int, **fields: Any) -> None:
        """Change a ticket as an agent would (the same rules as a POST with its id)."""
        with self.lock:
            self.store.save("ticket", [{**fields, "id": ticket_id}])

    def close_ticket(self, ticket_id: int) -> None:
        """Move a ticket to the first closed status."""
        self.set_ticket(ticket_id, status_id=min(self.store.closed))

    def tickets(self) -> list[Record]:
        """Copies of every ticket."""
        return self._copies("ticket")

    def opportunities(self) -> list[Record]:
        """Copies of every opportunity."""
        return self._copies("opportunity")

    def tasks(self, ticket_id: int) -> list[Record]:
        """The ticket's to-do items."""
        return [r for r in self._copies("todo") if r["ticket_id"] == ticket_id]

    def actions(self, ticket_id: int) -> list[Record]:
        """Copies of the ticket's actions (notes and status changes)."""
        return [r for r in self._copies("action") if r["ticket_id"] == ticket_id]

    def _copies(self, kind: str) -> list[Record]:
        with self.lock:
            return copy.deepcopy(list(self.store.tables[kind].values()))

    # the protocol

    def throttled(self, retry_after: int) -> Any:
        return {"ClassName": "RateLimit", "Message": "Too many requests"}

    def route(self, request: Request) -> Response:
        path = request.path.lower()
        if path == "/auth/token" and request.method == "POST":
            return self._token(request)
        if path == "/api/authinfo":
            return Response(200, {"auth_url": f"{self.url}/auth", "tenant_id": self.tenant})
        if not path.startswith("/api/"):
            raise ApiError(404, {"Message": f"{request.path} was not found"})
        self._authenticate(request)
        answer = dispatch(self._routes, request)
        if answer is None:
            raise ApiError(404, {"Message": f"{request.path} was not found"})
        return answer

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        tenant = request.arg("tenant") or form.get("tenant")
        if tenant and tenant.lower() != self.tenant.lower():
            raise ApiError(500, {"ClassName": "Exception", "Message": f"Tenant {tenant} not found"})
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            description = "The client credentials are not valid"
            raise ApiError(401, {"error": "invalid_client", "error_description": description})
        token = secrets.token_urlsafe(24)
        self._tokens[token] = as_utc(self.clock()) + timedelta(seconds=self.token_seconds)
        return Response(200, {"access_token": token, "token_type": "Bearer",
                              "expires_in": self.token_seconds, "scope": "all"})  # fmt: skip

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None or as_utc(self.clock()) >= expires:
            raise ApiError(401, DENIED)

    def _api_routes(self) -> list[Any]:
        return [
            route("GET", "/api/Tickets", lambda r: self._list(r, "ticket", "tickets")),
            route("POST", "/api/Tickets", lambda r: self._post(r, "ticket")),
            route("GET", r"/api/Tickets/(\d+)", lambda r, i: self._one("ticket", i, "Ticket")),
            route("GET", "/api/Opportunities", lambda r: self._list(r, "opportunity", "tickets")),
            route("POST", "/api/Opportunities", lambda r: self._post(r, "opportunity")),
            route(
                "GET",
                r"/api/Opportunities/(\d+)",
                lambda r, i: self._one("opportunity", i, "Opportunity"),
            ),
            route("GET", "/api/ToDo", self._todos),
            route("POST", "/api/ToDo", lambda r: self._post(r, "todo")),
            route("GET", "/api/Actions", self._actions),
            route("POST", "/api/Actions", lambda r: self._post(r, "action")),
            route("GET", "/api/Client", self._clients),
            route("GET", r"/api/Client/(\d+)", lambda r, i: self._one("client", i, "Client")),
            route("GET", "/api/Status", self._statuses),
            route("GET", "/api/TicketType", lambda r: Response(200, TICKET_TYPES)),
        ]

    # reads

    def _list(self, request: Request, kind: str, key: str) -> Response:
        records = list(self.store.tables[kind].values())
        return Response(200, listing.listed(request, records, listing.ticket_tests(request), key))

    def _one(self, kind: str, record_id: str, name: str) -> Response:
        record = self.store.tables[kind].get(int(record_id))
        if record is None:
            raise ApiError(404, {"Message": f"{name} {record_id} not found"})
        return Response(200, record)

    def _todos(self, request: Request) -> Response:
        ticket_id = listing.number(request, "ticket_id")
        rows = [
            r for r in self.store.tables["todo"].values() if ticket_id in (None, r["ticket_id"])
        ]
        return Response(200, sorted(rows, key=lambda r: (r["sequence"], r["id"])))

    def _actions(self, request: Request) -> Response:
        ticket_id = listing.number(request, "ticket_id")
        rows = [
            r for r in self.store.tables["action"].values() if ticket_id in (None, r["ticket_id"])
        ]
        return Response(200, {"record_count": len(rows), "actions": rows})

    def _clients(self, request: Request) -> Response:
        text = (request.arg("search") or "").casefold()
        tests: list[listing.Test] = [lambda r: text in r["name"].casefold()]
        if not listing.flag(request, "includeinactive"):
            tests.append(lambda r: not r["inactive"])
        records = list(self.store.tables["client"].values())
        return Response(200, listing.listed(request, records, tests, "clients"))

    def _statuses(self, request: Request) -> Response:
        rows = list(self.store.statuses.values())
        if listing.flag(request, "excludeclosed"):
            rows = [s for s in rows if s["id"] not in self.store.closed]
        return Response(200, rows)

    # writes: a JSON array of records, each created (no id) or updated (with its id)

    def _post(self, request: Request, kind: str) -> Response:
        try:
            items = request.json()
        except (ValueError, UnicodeDecodeError):
            raise bad_request("The request body is not valid JSON") from None
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise bad_request("The request body must be a JSON array of objects")
        saved = self.store.save(kind, items)
        return Response(201, saved[0] if len(saved) == 1 else saved)
