"""A local Autotask (Datto) REST API: zone discovery, header auth, entities, QueryModel pages."""

from __future__ import annotations

import copy
from typing import Any

from tests.psa_servers.at_entities import (
    CHECKLIST_ITEMS,
    COMPANIES,
    COMPLETE,
    OPPORTUNITIES,
    RESOURCES,
    TICKET_NOTES,
    TICKETS,
    Entity,
    Record,
    errors,
)
from tests.psa_servers.at_routes import AtResources
from tests.psa_servers.at_store import AtStore
from tests.psa_servers.common import Clock, PsaServer, Request, Response, dispatch, utc_now

ROOT = "/atservicesrest/v1.0"


class AutotaskServer(PsaServer):
    """Autotask for one tenant whose one API user is `username`; `api_url` ends in `V1.0`."""

    def __init__(
        self,
        username: str = "api@msp.example",
        secret: str = "s3cret",
        integration_code: str = "XBRCODE",
        *,
        latency: float = 0.0,
        rate_per_second: float | None = None,
        clock: Clock = utc_now,
        port: int = 0,
    ) -> None:
        super().__init__(latency=latency, rate_per_second=rate_per_second, clock=clock, port=port)
        self.username, self.secret, self.integration_code = username, secret, integration_code
        self.store = AtStore(clock)
        self._routes = AtResources(self.store, self.api_url, lambda: len(self.requests)).routes()

    @property
    def api_url(self) -> str:
        """The zone's REST root, `{url}/ATServicesRest/V1.0`."""
        return f"{self.url}/ATServicesRest/V1.0"

    def credentials(self) -> dict[str, str]:
        """What a client is configured with."""
        return {"username": self.username, "secret": self.secret,
                "integration_code": self.integration_code}  # fmt: skip

    # setup, as an administrator would configure the PSA

    def add_company(self, name: str) -> int:
        """A company (`companyName`), active."""
        with self.lock:
            record = {"companyName": name, "companyType": 1, "isActive": True}
            return self.store.insert(COMPANIES, record)

    def add_resource(self, email: str) -> int:
        """A resource (a member of staff), e.g. an opportunity's owner."""
        with self.lock:
            record = {"email": email, "userName": email.split("@")[0], "isActive": True}
            return self.store.insert(RESOURCES, record)

    def add_status(self, value: int, label: str) -> None:
        """A ticket status picklist value."""
        with self.lock:
            self.store.picklists["status"][value] = label

    def add_queue(self, value: int, label: str) -> None:
        """A ticket queue (`queueID`) picklist value."""
        with self.lock:
            self.store.picklists["queueID"][value] = label

    def add_source(self, value: int, label: str) -> None:
        """A ticket source picklist value."""
        with self.lock:
            self.store.picklists["source"][value] = label

    # a person using the PSA

    def create_ticket(self, body: Record) -> int:
        """A ticket created by the rules of `POST Tickets`; its id."""
        with self.lock:
            return self.store.save(TICKETS, body, creating=True)

    def set_ticket(self, ticket_id: int, **fields: Any) -> None:
        """Change a ticket as a technician would (the same rules as a PATCH)."""
        with self.lock:
            self.store.save(TICKETS, {**fields, "id": ticket_id}, creating=False)

    def close_ticket(self, ticket_id: int) -> None:
        """Complete a ticket (status 5)."""
        self.set_ticket(ticket_id, status=COMPLETE)

    def tickets(self) -> list[Record]:
        """Copies of every ticket."""
        return self._copies(TICKETS)

    def opportunities(self) -> list[Record]:
        """Copies of every opportunity."""
        return self._copies(OPPORTUNITIES)

    def tasks(self, ticket_id: int) -> list[Record]:
        """The ticket's checklist items."""
        return [r for r in self._copies(CHECKLIST_ITEMS) if r["ticketID"] == ticket_id]

    def notes(self, ticket_id: int) -> list[Record]:
        """Copies of the ticket's notes."""
        return [r for r in self._copies(TICKET_NOTES) if r["ticketID"] == ticket_id]

    def _copies(self, entity: Entity) -> list[Record]:
        with self.lock:
            return copy.deepcopy(self.store.rows(entity))

    # the protocol

    def metered(self, request: Request) -> bool:
        # zone discovery is exempt from the thread and request limits
        path = request.path.lower()
        return not (path.endswith("/zoneinformation") or path.endswith("/versioninformation"))

    def throttled(self, retry_after: int) -> Any:
        return {"errors": ["The API request threshold has been exceeded; try again later."]}

    def route(self, request: Request) -> Response:
        path = request.path.lower()
        if path == ROOT + "/zoneinformation" and request.method == "GET":
            return self._zone(request.arg("user") or "")
        if path == "/atservicesrest/versioninformation":
            return Response(200, {"apiVersions": ["1.0"]})
        if not path.startswith(ROOT + "/"):
            raise errors(404, f"{request.path} was not found")
        self._authenticate(request)
        relative = copy.copy(request)
        relative.path = request.path[len(ROOT) :]
        answer = dispatch(self._routes, relative)
        if answer is None:
            raise errors(404, f"{request.path} was not found")
        return answer

    def _zone(self, user: str) -> Response:
        if user.lower() != self.username.lower():
            raise errors(404, "Zone information could not be determined")
        return Response(200, {"zoneName": "Local", "url": f"{self.url}/ATServicesRest/",
                              "webUrl": f"{self.url}/", "ci": 1})  # fmt: skip

    def _authenticate(self, request: Request) -> None:
        user = request.headers.get("UserName") or ""
        if user.lower() != self.username.lower():
            raise errors(500, f"Unable to find the API user '{user}'")
        if request.headers.get("Secret") != self.secret:
            raise errors(401, "Unauthorized")
        if request.headers.get("ApiIntegrationCode") != self.integration_code:
            raise errors(500, "The ApiIntegrationCode is missing or not valid")
