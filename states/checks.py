"""The checks: each reads one or more sources of evidence and rates one category.

A check runs when all of its sources were imported (an empty export counts), and its category
is then assessed even when it finds nothing. A check reports at most one aggregate finding,
keyed by its name: an MSP opens one follow-up ticket per kind of anomaly, not one per device,
and the key must stay the same across reviews for a finding to be recognised as recurring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from states.assessment import Category, Disposition, Finding, Severity, Thresholds
from states.evidence import (
    BackupJob,
    DarkWebBreach,
    EndpointProtection,
    EvidenceRow,
    NetworkDevice,
    PatchStatus,
    PhishingResult,
    PrivilegedMember,
    SecureScore,
    Source,
    Ticket,
    WarrantyAsset,
)

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
class _Rule:
    """What every finding of one check shares: key, category, disposition and owner."""

    name: str
    category: Category
    disposition: Disposition
    owner_role: str

    def report(
        self, severity: Severity, title: str, rows: Iterable[dict[str, Any]], detail: str = ""
    ) -> list[Finding]:
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


_PATCH = _Rule("patch-compliance", Category.PATCHING, Disposition.TICKET, "support_engineer")
_UNPROTECTED = _Rule("endpoint-missing", Category.ENDPOINT, Disposition.TICKET, "support_engineer")
_STALE = _Rule("definitions-stale", Category.ENDPOINT, Disposition.TICKET, "support_engineer")
_LIFECYCLE = _Rule("warranty-lifecycle", Category.LIFECYCLE, Disposition.RECOMMENDATION, "vcio")
_DARKWEB = _Rule("darkweb-new", Category.IDENTITY, Disposition.DISCUSSION, "vcio")
_PHISHING = _Rule("phishing-clicks", Category.AWARENESS, Disposition.DISCUSSION, "vcio")
_SECURE_SCORE = _Rule("secure-score", Category.IDENTITY, Disposition.DISCUSSION, "vcio")
_NETWORK = _Rule(
    "network-new-devices", Category.NETWORK, Disposition.DISCUSSION, "support_engineer"
)
_PRIVILEGED = _Rule(
    "privileged-change", Category.IDENTITY, Disposition.DISCUSSION, "security_engineer"
)
_SLA = _Rule("sla-attainment", Category.SERVICE, Disposition.DISCUSSION, "team_lead")
_BACKUP = _Rule("backup-failed", Category.BACKUP, Disposition.TICKET, "support_engineer")


def _rows(
    by_source: Mapping[Source, Sequence[EvidenceRow]], source: Source, model: type[R]
) -> list[R]:
    rows = by_source.get(source, [])
    typed = [row for row in rows if isinstance(row, model)]
    if len(typed) != len(rows):
        raise TypeError(f"{source} evidence must be {model.__name__} rows")
    # Sorted so that no finding depends on the order of the export.
    return sorted(typed, key=lambda row: row.model_dump_json())


def _dump(rows: Iterable[EvidenceRow]) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in rows]


def _names(names: Iterable[str]) -> str:
    unique = sorted(set(names), key=lambda name: (name.casefold(), name))
    more = len(unique) - NAMES_SHOWN
    shown = ", ".join(unique[:NAMES_SHOWN])
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _pct(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") + "%"


def _graded(value: float, red_below: float, amber_below: float) -> Severity | None:
    if value < red_below:
        return Severity.RED
    return Severity.AMBER if value < amber_below else None


def _patch_compliance(inp: CheckInput) -> list[Finding]:
    """Share of devices with no missing critical patch, against the red and amber floors."""
    devices = _rows(inp.evidence, Source.PATCHES, PatchStatus)
    if not devices:
        return []
    missing = [d for d in devices if d.missing_critical > 0]
    patched = len(devices) - len(missing)
    compliance = 100 * patched / len(devices)
    t = inp.thresholds
    severity = _graded(compliance, t.patch_red_below, t.patch_amber_below)
    if severity is None:
        return []
    title = (
        f"Patch compliance {_pct(compliance)} ({patched} of {len(devices)} devices fully patched)"
    )
    detail = f"Missing critical patches: {_names(d.device for d in missing)}."
    return _PATCH.report(severity, title, _dump(missing), detail)


def _endpoint_missing(inp: CheckInput) -> list[Finding]:
    """Managed devices without AV/EDR: no agent, or in the RMM's patch report but not the AV's."""
    protection = _rows(inp.evidence, Source.ANTIVIRUS, EndpointProtection)
    no_agent = [r for r in protection if not r.agent_present]
    seen = {r.device.casefold() for r in protection}
    # The patch report lists what the RMM manages: a device the AV console never saw is bare.
    managed = _rows(inp.evidence, Source.PATCHES, PatchStatus)
    unseen = [d for d in managed if d.device.casefold() not in seen]
    if not no_agent and not unseen:
        return []
    count = len({r.device.casefold() for r in no_agent} | {d.device.casefold() for d in unseen})
    parts = []
    if no_agent:
        parts.append(f"No agent: {_names(r.device for r in no_agent)}.")
    if unseen:
        parts.append(f"Not in the antivirus report: {_names(d.device for d in unseen)}.")
    title = f"{_plural(count, 'managed device')} without AV/EDR"
    return _UNPROTECTED.report(
        Severity.RED, title, _dump(no_agent) + _dump(unseen), " ".join(parts)
    )


def _definitions_stale(inp: CheckInput) -> list[Finding]:
    """Agents whose definitions are older than the allowed age, or of unknown age."""
    max_age = inp.thresholds.definitions_max_age_days
    stale = [
        r
        for r in _rows(inp.evidence, Source.ANTIVIRUS, EndpointProtection)
        if r.agent_present
        and (r.definitions_date is None or (inp.today - r.definitions_date).days > max_age)
    ]
    if not stale:
        return []
    names = _names(f"{r.device} ({r.definitions_date or 'no date'})" for r in stale)
    title = f"{_plural(len(stale), 'device')} with antivirus definitions older than {max_age} days"
    return _STALE.report(Severity.AMBER, title, _dump(stale), f"Stale definitions: {names}.")


def _lifecycle_reasons(asset: WarrantyAsset, inp: CheckInput) -> list[str]:
    t = inp.thresholds
    reasons = []
    end = asset.warranty_end
    if end is not None and end <= inp.today + timedelta(days=t.warranty_ending_days):
        reasons.append(f"warranty {'ended' if end < inp.today else 'ends'} {end}")
    if (inp.today - asset.purchase_date).days > t.device_max_age_years * DAYS_PER_YEAR:
        reasons.append(f"bought {asset.purchase_date}")
    return reasons


def _warranty_lifecycle(inp: CheckInput) -> list[Finding]:
    """Assets whose warranty ends within the window (or has ended), or that are too old."""
    flagged: list[WarrantyAsset] = []
    notes: list[str] = []
    for asset in _rows(inp.evidence, Source.WARRANTY, WarrantyAsset):
        if reasons := _lifecycle_reasons(asset, inp):
            flagged.append(asset)
            notes.append(f"{asset.asset} ({', '.join(reasons)})")
    if not flagged:
        return []
    ended = any(a.warranty_end is not None and a.warranty_end < inp.today for a in flagged)
    severity = Severity.RED if ended else Severity.AMBER
    years = f"{inp.thresholds.device_max_age_years:g}"
    title = f"Replace {_plural(len(flagged), 'asset')} out of warranty or past {years} years"
    return _LIFECYCLE.report(severity, title, _dump(flagged), f"Assets: {_names(notes)}.")


def _breach(record: DarkWebBreach) -> tuple[str, str]:
    return record.email.lower(), record.breach


def _darkweb_new(inp: CheckInput) -> list[Finding]:
    """Breach records not seen in the previous review; on the first review all are new."""
    known = {_breach(r) for r in _rows(inp.previous, Source.DARKWEB, DarkWebBreach)}
    new = [r for r in _rows(inp.evidence, Source.DARKWEB, DarkWebBreach) if _breach(r) not in known]
    if not new:
        return []
    exposures = {_breach(r) for r in new}
    accounts = {email for email, _ in exposures}
    title = (
        f"{_plural(len(exposures), 'new dark-web exposure')} ({_plural(len(accounts), 'account')})"
    )
    detail = f"New since the last review: {_names(f'{e} in {b}' for e, b in exposures)}."
    return _DARKWEB.report(Severity.RED, title, _dump(new), detail)


Campaign = tuple[tuple[date, str], list[PhishingResult]]


def _campaigns(rows: list[PhishingResult]) -> list[Campaign]:
    """Campaigns oldest first, each ordered by (latest sent date, name)."""
    by_name: dict[str, list[PhishingResult]] = {}
    for row in rows:
        by_name.setdefault(row.campaign, []).append(row)
    campaigns = [((max(r.sent for r in rs), name), rs) for name, rs in by_name.items()]
    return sorted(campaigns, key=lambda campaign: campaign[0])


def _click_rate(rows: list[PhishingResult]) -> float:
    return 100 * sum(r.clicked for r in rows) / len(rows)


def _phishing_clicks(inp: CheckInput) -> list[Finding]:
    """The latest campaign's click rate against the maximum and the previous campaign's."""
    current = _campaigns(_rows(inp.evidence, Source.PHISHING, PhishingResult))
    if not current:
        return []
    (_, name), rows = current[-1]
    # An overlapping export may repeat a campaign of the last review: only earlier ones count.
    before = _campaigns(_rows(inp.previous, Source.PHISHING, PhishingResult))
    earlier = current[:-1] or [c for c in before if c[0] < current[-1][0]]
    rate = _click_rate(rows)
    above = rate > inp.thresholds.phishing_click_rate_max
    prior = (earlier[-1][0][1], _click_rate(earlier[-1][1])) if earlier else None
    worse = prior is not None and rate > prior[1]
    if not above and not worse:
        return []
    clicked = [r for r in rows if r.clicked]
    title = (
        f"Phishing click rate {_pct(rate)} in {name} "
        f"({len(clicked)} of {_plural(len(rows), 'user')} clicked)"
    )
    parts = [f"Previous campaign {prior[0]}: {_pct(prior[1])}."] if prior else []
    parts.append(f"Clicked: {_names(r.user for r in clicked)}.")
    severity = Severity.RED if above and worse else Severity.AMBER
    return _PHISHING.report(severity, title, _dump(clicked), " ".join(parts))


def _secure_score(inp: CheckInput) -> list[Finding]:
    """The latest secure score reading, as a share of its maximum, against the target."""
    readings = _rows(inp.evidence, Source.SECURE_SCORE, SecureScore)
    if not readings:
        return []
    latest = max(readings, key=lambda r: (r.measured_on, r.score, r.max_score))
    percent = 100 * latest.score / latest.max_score
    target = inp.thresholds.secure_score_target
    if percent >= target:
        return []
    title = f"Secure score {_pct(percent)} of the maximum, below the {target:g}% target"
    detail = f"{latest.score:g} of {latest.max_score:g} on {latest.measured_on}."
    return _SECURE_SCORE.report(Severity.AMBER, title, _dump([latest]), detail)


def _mac(value: str) -> str:
    return re.sub(r"[\s:.\-]", "", value.lower())


def _network_new_devices(inp: CheckInput) -> list[Finding]:
    """Devices whose MAC the previous review's scan did not see."""
    before = _rows(inp.previous, Source.NETWORK, NetworkDevice)
    if not before:
        return []  # the first scan is the baseline: there is nothing to call new yet
    known = {_mac(d.mac) for d in before}
    new = [
        d for d in _rows(inp.evidence, Source.NETWORK, NetworkDevice) if _mac(d.mac) not in known
    ]
    if not new:
        return []
    count = len({_mac(d.mac) for d in new})
    title = f"{_plural(count, 'new device')} on the network"
    detail = f"New: {_names(f'{d.hostname or d.ip} ({d.mac})' for d in new)}."
    return _NETWORK.report(Severity.AMBER, title, _dump(new), detail)


