"""Autotask's entities: their documented fields, picklists, required members and field info."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.psa_servers.common import ApiError, as_utc

Record = dict[str, Any]
COMPLETE = 5  # the Complete ticket status of a default tenant


def errors(status: int, *messages: str) -> ApiError:
    """Autotask's error answer: `{"errors": [...]}`."""
    return ApiError(status, {"errors": list(messages)})


def stamp(moment: datetime) -> str:
    """Autotask's UTC time, e.g. `2025-07-02T09:13:00.47Z` (trailing zeros of the ms dropped)."""
    moment = as_utc(moment)
    millis = f".{moment.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + millis + "Z"


@dataclass(frozen=True)
class Entity:
    """One REST entity: its URL name and the fields its records carry."""

    name: str  # as in the URL: Tickets, Companies...
    singular: str
    fields: dict[str, str]  # documented field -> dataType
    required: tuple[str, ...] = ()
    read_only: frozenset[str] = field(default_factory=frozenset)
    references: dict[str, str] = field(default_factory=dict)  # field -> referenced entity
    picklists: tuple[str, ...] = ()

    def canonical(self, name: str, record: Record | None = None) -> str | None:
        """The field's own spelling (names are case-insensitive), or None if unknown."""
        for known in (*self.fields, *(record or {})):
            if known.lower() == name.lower():
                return known
        return None


_STAMPS = frozenset({"id", "createDate", "lastActivityDate", "lastTrackedModificationDateTime"})
TICKETS = Entity(
    "Tickets", "Ticket",
    {"id": "long", "ticketNumber": "string", "title": "string", "description": "string",
     "companyID": "integer", "queueID": "integer", "status": "integer", "priority": "integer",
     "source": "integer", "dueDateTime": "datetime", "estimatedHours": "double",
     "hoursToBeScheduled": "double", "externalID": "string", "ticketType": "integer",
     "issueType": "integer", "subIssueType": "integer", "assignedResourceID": "integer",
     "completedDate": "datetime", "createDate": "datetime", "lastActivityDate": "datetime",
     "lastTrackedModificationDateTime": "datetime", "userDefinedFields": "udf"},
    required=("companyID", "title", "status", "priority"),
    read_only=_STAMPS | {"ticketNumber", "completedDate"},
    references={"companyID": "Companies", "assignedResourceID": "Resources"},
    picklists=("status", "priority", "queueID", "source"),
)  # fmt: skip
OPPORTUNITIES = Entity(
    "Opportunities", "Opportunity",
    {"id": "long", "title": "string", "companyID": "integer", "contactID": "integer",
     "amount": "decimal", "cost": "decimal", "probability": "integer",
     "projectedCloseDate": "datetime", "ownerResourceID": "integer", "stage": "integer",
     "status": "integer", "useQuoteTotals": "boolean", "totalAmountMonths": "integer",
     "onetimeRevenue": "decimal", "monthlyRevenue": "decimal", "closedDate": "datetime",
     "lastActivity": "datetime", "createDate": "datetime", "userDefinedFields": "udf"},
    required=("title", "companyID", "amount", "cost", "probability", "projectedCloseDate",
              "ownerResourceID", "stage", "status", "useQuoteTotals"),
    read_only=frozenset({"id", "lastActivity"}),
    references={"companyID": "Companies", "ownerResourceID": "Resources"},
)  # fmt: skip
COMPANIES = Entity(
    "Companies", "Company",
    {"id": "long", "companyName": "string", "companyNumber": "string", "companyType": "integer",
     "isActive": "boolean", "ownerResourceID": "integer", "lastActivityDate": "datetime",
     "lastTrackedModifiedDateTime": "datetime"},
    read_only=frozenset({"id"}),
)  # fmt: skip
RESOURCES = Entity(
    "Resources", "Resource",
    {"id": "long", "email": "string", "userName": "string", "firstName": "string",
     "lastName": "string", "isActive": "boolean"},
    read_only=frozenset({"id"}),
)  # fmt: skip
TICKET_NOTES = Entity(
    "TicketNotes", "TicketNote",
    {"id": "long", "ticketID": "integer", "title": "string", "description": "string",
     "noteType": "integer", "publish": "integer", "createDateTime": "datetime",
     "lastActivityDate": "datetime"},
    required=("ticketID", "title", "description", "noteType", "publish"),
    read_only=frozenset({"id", "createDateTime", "lastActivityDate"}),
    references={"ticketID": "Tickets"},
)  # fmt: skip
CHECKLIST_ITEMS = Entity(
    "TicketChecklistItems", "TicketChecklistItem",
    {"id": "long", "ticketID": "integer", "itemName": "string", "isCompleted": "boolean",
     "isImportant": "boolean", "position": "integer", "completedByResourceID": "integer",
     "completedDateTime": "datetime", "knowledgebaseArticleID": "integer"},
    required=("ticketID", "itemName"),
    read_only=frozenset({"id", "completedDateTime"}),
    references={"ticketID": "Tickets"},
)  # fmt: skip
ENTITIES = {e.name.lower(): e for e in (TICKETS, OPPORTUNITIES, COMPANIES, RESOURCES,
                                         TICKET_NOTES, CHECKLIST_ITEMS)}  # fmt: skip


def field_info(entity: Entity, picklists: dict[str, dict[int, str]]) -> list[Record]:
    """`entityInformation/fields`: each field's type, flags and picklist values."""
    return [
        {"name": name, "dataType": kind, "length": 255 if kind == "string" else 0,
         "isRequired": name in entity.required, "isReadOnly": name in entity.read_only,
         "isQueryable": kind != "udf", "isReference": name in entity.references,
         "referenceEntityType": entity.references.get(name, ""),
         "isPickList": name in picklists, "picklistValues": _values(picklists.get(name)),
         "picklistParentValueField": ""}
        for name, kind in entity.fields.items()
    ]  # fmt: skip


def _values(labels: dict[int, str] | None) -> list[Record] | None:
    if labels is None:
        return None
    return [
        {"value": str(value), "label": label, "isDefaultValue": order == 0, "sortOrder": order,
         "parentValue": "", "isActive": True, "isSystem": True}
        for order, (value, label) in enumerate(labels.items())
    ]  # fmt: skip
