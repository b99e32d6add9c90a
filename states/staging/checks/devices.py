"""The checks on devices and assets.

Patch compliance, devices without AV/EDR, stale antivirus definitions, warranty and age, new
devices on the network, failed backups. Each module-level `Check` is listed in
`states.staging.checks.registry`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from states.staging.assessment import Category, Disposition, Finding, Severity
from states.staging.checks.kit import (
    DAYS_PER_YEAR,
    CheckInput,
    Rule,
    dump,
    graded,
    names,
    pct,
    plural,
    rows,
)
from states.staging.evidence import (
    BackupJob,
    EndpointProtection,
    NetworkDevice,
    PatchStatus,
    Source,
    WarrantyAsset,
)

_PATCH = Rule("patch-compliance", Category.PATCHING, Disposition.TICKET, "support_engineer")
_UNPROTECTED = Rule("endpoint-missing", Category.ENDPOINT, Disposition.TICKET, "support_engineer")
_STALE = Rule("definitions-stale", Category.ENDPOINT, Disposition.TICKET, "support_engineer")
_LIFECYCLE = Rule("warranty-lifecycle", Category.LIFECYCLE, Disposition.RECOMMENDATION, "vcio")
_NETWORK = Rule("network-new-devices", Category.NETWORK, Disposition.DISCUSSION, "support_engineer")
_BACKUP = Rule("backup-failed", Category.BACKUP, Disposition.TICKET, "support_engineer")


def _patch_compliance(inp: CheckInput) -> list[Finding]:
    """Share of devices with no missing critical patch, against the red and amber floors."""
    devices = rows(inp.evidence, Source.PATCHES, PatchStatus)
    if not devices:
        return []
    missing = [d for d in devices if d.missing_critical > 0]
    patched = len(devices) - len(missing)
    compliance = 100 * patched / len(devices)
    t = inp.thresholds
    severity = graded(compliance, t.patch_red_below, t.patch_amber_below)
    if severity is None:
        return []
    title = (
        f"Patch compliance {pct(compliance)} ({patched} of {len(devices)} devices fully patched)"
    )
    detail = f"Missing critical patches: {names(d.device for d in missing)}."
    return _PATCH.report(severity, title, dump(missing), detail)


def _endpoint_missing(inp: CheckInput) -> list[Finding]:
    """Managed devices without AV/EDR: no agent, or in the RMM's patch report but not the AV's."""
    protection = rows(inp.evidence, Source.ANTIVIRUS, EndpointProtection)
    no_agent = [r for r in protection if not r.agent_present]
    seen = {r.device.casefold() for r in protection}
    # The patch report lists what the RMM manages: a device the AV console never saw is bare.
    managed = rows(inp.evidence, Source.PATCHES, PatchStatus)
    unseen = [d for d in managed if d.device.casefold() not in seen]
    if not no_agent and not unseen:
        return []
    count = len({r.device.casefold() for r in no_agent} | {d.device.casefold() for d in unseen})
    parts = []
    if no_agent:
        parts.append(f"No agent: {names(r.device for r in no_agent)}.")
    if unseen:
        parts.append(f"Not in the antivirus report: {names(d.device for d in unseen)}.")
    title = f"{plural(count, 'managed device')} without AV/EDR"
    return _UNPROTECTED.report(Severity.RED, title, dump(no_agent) + dump(unseen), " ".join(parts))


def _definitions_stale(inp: CheckInput) -> list[Finding]:
    """Agents whose definitions are older than the allowed age, or of unknown age."""
    max_age = inp.thresholds.definitions_max_age_days
    stale = [
        r
        for r in rows(inp.evidence, Source.ANTIVIRUS, EndpointProtection)
        if r.agent_present
        and (r.definitions_date is None or (inp.today - r.definitions_date).days > max_age)
    ]
    if not stale:
        return []
    listed = names(f"{r.device} ({r.definitions_date or 'no date'})" for r in stale)
    title = f"{plural(len(stale), 'device')} with antivirus definitions older than {max_age} days"
    return _STALE.report(Severity.AMBER, title, dump(stale), f"Stale definitions: {listed}.")


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
    for asset in rows(inp.evidence, Source.WARRANTY, WarrantyAsset):
        if reasons := _lifecycle_reasons(asset, inp):
            flagged.append(asset)
            notes.append(f"{asset.asset} ({', '.join(reasons)})")
    if not flagged:
        return []
    ended = any(a.warranty_end is not None and a.warranty_end < inp.today for a in flagged)
    severity = Severity.RED if ended else Severity.AMBER
    years = f"{inp.thresholds.device_max_age_years:g}"
    title = f"Replace {plural(len(flagged), 'asset')} out of warranty or past {years} years"
    return _LIFECYCLE.report(severity, title, dump(flagged), f"Assets: {names(notes)}.")


def _mac(value: str) -> str:
    return re.sub(r"[\s:.\-]", "", value.lower())


def _network_new_devices(inp: CheckInput) -> list[Finding]:
    """Devices whose MAC the previous review's scan did not see."""
    before = rows(inp.previous, Source.NETWORK, NetworkDevice)
    if not before:
        return []  # the first scan is the baseline: there is nothing to call new yet
    known = {_mac(d.mac) for d in before}
    new = [d for d in rows(inp.evidence, Source.NETWORK, NetworkDevice) if _mac(d.mac) not in known]
    if not new:
        return []
    count = len({_mac(d.mac) for d in new})
    title = f"{plural(count, 'new device')} on the network"
    detail = f"New: {names(f'{d.hostname or d.ip} ({d.mac})' for d in new)}."
    return _NETWORK.report(Severity.AMBER, title, dump(new), detail)


def _backup_failed(inp: CheckInput) -> list[Finding]:
    """Backup jobs whose last run failed."""
    jobs = rows(inp.evidence, Source.BACKUPS, BackupJob)
    failed = [j for j in jobs if j.last_result == "failed"]
    if not failed:
        return []
    title = f"{plural(len(failed), 'backup job')} failed"
    detail = f"Failed: {names(f'{j.job} ({j.device})' if j.device else j.job for j in failed)}."
    return _BACKUP.report(Severity.RED, title, dump(failed), detail)


PATCH_COMPLIANCE = _PATCH.check(_patch_compliance, Source.PATCHES)
ENDPOINT_MISSING = _UNPROTECTED.check(_endpoint_missing, Source.ANTIVIRUS)
DEFINITIONS_STALE = _STALE.check(_definitions_stale, Source.ANTIVIRUS)
WARRANTY_LIFECYCLE = _LIFECYCLE.check(_warranty_lifecycle, Source.WARRANTY)
NETWORK_NEW_DEVICES = _NETWORK.check(_network_new_devices, Source.NETWORK)
BACKUP_FAILED = _BACKUP.check(_backup_failed, Source.BACKUPS)
