"""ConnectWise Manage's records and their rules: references, closed statuses, JSON Patch."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from tests.psa_servers.common import ApiError, Clock, as_utc

Record = dict[str, Any]

TICKET_FIELDS = {
    "id", "summary", "recordType", "board", "status", "company", "contact", "priority", "source",
    "type", "subType", "item", "owner", "requiredDate", "budgetHours", "actualHours",
    "externalXRef", "initialDescription", "integratorTags", "customFields", "closedFlag",
    "closedDate", "closedBy", "_info",
}  # fmt: skip
TASK_FIELDS = {"id", "ticketId", "notes", "closedFlag", "priority", "resolution", "code",
               "schedule", "childTicketId", "_info"}  # fmt: skip
NOTE_FIELDS = {"id", "ticketId", "text", "detailDescriptionFlag", "internalAnalysisFlag",
               "resolutionFlag", "dateCreated", "createdBy", "_info"}  # fmt: skip
OPPORTUNITY_FIELDS = {
    "id", "name", "company", "contact", "primarySalesRep", "expectedCloseDate", "stage",
    "status", "probability", "type", "source", "notes", "closedDate", "closedFlag",
    "customFields", "_info",
}  # fmt: skip
COMPANY_FIELDS = {"id", "identifier", "name", "status", "types", "deletedFlag", "_info"}
READ_ONLY = {"id", "_info", "closedFlag", "closedDate", "closedBy", "ticketId"}
FORECAST_TYPES = {"Other1", "Other2", "Agreement", "Product", "Service"}
OPEN_STATUS = {"id": 1, "name": "Open"}
DEFAULT_PRIORITY = 3  # Priority 3 - Normal Response
REMOVED = object()  # a JSON Patch `remove`
FIRST_ID = {"company": 250, "board": 1, "status": 16, "priority": 1, "source": 1, "ticket": 5000,
            "task": 1, "note": 1, "opportunity": 100, "forecast": 1}  # fmt: skip


def invalid_field(resource: str, field: str, message: str, code: str = "InvalidField") -> ApiError:
    """ConnectWise's 400 naming the field at fault."""
    error = {"code": code, "message": message, "resource": resource, "field": field}
    body = {"code": "InvalidObject", "message": f"{resource} object is invalid", "errors": [error]}
    return ApiError(400, body)


def not_found(resource: str, record_id: int) -> ApiError:
    """ConnectWise's 404 for an id it does not have."""
    return ApiError(
        404, {"code": "NotFound", "message": f"{resource} with id {record_id} not found"}
    )


def patch_changes(ops: Any, fields: set[str], record: Record, resource: str) -> Record:
    """The changes a JSON Patch array asks for; REMOVED marks a removed field."""
    if not isinstance(ops, list) or not ops:
        raise ApiError(400, {"code": "InvalidObject", "message": "Body must be a JSON Patch array"})
    changes: Record = {}
    for op in ops:
        kind = op.get("op") if isinstance(op, dict) else None
        path = op.get("path") if isinstance(op, dict) else None
        if kind not in ("add", "replace", "remove") or not isinstance(path, str) or not path:
            raise invalid_field(resource, str(path), f"Unsupported patch operation {op!r}")
        if "/" in path or (path not in fields and path not in record):
            # a reference is replaced whole; `company/identifier` is not a path
            raise invalid_field(resource, path, f"Cannot patch '{path}'")
        if kind != "remove" and "value" not in op:
            raise invalid_field(resource, path, f"{kind} of '{path}' has no value")
        changes[path] = REMOVED if kind == "remove" else op["value"]
    return changes