def _member(row: PrivilegedMember) -> tuple[str, str]:
    return row.group.lower(), row.account.lower()


def _privileged_change(inp: CheckInput) -> list[Finding]:
    """Members added to or removed from privileged groups since the previous review."""
    before = {_member(r): r for r in _rows(inp.previous, Source.PRIVILEGED, PrivilegedMember)}
    if not before:
        return []  # the first membership list is the baseline
    after = {_member(r): r for r in _rows(inp.evidence, Source.PRIVILEGED, PrivilegedMember)}
    added = [after[k] for k in sorted(after.keys() - before.keys())]
    removed = [before[k] for k in sorted(before.keys() - after.keys())]
    if not added and not removed:
        return []
    rows = [{**r.model_dump(mode="json"), "change": "added"} for r in added]
    rows += [{**r.model_dump(mode="json"), "change": "removed"} for r in removed]
    parts = [
        f"{label}: {_names(f'{r.account} in {r.group}' for r in members)}."
        for label, members in (("Added", added), ("Removed", removed))
        if members
    ]
    title = f"Privileged groups changed: {len(added)} added, {len(removed)} removed"
    severity = Severity.RED if added else Severity.AMBER
    return _PRIVILEGED.report(severity, title, rows, " ".join(parts))


def _sla_attainment(inp: CheckInput) -> list[Finding]:
    """Share of rated tickets resolved within SLA, against the minimum."""
    rated = [t for t in _rows(inp.evidence, Source.TICKETS, Ticket) if t.sla_met is not None]
    if not rated:
        return []
    missed = [t for t in rated if not t.sla_met]
    met = len(rated) - len(missed)
    percent = 100 * met / len(rated)
    minimum = inp.thresholds.sla_attainment_min
    severity = _graded(percent, minimum - SLA_RED_MARGIN, minimum)
    if severity is None:
        return []
    title = f"SLA attainment {_pct(percent)} ({met} of {len(rated)} tickets within SLA)"
    detail = f"Missed SLA: {_names(t.id for t in missed)}."
    return _SLA.report(severity, title, _dump(missed), detail)


