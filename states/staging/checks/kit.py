"""What every check is built from: its input, the check and rule types, and the shared helpers.

A `Rule` holds what all findings of one check share and turns a rating into that check's single
aggregate finding; the helpers read typed evidence rows and word titles and details alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from states.staging.assessment import Category, Disposition, Finding, Severity, Thresholds
from states.staging.evidence import EvidenceRow, Source

EVIDENCE_CAP = 200  # rows kept on a finding; a larger total is stated in its detail
NAMES_SHOWN = 10  # enough names for a ticket without burying it
DAYS_PER_YEAR = 365.25
SLA_RED_MARGIN = 15  # points below the SLA minimum at which attainment turns red

R = TypeVar("R", bound=EvidenceRow)


@dataclass(frozen=True)
class CheckInput:
    """What the checks read: this review's evidence, the client's previous review's, thresholds."""

    evidence: dict[Source, list[EvidenceRow]]
    previous: dict[Source, list[EvidenceRow]]
    thresholds: Thresholds
    today: date  # the staging day in the client's time zone


@dataclass(frozen=True)
class Check:
    """A named rule over some sources that rates one category."""

    name: str
    sources: tuple[Source, ...]
    category: Category
    run: Callable[[CheckInput], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """What every finding of one check shares: key, category, disposition and owner."""

    name: str
    category: Category
    disposition: Disposition
    owner_role: str

    def report(
        self, severity: Severity, title: str, rows: Iterable[dict[str, Any]], detail: str = ""
    ) -> list[Finding]:
        """The check's one finding, its evidence sorted and capped at EVIDENCE_CAP rows."""
        evidence = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
        if len(evidence) > EVIDENCE_CAP:
            note = f"Evidence lists {EVIDENCE_CAP} of {len(evidence)} rows."
            detail = f"{detail} {note}".strip()
        finding = Finding(
            key=self.name,
            check=self.name,
            category=self.category,
            severity=severity,
            title=title,
            disposition=self.disposition,
            detail=detail,
            owner_role=self.owner_role,
            evidence=evidence[:EVIDENCE_CAP],
        )
        return [finding]

    def check(self, run: Callable[[CheckInput], list[Finding]], *sources: Source) -> Check:
        """The check that applies this rule with `run` once all of `sources` were imported."""
        return Check(name=self.name, sources=sources, category=self.category, run=run)


def rows(
    by_source: Mapping[Source, Sequence[EvidenceRow]], source: Source, model: type[R]
) -> list[R]:
    """The source's rows, checked to be of `model` and sorted by content."""
    found = by_source.get(source, [])
    typed = [row for row in found if isinstance(row, model)]
    if len(typed) != len(found):
        raise TypeError(f"{source} evidence must be {model.__name__} rows")
    # Sorted so that no finding depends on the order of the export.
    return sorted(typed, key=lambda row: row.model_dump_json())


def dump(evidence: Iterable[EvidenceRow]) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts, for a finding's evidence."""
    return [row.model_dump(mode="json") for row in evidence]


def names(items: Iterable[str]) -> str:
    """The distinct names, sorted, the first NAMES_SHOWN listed and the rest counted."""
    unique = sorted(set(items), key=lambda name: (name.casefold(), name))
    more = len(unique) - NAMES_SHOWN
    shown = ", ".join(unique[:NAMES_SHOWN])
    return f"{shown} and {more} more" if more > 0 else shown


def plural(count: int, noun: str) -> str:
    """The count with the noun, an "s" added unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def pct(value: float) -> str:
    """A percentage to one decimal, without a trailing ".0"."""
    return f"{value:.1f}".removesuffix(".0") + "%"


def graded(value: float, red_below: float, amber_below: float) -> Severity | None:
    """Red below the first floor, amber below the second, else no finding."""
    if value < red_below:
        return Severity.RED
    return Severity.AMBER if value < amber_below else None
