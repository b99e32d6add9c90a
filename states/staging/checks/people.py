"""The checks on people and service.

New dark-web exposures, phishing click rates, the secure score, changes to privileged groups,
SLA attainment. Each module-level `Check` is listed in `states.staging.checks.registry`.
"""

from __future__ import annotations

from datetime import date

from states.staging.assessment import Category, Disposition, Finding, Severity
from states.staging.checks.kit import (
    SLA_RED_MARGIN,
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
    DarkWebBreach,
    PhishingResult,
    PrivilegedMember,
    SecureScore,
    Source,
    Ticket,
)

_DARKWEB = Rule("darkweb-new", Category.IDENTITY, Disposition.DISCUSSION, "vcio")
_PHISHING = Rule("phishing-clicks", Category.AWARENESS, Disposition.DISCUSSION, "vcio")
_SECURE_SCORE = Rule("secure-score", Category.IDENTITY, Disposition.DISCUSSION, "vcio")
_PRIVILEGED = Rule(
    "privileged-change", Category.IDENTITY, Disposition.DISCUSSION, "security_engineer"
)
_SLA = Rule("sla-attainment", Category.SERVICE, Disposition.DISCUSSION, "team_lead")

Campaign = tuple[tuple[date, str], list[PhishingResult]]


def _breach(record: DarkWebBreach) -> tuple[str, str]:
    return record.email.lower(), record.breach


def _darkweb_new(inp: CheckInput) -> list[Finding]:
    """Breach records not seen in the previous review; on the first review all are new."""
    known = {_breach(r) for r in rows(inp.previous, Source.DARKWEB, DarkWebBreach)}
    new = [r for r in rows(inp.evidence, Source.DARKWEB, DarkWebBreach) if _breach(r) not in known]
    if not new:
        return []
    exposures = {_breach(r) for r in new}
    accounts = {email for email, _ in exposures}
    title = (
        f"{plural(len(exposures), 'new dark-web exposure')} ({plural(len(accounts), 'account')})"
    )
    detail = f"New since the last review: {names(f'{e} in {b}' for e, b in exposures)}."
    return _DARKWEB.report(Severity.RED, title, dump(new), detail)


def _campaigns(results: list[PhishingResult]) -> list[Campaign]:
    """Campaigns oldest first, each ordered by (latest sent date, name)."""
    by_name: dict[str, list[PhishingResult]] = {}
    for result in results:
        by_name.setdefault(result.campaign, []).append(result)
    campaigns = [((max(r.sent for r in rs), name), rs) for name, rs in by_name.items()]
    return sorted(campaigns, key=lambda campaign: campaign[0])


def _click_rate(results: list[PhishingResult]) -> float:
    return 100 * sum(r.clicked for r in results) / len(results)


def _phishing_clicks(inp: CheckInput) -> list[Finding]:
    """The latest campaign's click rate against the maximum and the previous campaign's."""
    current = _campaigns(rows(inp.evidence, Source.PHISHING, PhishingResult))
    if not current:
        return []
    (_, name), results = current[-1]
    # An overlapping export may repeat a campaign of the last review: only earlier ones count.
    before = _campaigns(rows(inp.previous, Source.PHISHING, PhishingResult))
    earlier = current[:-1] or [c for c in before if c[0] < current[-1][0]]
    rate = _click_rate(results)
    above = rate > inp.thresholds.phishing_click_rate_max
    prior = (earlier[-1][0][1], _click_rate(earlier[-1][1])) if earlier else None
    worse = prior is not None and rate > prior[1]
    if not above and not worse:
        return []
    clicked = [r for r in results if r.clicked]
    title = (
        f"Phishing click rate {pct(rate)} in {name} "
        f"({len(clicked)} of {plural(len(results), 'user')} clicked)"
    )
    parts = [f"Previous campaign {prior[0]}: {pct(prior[1])}."] if prior else []
    parts.append(f"Clicked: {names(r.user for r in clicked)}.")
    severity = Severity.RED if above and worse else Severity.AMBER
    return _PHISHING.report(severity, title, dump(clicked), " ".join(parts))


def _secure_score(inp: CheckInput) -> list[Finding]:
    """The latest secure score reading, as a share of its maximum, against the target."""
    readings = rows(inp.evidence, Source.SECURE_SCORE, SecureScore)
    if not readings:
        return []
    latest = max(readings, key=lambda r: (r.measured_on, r.score, r.max_score))
    percent = 100 * latest.score / latest.max_score
    target = inp.thresholds.secure_score_target
    if percent >= target:
        return []
    title = f"Secure score {pct(percent)} of the maximum, below the {target:g}% target"
    detail = f"{latest.score:g} of {latest.max_score:g} on {latest.measured_on}."
    return _SECURE_SCORE.report(Severity.AMBER, title, dump([latest]), detail)


def _member(row: PrivilegedMember) -> tuple[str, str]:
    return row.group.lower(), row.account.lower()


def _privileged_change(inp: CheckInput) -> list[Finding]:
    """Members added to or removed from privileged groups since the previous review."""
    before = {_member(r): r for r in rows(inp.previous, Source.PRIVILEGED, PrivilegedMember)}
    if not before:
        return []  # the first membership list is the baseline
    after = {_member(r): r for r in rows(inp.evidence, Source.PRIVILEGED, PrivilegedMember)}
    added = [after[k] for k in sorted(after.keys() - before.keys())]
    removed = [before[k] for k in sorted(before.keys() - after.keys())]
    if not added and not removed:
        return []
    changes = [{**r.model_dump(mode="json"), "change": "added"} for r in added]
    changes += [{**r.model_dump(mode="json"), "change": "removed"} for r in removed]
    parts = [
        f"{label}: {names(f'{r.account} in {r.group}' for r in members)}."
        for label, members in (("Added", added), ("Removed", removed))
        if members
    ]
    title = f"Privileged groups changed: {len(added)} added, {len(removed)} removed"
    severity = Severity.RED if added else Severity.AMBER
    return _PRIVILEGED.report(severity, title, changes, " ".join(parts))


def _sla_attainment(inp: CheckInput) -> list[Finding]:
    """Share of rated tickets resolved within SLA, against the minimum."""
    rated = [t for t in rows(inp.evidence, Source.TICKETS, Ticket) if t.sla_met is not None]
    if not rated:
        return []
    missed = [t for t in rated if not t.sla_met]
    met = len(rated) - len(missed)
    percent = 100 * met / len(rated)
    minimum = inp.thresholds.sla_attainment_min
    severity = graded(percent, minimum - SLA_RED_MARGIN, minimum)
    if severity is None:
        return []
    title = f"SLA attainment {pct(percent)} ({met} of {len(rated)} tickets within SLA)"
    detail = f"Missed SLA: {names(t.id for t in missed)}."
    return _SLA.report(severity, title, dump(missed), detail)


DARKWEB_NEW = _DARKWEB.check(_darkweb_new, Source.DARKWEB)
PHISHING_CLICKS = _PHISHING.check(_phishing_clicks, Source.PHISHING)
SECURE_SCORE = _SECURE_SCORE.check(_secure_score, Source.SECURE_SCORE)
PRIVILEGED_CHANGE = _PRIVILEGED.check(_privileged_change, Source.PRIVILEGED)
SLA_ATTAINMENT = _SLA.check(_sla_attainment, Source.TICKETS)
