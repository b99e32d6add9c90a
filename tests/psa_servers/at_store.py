"""Autotask's records and the rules that keep them whole: picklists, references, stamps."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from tests.psa_servers.at_entities import (
    CHECKLIST_ITEMS,
    COMPLETE,
    ENTITIES,
    OPPORTUNITIES,
    TICKET_NOTES,
    TICKETS,
    Entity,
    Record,
    errors,
    stamp,
)
from tests.psa_servers.common import Clock, as_utc

FIRST_IDS = {"companies": 175, "resources": 29682800, "tickets": 29683600, "opportunities": 1200,
             "ticketnotes": 30240000, "ticketchecklistitems": 870}  # fmt: skip


class AtStore:
    """Every record of one Autotask tenant, by entity, and its ticket picklists."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tables: dict[str, dict[int, Record]] = {name: {} for name in ENTITIES}
        # each entity its own range, so that an id of one kind never finds a record of another
        self._ids = {name: itertools.count(start) for name, start in FIRST_IDS.items()}
        self._numbers: dict[str, itertools.count[int]] = {}  # ticket numbers, per day
        self.picklists: dict[str, dict[int, str]] = {
            "status": {1: "New", COMPLETE: "Complete", 8: "In Progress"},
            "priority": {1: "High", 2: "Medium", 3: "Low", 4: "Critical"},
            "queueID": {},
            "source": {},
        }

    def rows(self, entity: Entity) -> list[Record]:
        """The entity's records, in the order they were created."""
        return list(self.tables[entity.name.lower()].values())

    def record(self, entity: Entity, record_id: int) -> Record:
        """The record with this id, or Autotask's 404."""
        record = self.tables[entity.name.lower()].get(record_id)
        if record is None:
            raise errors(404, f"{entity.singular} {record_id} was not found")
        return record

    def save(self, entity: Entity, body: Record, creating: bool) -> int:
        """Create or update one record by Autotask's rules; its id."""
        changes = self._changes(entity, body, creating)
        if creating:
            base: Record = {
                name: [] if kind == "udf" else None for name, kind in entity.fields.items()
            }
        else:
            base = self.record(entity, int(body["id"]))
        new = {**copy.deepcopy(base), **changes}
        missing = [name for name in entity.required if new.get(name) in (None, "")]
        if missing:
            raise errors(400, *(f"{name} is required" for name in missing))
        self._stamp(entity, base, new, creating)
        if creating:
            return self.insert(entity, new)
        base.clear()
        base.update(new)
        return int(base["id"])

    def _changes(self, entity: Entity, body: Record, creating: bool) -> Record:
        if creating and body.get("id") not in (None, 0):
            raise errors(400, f"The id must not be set when creating a {entity.singular}")
        if not creating and not isinstance(body.get("id"), int):
            raise errors(400, f"The id of the {entity.singular} to update is required")
        changes: Record = {}
        for given, value in body.items():
            name = entity.canonical(given) or given
            if name in entity.read_only:
                continue  # Autotask ignores read-only fields it is sent
            self._check_field(entity, name, value)
            changes[name] = copy.deepcopy(value)
        return changes

    def _check_field(self, entity: Entity, name: str, value: Any) -> None:
        if name == "title" and (not isinstance(value, str) or len(value) > 255):
            raise errors(400, "title must be text of at most 255 characters")
        if name in entity.picklists and value is not None and value not in self.picklists[name]:
            raise errors(400, f"{value!r} is not a value of the {name} picklist")
        referenced = entity.references.get(name)
        if referenced and value is not None and value not in self.tables[referenced.lower()]:
            raise errors(400, f"{name} {value!r} does not refer to an existing {referenced} record")

    def _stamp(self, entity: Entity, old: Record, new: Record, creating: bool) -> None:
        now = stamp(self.clock())
        if entity is TICKETS:
            if creating:
                new["createDate"] = now
                new["ticketNumber"] = self._ticket_number()
            new["lastActivityDate"] = new["lastTrackedModificationDateTime"] = now
            if new["status"] != old.get("status"):
                new["completedDate"] = now if new["status"] == COMPLETE else None
        elif entity in (TICKET_NOTES, CHECKLIST_ITEMS):
            self.record(TICKETS, new["ticketID"])["lastActivityDate"] = now
            if entity is TICKET_NOTES:
                new["lastActivityDate"] = now
                new["createDateTime"] = old.get("createDateTime") or now
            else:
                self._settle_checklist_item(old, new, now, creating)
        elif entity is OPPORTUNITIES:
            new["createDate"] = new.get("createDate") or now
            new["lastActivity"] = now

    def _settle_checklist_item(self, old: Record, new: Record, now: str, creating: bool) -> None:
        new["isCompleted"] = bool(new.get("isCompleted"))
        new["isImportant"] = bool(new.get("isImportant"))
        if new["isCompleted"] and not old.get("isCompleted"):
            new["completedDateTime"] = now
        elif not new["isCompleted"]:
            new["completedDateTime"] = None
        if creating and new.get("position") is None:
            siblings = self.tables[CHECKLIST_ITEMS.name.lower()].values()
            new["position"] = 1 + sum(1 for r in siblings if r["ticketID"] == new["ticketID"])

    def _ticket_number(self) -> str:
        day = as_utc(self.clock()).strftime("%Y%m%d")
        counter = self._numbers.setdefault(day, itertools.count(1))
        return f"T{day}.{next(counter):04d}"

    def insert(self, entity: Entity, record: Record) -> int:
        """The id of `record`, stored under it."""
        stored = {**record, "id": next(self._ids[entity.name.lower()])}
        self.tables[entity.name.lower()][stored["id"]] = stored
        return int(stored["id"])
