"""Evidence: the rows an MSP's tools export, one pydantic model per source.

Each source is a CSV (header row, one record per line) or a JSON file (a list of objects) whose
columns are the model's fields. Empty cells of optional columns are read as missing; yes/no,
true/false and 1/0 are booleans; dates are ISO (2026-11-21).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# The most a count in an export can be: more is a broken export, not a client's device count.
MAX_COUNT = 10**9


class Source(StrEnum):
    """The kinds of evidence a review reads; a file's name starts with its source."""

    PATCHES = "patches"
    ANTIVIRUS = "antivirus"
    WARRANTY = "warranty"
    DARKWEB = "darkweb"
    PHISHING = "phishing"
    SECURE_SCORE = "securescore"
    NETWORK = "network"
    PRIVILEGED = "privileged"
    TICKETS = "tickets"
    BACKUPS = "backups"


class EvidenceRow(BaseModel):
    """One record of an export; unknown columns are kept out, blanks become None."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        str_strip_whitespace=True,
        coerce_numbers_to_str=True,
        # inf and nan are no reading a tool exports, and JSON cannot store them
        allow_inf_nan=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            field = cls.model_fields[info.field_name or ""]
            return None if field.is_required() else field.default
        return value

    @field_validator("*")
    @classmethod
    def _a_count_a_tool_could_export(cls, value: Any) -> Any:
        # a larger whole number is a broken export, and no JSON column stores it for certain
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_COUNT:
            raise ValueError(f"must be a whole number up to {MAX_COUNT:,}")
        return value


class PatchStatus(EvidenceRow):
    """Patch status of one managed device (RMM patch report)."""

    device: str = Field(min_length=1)
    missing_critical: int = Field(ge=0)
    missing_total: int = Field(ge=0)
    last_scan: date | None = None


class EndpointProtection(EvidenceRow):
    """AV/EDR state of one device: agent present, age of the definitions, detections."""

    device: str = Field(min_length=1)
    agent_present: bool
    definitions_date: date | None = None
    detections: int = Field(default=0, ge=0)


class WarrantyAsset(EvidenceRow):
    """Warranty and lifecycle of one asset."""

    asset: str = Field(min_length=1)
    model: str = ""
    purchase_date: date
    warranty_end: date | None = None
    # laptop, desktop, server ...: what replacing it costs comes from the price book
    type: str = Field(default="", max_length=40)


class DarkWebBreach(EvidenceRow):
    """A credential of the client's found in a breach."""

    email: str = Field(min_length=3)
    breach: str = Field(min_length=1)
    breach_date: date | None = None
    discovered: date


class PhishingResult(EvidenceRow):
    """How one user answered one phishing simulation campaign."""

    campaign: str = Field(min_length=1)
    sent: date
    user: str = Field(min_length=1)
    clicked: bool
    reported: bool = False


class SecureScore(EvidenceRow):
    """A secure score reading (e.g. Microsoft Secure Score) on a date."""

    measured_on: date
    score: float = Field(ge=0)
    max_score: float = Field(gt=0)


class NetworkDevice(EvidenceRow):
    """A device a network scan saw."""

    ip: str = Field(min_length=1)
    mac: str = Field(min_length=1)
    hostname: str = ""
    first_seen: date | None = None


class PrivilegedMember(EvidenceRow):
    """A member of a privileged group (Administrators, Domain/Enterprise/Schema Admins)."""

    group: str = Field(min_length=1)
    account: str = Field(min_length=1)


class Ticket(EvidenceRow):
    """A service ticket from the PSA."""

    id: str = Field(min_length=1)
    opened: date
    closed: date | None = None
    priority: str = ""
    sla_met: bool | None = None
    satisfaction: int | None = Field(default=None, ge=1, le=5)


