"""A local ConnectWise Manage (REST 3.0): company info, Basic auth + clientId, service and sales."""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

from tests.psa_servers.common import (
    ApiError,
    Clock,
    PsaServer,
    Request,
    Response,
    dispatch,
    utc_now,
)
from tests.psa_servers.cw_routes import CwResources
from tests.psa_servers.cw_store import CwStore, Record, replace

PRIORITIES = ["Priority 1 - Emergency Response", "Priority 2 - Quick Response",
              "Priority 3 - Normal Response", "Priority 4 - Schedule Maintenance"]  # fmt: skip
SOURCES = ["Email", "Phone", "Portal"]
UNAUTHORIZED = {"code": "Unauthorized", "message": "The supplied authentication is incorrect"}


class ConnectWiseServer(PsaServer):
    """ConnectWise Manage for one company; `api_url` is `{url}/{codebase}apis/3.0`."""

    def __init__(
        self,
        company_id: str = "msp",
        public_key: str = "pub",
        private_key: str = "priv",
        client_id: str = "2b9c6f7e-0c4a-4f3e-9a55-6c1f0d7e8a42",
        codebase: str = "v4_6_release/",
        *,
        latency: float = 0.0,
        rate_per_second: float | None = None,
        clock: Clock = utc_now,
        port: int = 0,
    ) -> None:
        super().__init__(latency=latency, rate_per_second=rate_per_second, clock=clock, port=port)
        self.company_id, self.public_key, self.private_key = company_id, public_key, private_key
        self.client_id, self.codebase = client_id, codebase
        self.store = CwStore(clock, updated_by=public_key)
        for sort, name in enumerate(PRIORITIES, start=1):
            self.store.insert("priority", {"name": name, "sort": sort})
        for name in SOURCES:
            self.add_source(name)
        self._routes = CwResources(self.store, self.url).routes()

    @property
    def api_url(self) -> str:
        """The REST root, `{url}/{codebase}apis/3.0`."""
        return f"{self.url}/{self.codebase}apis/3.0"

    def credentials(self) -> dict[str, str]:
        """What a client is configured with."""
        return {"company_id": self.company_id, "public_key": self.public_key,
                "private_key": self.private_key, "client_id": self.client_id,
                "codebase": self.codebase}  # fmt: skip

    # setup, as an administrator would configure the PSA

    def add_company(self, name: str, identifier: str | None = None) -> int:
        """A company; its identifier defaults to its name without spaces."""
        with self.lock:
            company = {"identifier": identifier or name.replace(" ", ""), "name": name,
                       "status": {"id": 1, "name": "Active"}, "deletedFlag": False,
                       "types": [], "_info": self.store.info()}  # fmt: skip
            return int(self.store.insert("company", company)["id"])

    def add_board(self, name: str, statuses: list[tuple[str, bool]]) -> int:
        """A service board and its statuses as (name, closedStatus); the first is the default."""
        with self.lock:
            board = self.store.insert("board", {"name": name, "inactiveFlag": False,
                                                "_info": self.store.info()})  # fmt: skip
            for order, (status, closed) in enumerate(statuses):
                self.store.insert("status", {
                    "name": status, "board": {"id": board["id"], "name": name},
                    "sortOrder": order, "closedStatus": closed, "defaultFlag": order == 0,
                    "inactive": False, "_info": self.store.info()})  # fmt: skip
            return int(board["id"])

    def add_source(self, name: str) -> int:
        """A service source (`/service/sources`)."""
        with self.lock:
            return int(self.store.insert("source", {"name": name})["id"])

    def add_priority(self, name: str) -> int:
        """A priority (`/service/priorities`), sorted last."""
        with self.lock:
            sort = len(self.store.tables["priority"]) + 1
            return int(self.store.insert("priority", {"name": name, "sort": sort})["id"])

    # a person using the PSA

    def create_ticket(self, body: Record) -> int:
        """A ticket created by the rules of `POST /service/tickets`; its id."""
        with self.lock:
            return int(self.store.new_ticket(copy.deepcopy(body))["id"])

    def set_ticket(self, ticket_id: int, **fields: Any) -> None:
        """Change a ticket as a technician would; `status="Closed"` means `{"name": "Closed"}`."""
        refs = ("board", "status", "priority", "source")
        changes = {
            k: {"name": v} if k in refs and isinstance(v, str) else v for k, v in fields.items()
        }
        if isinstance(changes.get("company"), str):
            changes["company"] = {"identifier": changes["company"]}
        with self.lock:
            ticket = self.store.get("ticket", ticket_id, "Ticket")
            replace(ticket, self.store.set_ticket_fields(ticket, changes, creating=False))

    def close_ticket(self, ticket_id: int) -> None:
        """Move a ticket to its board's first closed status."""
        with self.lock:
            ticket = self.store.get("ticket", ticket_id, "Ticket")
            closed = [
                s for s in self.store.board_statuses(ticket["board"]["id"]) if s["closedStatus"]
            ]
            if not closed:
                raise ValueError(f"board {ticket['board']['name']} has no closed status")
        self.set_ticket(ticket_id, status={"id": closed[0]["id"]})

    def set_opportunity(self, opportunity_id: int, **fields: Any) -> None:
        """Change an opportunity as a salesperson would."""
        with self.lock:
            found = self.store.get("opportunity", opportunity_id, "Opportunity")
            self.store.save(found, fields, "opportunity", ("name", "company"), creating=False)

    def tickets(self) -> list[Record]:
        """Copies of every service ticket."""
        return self._copies("ticket")

    def tasks(self, ticket_id: int) -> list[Record]:
        """Copies of the ticket's tasks."""
        return [t for t in self._copies("task") if t["ticketId"] == ticket_id]

    def notes(self, ticket_id: int) -> list[Record]:
        """Copies of the ticket's notes."""
        return [n for n in self._copies("note") if n["ticketId"] == ticket_id]

    def opportunities(self) -> list[Record]:
        """Copies of every opportunity."""
        return self._copies("opportunity")

    def forecast_items(self, opportunity_id: int) -> list[Record]:
        """Copies of the opportunity's forecast items."""
        return [f for f in self._copies("forecast") if f["opportunityId"] == opportunity_id]

    def companies(self) -> list[Record]:
        """Copies of every company."""
        return self._copies("company")

    def _copies(self, kind: str) -> list[Record]:
        with self.lock:
            return copy.deepcopy(list(self.store.records(kind)))

    # the protocol

    def metered(self, request: Request) -> bool:
        return not request.path.lower().startswith("/login/")

    def throttled(self, retry_after: int) -> Any:
        message = f"Too many requests. Please try again in {retry_after} seconds."
        return {"error": "ConnectWiseAPI", "message": message}

    def route(self, request: Request) -> Response:
        if request.path.lower().startswith("/login/companyinfo/") and request.method == "GET":
            return self._company_info(request.path.rsplit("/", 1)[-1])
        root = f"/{self.codebase}apis/3.0".lower()
        if not request.path.lower().startswith(root + "/"):
            raise ApiError(404, {"code": "NotFound", "message": f"{request.path} was not found"})
        self._authenticate(request)
        relative = copy.copy(request)  # the routes see the path under the API root
        relative.path = request.path[len(root) :]
        answer = dispatch(self._routes, relative)
        if answer is None:
            raise ApiError(404, {"code": "NotFound", "message": f"{request.path} was not found"})
        return answer

    def _company_info(self, company_id: str) -> Response:
        if company_id.lower() != self.company_id.lower():
            raise ApiError(404, {"code": "NotFound", "message": f"Company {company_id} not found"})
        return Response(200, {"CompanyName": "Local MSP", "Codebase": self.codebase,
                              "VersionCode": "v2025.1", "VersionNumber": "v4.6.2025.1",
                              "CompanyID": self.company_id, "IsCloud": "False"})  # fmt: skip

    def _authenticate(self, request: Request) -> None:
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        try:
            user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, secret = "", ""
        company, _, public = user.partition("+")
        valid = (company.lower() == self.company_id.lower() and public == self.public_key
                 and secret == self.private_key and scheme.lower() == "basic")  # fmt: skip
        if not valid:
            raise ApiError(401, UNAUTHORIZED)
        client = request.headers.get("clientId")
        if not client:
            raise ApiError(401, {"code": "Unauthorized", "message": "clientId header is required"})
        if client != self.client_id:
            raise ApiError(
                401, {"code": "Unauthorized", "message": f"clientId {client} is not valid"}
            )
