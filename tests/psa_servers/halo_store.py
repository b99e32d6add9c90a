"""HaloPSA's records and their rules: array saves, closing statuses, actions that move tickets."""

from __future__ import annotations

import copy
import itertools

from tests.psa_servers.common import ApiError, Clock, as_utc
from tests.psa_servers.halo_listing import EMPTY_DATE, Record, bad_request


class HaloStore:
    """Every record of one Halo tenant; `who` is the name its actions are recorded under."""

    def __init__(self, clock: Clock, who: str) -> None:
        self.clock = clock
        self.who = who
        self.tables: dict[str, dict[int, Record]] = {
            k: {} for k in ("ticket", "opportunity", "todo", "action", "client")
        }
        self.statuses: dict[int, Record] = {}
        self.closed: set[int] = set()  # Halo's status list does not say which close a ticket
        self._ids = {"ticket": itertools.count(1000), "todo": itertools.count(1),
                     "action": itertools.count(1), "client": itertools.count(12)}  # fmt: skip
        self._ids["opportunity"] = self._ids["ticket"]  # opportunities are tickets in Halo

    def add_client(self, name: str) -> int:
        """A new active client's id."""
        client: Record = {"id": next(self._ids["client"]), "name": name, "inactive": False}
        self.tables["client"][client["id"]] = client
        return int(client["id"])

    def add_status(self, status_id: int, name: str, closed: bool) -> None:
        """A ticket status; `closed` ones close the ticket they are set on."""
        # type 0 marks a ticket status (django-psa's Halo sync keeps only those)
        self.statuses[status_id] = {"id": status_id, "name": name, "type": 0}
        (self.closed.add if closed else self.closed.discard)(status_id)

    def save(self, kind: str, items: list[Record]) -> list[Record]:
        """Every item saved, or (on any invalid one) none."""
        staged = [self._staged(kind, item) for item in items]
        saved = []
        for old, new in staged:
            if old is None:
                old = {"id": next(self._ids[kind])}  # the id first, as Halo lists it
                self.tables[kind][old["id"]] = old
            old.update(new)
            saved.append(old)
        for record in saved:
            self._after(kind, record)
        return saved

    def _staged(self, kind: str, item: Record) -> tuple[Record | None, Record]:
        old = None
        if item.get("id"):  # Halo treats a missing or zero id as a new record
            old = self.tables[kind].get(item["id"]) if isinstance(item["id"], int) else None
            if old is None:
                raise ApiError(404, {"Message": f"{kind} {item['id']} not found"})
        new = {**copy.deepcopy(old or {}), **copy.deepcopy(item)}
        new.pop("id", None)  # kept by an update, given by the store to a new record
        checks = {"ticket": self._ticket, "opportunity": self._ticket, "todo": self._todo,
                  "action": self._action}  # fmt: skip
        checks[kind](old, new)
        return old, new

    def _now(self) -> str:
        return as_utc(self.clock()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]

    def _ticket(self, old: Record | None, new: Record) -> None:
        if not isinstance(new.get("summary"), str) or not new["summary"].strip():
            raise bad_request("summary is required")
        client = self.tables["client"].get(new.get("client_id"))  # type: ignore[arg-type]
        if client is None:
            raise bad_request(f"client_id {new.get('client_id')!r} is not a client")
        new["client_name"] = client["name"]
        new.setdefault("status_id", 1)
        if new["status_id"] not in self.statuses:
            raise bad_request(f"status_id {new['status_id']!r} is not a status")
        now = self._now()
        if old is None:
            new.setdefault("datecreated", now)
            new.setdefault("dateoccurred", now)
        new["last_update"] = now
        self._settle_closed(new, now)

    def _settle_closed(self, ticket: Record, now: str) -> None:
        closed = ticket["status_id"] in self.closed
        if closed and not ticket.get("hasbeenclosed"):
            ticket["dateclosed"] = now
        elif not closed:
            ticket["dateclosed"] = EMPTY_DATE
        ticket["hasbeenclosed"] = closed

    def _todo(self, old: Record | None, new: Record) -> None:
        if new.get("ticket_id") not in self.tables["ticket"]:
            raise bad_request(f"ticket_id {new.get('ticket_id')!r} is not a ticket")
        if not isinstance(new.get("text"), str):
            raise bad_request("text is required")
        new["done"] = bool(new.get("done", False))
        if new.get("sequence") is None:
            siblings = [
                t for t in self.tables["todo"].values() if t["ticket_id"] == new["ticket_id"]
            ]
            new["sequence"] = 1 + max((t["sequence"] for t in siblings), default=0)

    def _action(self, old: Record | None, new: Record) -> None:
        if new.get("ticket_id") not in self.tables["ticket"]:
            raise bad_request(f"ticket_id {new.get('ticket_id')!r} is not a ticket")
        status = new.get("new_status")
        if status not in (None, 0) and status not in self.statuses:
            raise bad_request(f"new_status {status!r} is not a status")
        new.setdefault("datetime", self._now())
        new.setdefault("who", self.who)

    def _after(self, kind: str, saved: Record) -> None:
        """An action updates its ticket: its stamp, and its status when it names a new one."""
        if kind != "action":
            return
        ticket = self.tables["ticket"][saved["ticket_id"]]
        now = self._now()
        if saved.get("new_status"):
            ticket["status_id"] = saved["new_status"]
            self._settle_closed(ticket, now)
        ticket["last_update"] = ticket["lastactiondate"] = now
