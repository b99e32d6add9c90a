"""Evidence: the rows an MSP's tools export, one pydantic model per source.

Each source is a CSV (header row, one record per line) or a JSON file (a list of objects) whose
columns are the model's fields. Empty cells of optional columns are read as missing; yes/no,
true/false and 1/0 are booleans; dates are ISO (2026-11-21).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


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
        extra="ignore", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            field = cls.model_fields[info.field_name or ""]
            return None if field.is_required() else field.default
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
