"""The assessment's vocabulary: categories, severities, dispositions, thresholds and scores.

A check turns evidence into findings; findings score the categories 0-100, and the client's first
assessed review is the baseline every later one is compared with ("get the red out").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from states.errors import InvalidInput


class Category(StrEnum):
    """What the scorecard rates."""

    PATCHING = "patching"
    ENDPOINT = "endpoint_protection"
    IDENTITY = "identity_access"
    BACKUP = "backup_recovery"
    LIFECYCLE = "asset_lifecycle"
    AWARENESS = "security_awareness"
    NETWORK = "network"
    SERVICE = "service_quality"
    # only people assess these, by the standards' items
    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.PATCHING: "Patching",
    Category.ENDPOINT: "Endpoint protection",
    Category.IDENTITY: "Identity and access",
    Category.BACKUP: "Backup and recovery",
    Category.LIFECYCLE: "Asset lifecycle",
    Category.AWARENESS: "Security awareness",
    Category.NETWORK: "Network",
    Category.SERVICE: "Service quality",
    Category.GOVERNANCE: "Governance",
    Category.COMPLIANCE: "Compliance",
}

# NIST CSF 2.0 functions each category informs (GV, ID, PR, DE, RS, RC).
NIST_CSF: dict[Category, tuple[str, ...]] = {
    Category.PATCHING: ("Protect",),
    Category.ENDPOINT: ("Protect", "Detect"),
    Category.IDENTITY: ("Protect", "Detect"),
    Category.BACKUP: ("Protect", "Recover"),
    Category.LIFECYCLE: ("Identify",),
    Category.AWARENESS: ("Protect",),
    Category.NETWORK: ("Identify", "Detect"),
    Category.SERVICE: ("Govern", "Respond"),
    Category.GOVERNANCE: ("Govern",),
    Category.COMPLIANCE: ("Govern", "Identify"),
}


class Severity(StrEnum):
    """How bad a finding is: amber needs attention, red needs action."""

    AMBER = "amber"
    RED = "red"


class Disposition(StrEnum):
    """What the SOP does with an anomaly."""

    TICKET = "ticket"  # "create tickets for anomalies"
    RECOMMENDATION = "recommendation"  # "create Recommendation(s) for expirations"
    DISCUSSION = "discussion"  # "note ... for discussion at xBR"


@dataclass(frozen=True)
class Finding:
    """An anomaly a check found; `key` names it across reviews, so it can recur."""

    key: str
    check: str
    category: Category
    severity: Severity
    title: str
    disposition: Disposition
    detail: str = ""
    owner_role: str | None = None  # who works the ticket
    evidence: list[dict[str, Any]] = field(default_factory=list)


class Thresholds(BaseModel):
    """When a check raises a finding; a template sets them, a client may override any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patch_amber_below: float = Field(default=95, ge=0, le=100)  # % of devices fully patched
    patch_red_below: float = Field(default=80, ge=0, le=100)
    definitions_max_age_days: int = Field(default=3, ge=0)
    warranty_ending_days: int = Field(default=90, ge=0)
    device_max_age_years: float = Field(default=5, gt=0)
    phishing_click_rate_max: float = Field(default=10, ge=0, le=100)  # % of users who clicked
    secure_score_target: float = Field(default=70, ge=0, le=100)  # % of the maximum score
    sla_attainment_min: float = Field(default=95, ge=0, le=100)  # % of tickets within SLA
    # a category's risk level by its score: satisfactory from, critical below, at risk between
    satisfactory_from: float = Field(default=80, ge=0, le=100)
    critical_below: float = Field(default=50, ge=0, le=100)

    @model_validator(mode="after")
    def _red_below_amber(self) -> Thresholds:
        if self.patch_red_below > self.patch_amber_below:
            raise ValueError(
                f"patch_red_below ({self.patch_red_below:g}) must not be above "
                f"patch_amber_below ({self.patch_amber_below:g})"
            )
        if self.critical_below > self.satisfactory_from:
            raise ValueError(
                f"critical_below ({self.critical_below:g}) must not be above "
                f"satisfactory_from ({self.satisfactory_from:g})"
            )
        return self

    def risk(self, score: int | None) -> str | None:
        """satisfactory, at_risk or critical for a score; None when it was not assessed."""
        if score is None:
            return None
        if score >= self.satisfactory_from:
            return "satisfactory"
        return "critical" if score < self.critical_below else "at_risk"

    def merged(self, overrides: dict[str, Any] | None) -> Thresholds:
        """These thresholds with `overrides` applied; an unknown name or bad value is refused."""
        if not overrides:
            return self
        try:
            return Thresholds.model_validate({**self.model_dump(), **overrides})
        except ValidationError as error:
            problem = error.errors()[0]
            name = ".".join(str(p) for p in problem["loc"])
            what = f"threshold {name}" if name else "thresholds"
            reason = problem["msg"].removeprefix("Value error, ")
            raise InvalidInput(f"{what}: {reason}; see `xbr client thresholds --help`") from None


# Points a finding takes off its category's 100; one red makes the category red.
PENALTY = {Severity.RED: 50, Severity.AMBER: 20}
GREEN_FROM, YELLOW_FROM = 85, 60


def color(score: int | None) -> str:
    """green, yellow or red for a score; grey when the category was not assessed."""
    if score is None:
        return "grey"
    return "green" if score >= GREEN_FROM else "yellow" if score >= YELLOW_FROM else "red"


def score(findings: list[Finding], assessed: set[Category]) -> dict[str, int | None]:
    """Each category's score: 100 less its findings' penalties, None when there was no evidence."""
    scores: dict[str, int | None] = {c.value: None for c in Category}
    for category in assessed:
        scores[category.value] = 100
    for finding in findings:
        current = scores[finding.category.value]
        base = 100 if current is None else current
        scores[finding.category.value] = max(0, base - PENALTY[finding.severity])
    return scores