class CwStore:
    """Every record of one ConnectWise company, with the rules that keep them whole."""

    def __init__(self, clock: Clock, updated_by: str) -> None:
        self.clock = clock
        self.updated_by = updated_by
        self.tables: dict[str, dict[int, Record]] = {kind: {} for kind in FIRST_ID}
        self._ids = {kind: itertools.count(start) for kind, start in FIRST_ID.items()}

    def stamp(self) -> str:
        """Now, as ConnectWise writes a time: `2025-07-01T10:00:00Z`."""
        return as_utc(self.clock()).strftime("%Y-%m-%dT%H:%M:%SZ")

    def info(self, created: Record | None = None) -> Record:
        """The `_info` of a record changed now (`created`: its old `_info`, kept)."""
        now = self.stamp()
        base = dict(created or {"dateEntered": now, "enteredBy": self.updated_by})
        return {**base, "lastUpdated": now, "updatedBy": self.updated_by}

    def insert(self, kind: str, record: Record) -> Record:
        """`record` stored under a new id (its first member, as ConnectWise lists it)."""
        stored = {"id": next(self._ids[kind])}
        stored.update((key, value) for key, value in record.items() if key != "id")
        self.tables[kind][stored["id"]] = stored
        return stored

    def get(self, kind: str, record_id: int, resource: str) -> Record:
        """The record with this id, or ConnectWise's 404."""
        record = self.tables[kind].get(record_id)
        if record is None:
            raise not_found(resource, record_id)
        return record

    def children(self, kind: str, parent_key: str, parent_id: int) -> list[Record]:
        """The records whose `parent_key` is `parent_id`."""
        return [r for r in self.tables[kind].values() if r.get(parent_key) == parent_id]

    def lookup(
        self, kind: str, value: Any, names: tuple[str, ...], resource: str, field: str
    ) -> Record:
        """The record a reference (`{"id": n}` or `{name: ...}`) points at, or a 400."""
        return self._find(self.tables[kind].values(), value, names, resource, field)

    def _find(
        self,
        records: Iterable[Record],
        value: Any,
        names: tuple[str, ...],
        resource: str,
        field: str,
    ) -> Record:
        for key in ("id", *names):
            wanted = value.get(key) if isinstance(value, dict) else None
            if wanted is None:
                continue
            for record in records:
                if _same(record.get(key), wanted):
                    return record
            raise invalid_field(resource, field, f"{field} {key} {wanted!r} was not found")
        raise invalid_field(resource, field, f"{field} must be given as {{id}} or {{{names[0]}}}")

    def board_statuses(self, board_id: int) -> list[Record]:
        """The board's statuses, the default first."""
        return [s for s in self.tables["status"].values() if s["board"]["id"] == board_id]

    def set_ticket_fields(self, ticket: Record, changes: Record, creating: bool) -> Record:
        """`ticket` with `changes` applied by ConnectWise's rules (a new record; 400 if invalid)."""
        new = copy.deepcopy(ticket)
        for name, value in changes.items():
            if name in READ_ONLY:
                if creating:
                    continue
                raise invalid_field("ticket", name, f"{name} is read-only")
            self._set_ticket_field(new, name, value)
        for required in ("summary", "company", "board"):
            if new.get(required) is None:
                raise invalid_field("ticket", required, f"{required} is required", "NullValue")
        self._settle_status(new, changes.get("status"), creating or "board" in changes)
        new["_info"] = self.info(ticket.get("_info"))
        return new

    def _set_ticket_field(self, ticket: Record, name: str, value: Any) -> None:
        if value is REMOVED:
            ticket.pop(name, None)
            return
        if name in ("summary", "externalXRef"):
            check_text("ticket", name, value, required=name == "summary")
            ticket[name] = value
        elif name == "company":
            found = self.lookup("company", value, ("identifier", "name"), "ticket", name)
            ticket[name] = company_ref(found)
        elif name in ("board", "priority", "source"):
            found = self.lookup(name, value, ("name",), "ticket", name)
            ticket[name] = {k: found[k] for k in ("id", "name", "sort") if k in found}
        elif name != "status":  # the status is settled once the board is known
            ticket[name] = copy.deepcopy(value)

    def _settle_status(self, ticket: Record, asked: Any, board_changed: bool) -> None:
        statuses = self.board_statuses(ticket["board"]["id"])
        if asked is not None and asked is not REMOVED:
            status = self._find(statuses, asked, ("name",), "ticket", "status")
        elif asked is REMOVED or board_changed and not _has(statuses, ticket.get("status")):
            if not statuses:
                raise invalid_field(
                    "ticket", "board", f"board {ticket['board']['name']} has no statuses"
                )
            status = statuses[0]
        else:
            return
        ticket["status"] = {"id": status["id"], "name": status["name"]}
        closed = bool(status["closedStatus"])
        if closed and not ticket.get("closedFlag"):
            ticket["closedDate"], ticket["closedBy"] = self.stamp(), self.updated_by
        elif not closed:
            ticket.pop("closedDate", None)
            ticket.pop("closedBy", None)
        ticket["closedFlag"] = closed

    def save(
        self,
        record: Record,
        changes: Record,
        resource: str,
        required: tuple[str, ...],
        creating: bool,
    ) -> Record:
        """`record` with `changes` (checked: read-only, text, company) saved in its place."""
        new = copy.deepcopy(record)
        fixed = READ_ONLY - {"closedFlag"} if resource == "task" else READ_ONLY
        for name, value in changes.items():
            if name in fixed:
                if creating:
                    continue
                raise invalid_field(resource, name, f"{name} is read-only")
            self._set_field(new, name, value, resource, name in required)
        for name in required:
            if new.get(name) in (None, ""):
                raise invalid_field(resource, name, f"{name} is required", "NullValue")
        new["_info"] = self.info(record.get("_info"))
        return replace(record, new) if "id" in record else new

    def _set_field(
        self, record: Record, name: str, value: Any, resource: str, required: bool
    ) -> None:
        if value is REMOVED:
            record.pop(name, None)
        elif name in ("name", "summary"):
            check_text(resource, name, value, required)
            record[name] = value
        elif name in ("notes", "text") and not isinstance(value, str):
            raise invalid_field(resource, name, f"{name} must be text")
        elif name == "closedFlag" and not isinstance(value, bool):
            raise invalid_field(resource, name, "closedFlag must be true or false")
        elif name == "company":
            found = self.lookup("company", value, ("identifier", "name"), resource, name)
            record[name] = company_ref(found)
        else:
            record[name] = copy.deepcopy(value)

    def new_ticket(self, body: Record) -> Record:
        """A ticket created from a `POST /service/tickets` body, stored."""
        body.setdefault("priority", {"id": DEFAULT_PRIORITY})
        base = {"recordType": "ServiceTicket", "actualHours": 0}
        return self.insert("ticket", self.set_ticket_fields(base, body, creating=True))

    def records(self, kind: str) -> Iterator[Record]:
        """Every record of a kind, in the order they were created."""
        yield from self.tables[kind].values()


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, str) and isinstance(wanted, str):
        return stored.casefold() == wanted.casefold()
    return bool(stored == wanted)


def _has(statuses: list[Record], current: Any) -> bool:
    return isinstance(current, dict) and any(s["id"] == current.get("id") for s in statuses)


def check_text(resource: str, field: str, value: Any, required: bool = True) -> None:
    """400 unless `value` is text of at most 100 characters (or None when not required)."""
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid_field(resource, field, f"{field} must be text", "InvalidField")
    if len(value) > 100:
        raise invalid_field(
            resource, field, f"{field} must be 100 characters or fewer", "MaxLength"
        )


def company_ref(company: Record) -> Record:
    """The reference ConnectWise returns for a company."""
    return {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}


def replace(record: Record, new: Record) -> Record:
    """`record`, its contents now those of `new` (so every holder of it sees the change)."""
    record.clear()
    record.update(new)
    return record