class BackupJob(EvidenceRow):
    """The last result of one backup job."""

    job: str = Field(min_length=1)
    device: str = ""
    last_run: date | None = None
    last_result: str = Field(min_length=1)  # success, warning or failed

    @field_validator("last_result")
    @classmethod
    def _known_result(cls, value: str) -> str:
        result = value.lower()
        if result not in {"success", "warning", "failed"}:
            raise ValueError("must be success, warning or failed")
        return result


ROW_MODELS: dict[Source, type[EvidenceRow]] = {
    Source.PATCHES: PatchStatus,
    Source.ANTIVIRUS: EndpointProtection,
    Source.WARRANTY: WarrantyAsset,
    Source.DARKWEB: DarkWebBreach,
    Source.PHISHING: PhishingResult,
    Source.SECURE_SCORE: SecureScore,
    Source.NETWORK: NetworkDevice,
    Source.PRIVILEGED: PrivilegedMember,
    Source.TICKETS: Ticket,
    Source.BACKUPS: BackupJob,
}

# The evidence a review holds: per source, the rows as JSON-ready dicts (as stored).
Evidence = dict[Source, list[dict[str, Any]]]

# The column that names what each row is about: a ticket stays open while its subjects are
# missing from the new export, and an export with half the subjects gone is suspect.
SUBJECTS: dict[Source, str] = {
    Source.PATCHES: "device",
    Source.ANTIVIRUS: "device",
    Source.WARRANTY: "asset",
    Source.DARKWEB: "email",
    Source.PHISHING: "user",
    Source.SECURE_SCORE: "measured_on",
    Source.NETWORK: "mac",
    Source.PRIVILEGED: "account",
    Source.TICKETS: "id",
    Source.BACKUPS: "job",
}

# The columns that say when an export was taken; an export whose dates all lie long before
# staging began is last quarter's. Warranty, network, dark web and group exports carry dates
# of the assets, devices and breaches they list, which may rightly be old: they have none.
TAKEN_ON: dict[Source, tuple[str, ...]] = {
    Source.PATCHES: ("last_scan",),
    Source.ANTIVIRUS: ("definitions_date",),
    Source.PHISHING: ("sent",),
    Source.SECURE_SCORE: ("measured_on",),
    Source.TICKETS: ("opened", "closed"),
    Source.BACKUPS: ("last_run",),
}


def subject_of(source: Source, row: EvidenceRow | dict[str, Any]) -> str:
    """What a row is about (its device, job, account ...), compared without case."""
    column = SUBJECTS[source]
    value = getattr(row, column) if isinstance(row, EvidenceRow) else row.get(column)
    return str(value).casefold()


class Rows(Sequence[EvidenceRow]):
    """A file's validated rows, kept as the JSON they are stored as: a few times smaller than
    the models, which are made again one at a time when read."""

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __init__(self, model: type[EvidenceRow], encoded: list[str]) -> None:
        self.model, self._encoded = model, encoded

    def __len__(self) -> int:
        return len(self._encoded)

    @overload
    def __getitem__(self, index: int) -> EvidenceRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[EvidenceRow]: ...
    def __getitem__(self, index: int | slice) -> EvidenceRow | list[EvidenceRow]:
        if isinstance(index, slice):
            return [self.model.model_validate_json(row) for row in self._encoded[index]]
        return self.model.model_validate_json(self._encoded[index])

    def __iter__(self) -> Iterator[EvidenceRow]:
        return (self.model.model_validate_json(row) for row in self._encoded)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Rows({self.model.__name__}, {len(self)} rows)"

    def json(self) -> str:
        """The rows as one JSON list, as the evidence table stores them."""
        return "[" + ",".join(self._encoded) + "]"


def encode(row: EvidenceRow) -> str:
    """A validated row as the JSON object it is stored as."""
    return row.model_dump_json()


def as_rows(model: type[EvidenceRow], rows: Sequence[EvidenceRow]) -> Rows:
    """Typed rows kept compact, as a file read gives them."""
    return Rows(model, [encode(row) for row in rows])