def _backup_failed(inp: CheckInput) -> list[Finding]:
    """Backup jobs whose last run failed."""
    jobs = _rows(inp.evidence, Source.BACKUPS, BackupJob)
    failed = [j for j in jobs if j.last_result == "failed"]
    if not failed:
        return []
    title = f"{_plural(len(failed), 'backup job')} failed"
    detail = f"Failed: {_names(f'{j.job} ({j.device})' if j.device else j.job for j in failed)}."
    return _BACKUP.report(Severity.RED, title, _dump(failed), detail)


def _check(rule: _Rule, run: Callable[[CheckInput], list[Finding]], *sources: Source) -> Check:
    return Check(name=rule.name, sources=sources, category=rule.category, run=run)


CHECKS: tuple[Check, ...] = (
    _check(_PATCH, _patch_compliance, Source.PATCHES),
    _check(_UNPROTECTED, _endpoint_missing, Source.ANTIVIRUS),
    _check(_STALE, _definitions_stale, Source.ANTIVIRUS),
    _check(_LIFECYCLE, _warranty_lifecycle, Source.WARRANTY),
    _check(_DARKWEB, _darkweb_new, Source.DARKWEB),
    _check(_PHISHING, _phishing_clicks, Source.PHISHING),
    _check(_SECURE_SCORE, _secure_score, Source.SECURE_SCORE),
    _check(_NETWORK, _network_new_devices, Source.NETWORK),
    _check(_PRIVILEGED, _privileged_change, Source.PRIVILEGED),
    _check(_SLA, _sla_attainment, Source.TICKETS),
    _check(_BACKUP, _backup_failed, Source.BACKUPS),
)


def run_checks(inp: CheckInput) -> tuple[list[Finding], set[Category]]:
    """All findings, and the categories that had evidence (assessed even when no finding)."""
    findings: list[Finding] = []
    assessed: set[Category] = set()
    for check in CHECKS:
        if all(source in inp.evidence for source in check.sources):
            assessed.add(check.category)
            findings.extend(check.run(inp))
    return findings, assessed
