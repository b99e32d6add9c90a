"""The checks: each reads one or more sources of evidence and rates one category.

A check runs when all of its sources were imported (an empty export counts), and its category
is then assessed even when it finds nothing. A check reports at most one aggregate finding,
keyed by its name: an MSP opens one follow-up ticket per kind of anomaly, not one per device,
and the key must stay the same across reviews for a finding to be recognised as recurring.

This module lists the checks in the order they run and runs them; the checks themselves live in
`devices.py` and `people.py` beside it, what they share in `kit.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

from states.staging.assessment import Category, Finding
from states.staging.checks.devices import (
    BACKUP_FAILED,
    DEFINITIONS_STALE,
    ENDPOINT_MISSING,
    NETWORK_NEW_DEVICES,
    PATCH_COMPLIANCE,
    WARRANTY_LIFECYCLE,
)
from states.staging.checks.kit import Check, CheckInput
from states.staging.checks.people import (
    DARKWEB_NEW,
    PHISHING_CLICKS,
    PRIVILEGED_CHANGE,
    SECURE_SCORE,
    SLA_ATTAINMENT,
)
from states.staging.evidence import Source

__all__ = ["CHANGE_CHECKS", "CHECKS", "Check", "CheckInput", "checks_that_run", "run_checks"]

CHECKS: tuple[Check, ...] = (
    PATCH_COMPLIANCE,
    ENDPOINT_MISSING,
    DEFINITIONS_STALE,
    WARRANTY_LIFECYCLE,
    DARKWEB_NEW,
    PHISHING_CLICKS,
    SECURE_SCORE,
    NETWORK_NEW_DEVICES,
    PRIVILEGED_CHANGE,
    SLA_ATTAINMENT,
    BACKUP_FAILED,
)

# Checks that report what changed since the client's last review: each finding of theirs is new.
CHANGE_CHECKS = frozenset(c.name for c in (DARKWEB_NEW, NETWORK_NEW_DEVICES, PRIVILEGED_CHANGE))


def checks_that_run(evidence: Iterable[Source]) -> list[Check]:
    """The checks all of whose sources are in `evidence`, in order."""
    held = set(evidence)
    return [check for check in CHECKS if all(source in held for source in check.sources)]


def run_checks(inp: CheckInput) -> tuple[list[Finding], set[Category]]:
    """All findings, and the categories that had evidence (assessed even when no finding)."""
    findings: list[Finding] = []
    assessed: set[Category] = set()
    for check in checks_that_run(inp.evidence):
        assessed.add(check.category)
        findings.extend(check.run(inp))
    return findings, assessed
