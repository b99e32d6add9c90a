"""A standard: items a vCIO answers about a client (met, partial, not met, not applicable),
each rated by category, weight and the severity of not meeting it, tied to the framework
references it covers and, where one exists, to the evidence check that answers it."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from states.staging.assessment import Category
from states.staging.checks.registry import CHECKS

NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
ITEM_ID = r"^[A-Za-z0-9][A-Za-z0-9.()\-]{0,63}$"
EVIDENCE_CHECKS = frozenset(check.name for check in CHECKS)


class Answer(StrEnum):
    """How far the client meets an item."""

    MET = "met"
    PARTIAL = "partial"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"


# The scorecard's categories; governance and compliance only people assess.
ITEM_CATEGORIES = tuple(c.value for c in Category)
ItemCategory = Literal[
    "patching", "endpoint_protection", "identity_access", "backup_recovery", "asset_lifecycle",
    "security_awareness", "network", "service_quality", "governance", "compliance",
]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(_Strict):
    """A part of a standard: a NIST CSF function, a HIPAA safeguard, a policy area."""

    id: str = Field(pattern=ITEM_ID)
    title: str = Field(min_length=1, max_length=200)


class Item(_Strict):
    """One question of a standard."""

    id: str = Field(pattern=ITEM_ID)
    group: str
    question: str = Field(min_length=1, max_length=500)
    guidance: str = Field(default="", max_length=2000)
    category: ItemCategory
    weight: int = Field(default=2, ge=1, le=3)
    severity: Literal["red", "amber"] = "amber"
    required: bool = True  # HIPAA's "required"; an addressable one may be not applicable
    # what a not_met answer becomes (a partial one is always a discussion item); tickets come
    # from the evidence checks
    disposition: Literal["recommendation", "discussion"] = "recommendation"
    references: dict[str, list[str]] = Field(default_factory=dict)
    evidence_check: str | None = None

    @model_validator(mode="after")
    def _known_check(self) -> Item:
        if self.evidence_check is not None and self.evidence_check not in EVIDENCE_CHECKS:
            known = ", ".join(sorted(EVIDENCE_CHECKS))
            raise ValueError(
                f"evidence_check {self.evidence_check!r} is not one of xbr's checks ({known})"
            )
        return self


class Standard(_Strict):
    """A questionnaire: its groups, in order, and its items."""

    name: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    source: str = Field(default="", max_length=500)
    framework: str = Field(default="none", pattern=NAME)
    groups: list[Group] = Field(min_length=1)
    items: list[Item] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> Standard:
        groups = [g.id for g in self.groups]
        if len(set(groups)) != len(groups):
            raise ValueError("groups: two groups share an id; give each its own")
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item {item.id}: its id is used twice; give each item its own")
            seen.add(item.id)
            if item.group not in groups:
                raise ValueError(
                    f"item {item.id}: group {item.group!r} is not declared; use one of "
                    f"{', '.join(groups)}"
                )
        return self

    def item(self, item_id: str) -> Item | None:
        """The item of this id, if the standard has one."""
        return next((i for i in self.items if i.id == item_id), None)
