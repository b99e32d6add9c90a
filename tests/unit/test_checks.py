"""The checks: every threshold at its edge and just past it, baselines, assessment, determinism."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from states.staging.assessment import Category, Disposition, Finding, Severity, Thresholds
from states.staging.checks.registry import CHECKS, CheckInput, run_checks
from states.staging.evidence import (
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

D = date.fromisoformat
TODAY = D("2026-11-21")
AMBER, RED = Severity.AMBER, Severity.RED
Rows = dict[Source, list[EvidenceRow]]

# the categories only the standards' items rate, by people's answers
ONLY_PEOPLE = {Category.GOVERNANCE, Category.COMPLIANCE}


def run(
    evidence: Rows, previous: Rows | None = None, overrides: dict[str, Any] | None = None
) -> tuple[list[Finding], set[Category]]:
    thresholds = Thresholds().merged(overrides)
    return run_checks(CheckInput(evidence, previous or {}, thresholds, TODAY))


def finding(
    check: str, evidence: Rows, previous: Rows | None = None, **overrides: Any
) -> Finding | None:
    """The one finding `check` raised on this evidence, or None."""
    found = [f for f in run(evidence, previous, overrides)[0] if f.check == check]
    assert len(found) <= 1
    return found[0] if found else None


def severity(
    check: str, evidence: Rows, previous: Rows | None = None, **overrides: Any
) -> Severity | None:
    found = finding(check, evidence, previous, **overrides)
    return found.severity if found else None


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# --- builders: n rows of a source, named so that sorting is visible -----------------------------


def patches(patched: int, unpatched: int) -> list[EvidenceRow]:
    return [
        PatchStatus(device=f"pc-{i:04}", missing_critical=int(i >= patched), missing_total=1)
        for i in range(patched + unpatched)
    ]


def av(device: str, agent: bool = True, age: int | None = 0) -> EndpointProtection:
    defs = None if age is None else ago(age)
    return EndpointProtection(device=device, agent_present=agent, definitions_date=defs)


def asset(name: str, bought: date, warranty_end: date | None = None) -> WarrantyAsset:
    return WarrantyAsset(asset=name, purchase_date=bought, warranty_end=warranty_end)


def breach(email: str, name: str = "Collection1") -> DarkWebBreach:
    return DarkWebBreach(email=email, breach=name, discovered=ago(10))


def campaign(name: str, sent: date, clicked: int, users: int) -> list[EvidenceRow]:
    return [
        PhishingResult(campaign=name, sent=sent, user=f"user{i:03}", clicked=i < clicked)
        for i in range(users)
    ]


def score(score: float, measured_on: date = TODAY, max_score: float = 100) -> SecureScore:
    return SecureScore(measured_on=measured_on, score=score, max_score=max_score)


def device(mac: str, hostname: str | None = None) -> NetworkDevice:
    # Left out, not blank: evidence.py reads a blank as None, which a `str` field refuses.
    if hostname is None:
        return NetworkDevice(ip="10.0.0.9", mac=mac)
    return NetworkDevice(ip="10.0.0.9", mac=mac, hostname=hostname)


def admins(*members: str) -> list[EvidenceRow]:
    return [PrivilegedMember(group="Domain Admins", account=m) for m in members]


def tickets(met: int, missed: int, unrated: int = 0) -> list[EvidenceRow]:
    outcomes = [True] * met + [False] * missed + [None] * unrated
    return [Ticket(id=f"T{i:04}", opened=ago(5), sla_met=o) for i, o in enumerate(outcomes)]


def job(name: str, result: str) -> BackupJob:
    return BackupJob(job=name, device="srv1", last_result=result)


# --- patch compliance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patched", "unpatched", "overrides", "expected"),
    [
        pytest.param(20, 0, {}, None, id="all-patched"),
        pytest.param(0, 0, {}, None, id="no-devices"),
        pytest.param(19, 1, {}, None, id="exactly-95-is-fine"),
        pytest.param(18, 1, {}, AMBER, id="94.7-is-amber"),
        pytest.param(4, 1, {}, AMBER, id="exactly-80-is-amber"),
        pytest.param(79, 21, {}, RED, id="79-is-red"),
        pytest.param(0, 3, {}, RED, id="none-patched"),
        pytest.param(1999, 1, {"patch_amber_below": 99.95}, None, id="99.95-at-raised-floor"),
        pytest.param(1999, 1, {"patch_amber_below": 99.96}, AMBER, id="99.95-below-raised-floor"),
        pytest.param(18, 1, {"patch_amber_below": 90}, None, id="lowered-amber-floor"),
        pytest.param(79, 21, {"patch_red_below": 75}, AMBER, id="lowered-red-floor"),
    ],
)
def test_patch_compliance_edges(
    patched: int, unpatched: int, overrides: dict[str, Any], expected: Severity | None
) -> None:
    evidence: Rows = {Source.PATCHES: patches(patched, unpatched)}
    assert severity("patch-compliance", evidence, **overrides) == expected


def test_patch_finding_reads_like_a_ticket() -> None:
    found = finding("patch-compliance", {Source.PATCHES: patches(41, 9)})
    assert found is not None
    assert found.title == "Patch compliance 82% (41 of 50 devices fully patched)"
    assert found.key == "patch-compliance"
    assert found.category is Category.PATCHING
    assert found.disposition is Disposition.TICKET
    assert found.owner_role == "support_engineer"
    assert [row["device"] for row in found.evidence] == [f"pc-{i:04}" for i in range(41, 50)]
    assert found.detail.startswith("Missing critical patches: pc-0041, pc-0042,")
    assert found.detail.endswith("pc-0049.")


# --- endpoint protection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protection", "managed", "expected"),
    [
        pytest.param([av("pc-1")], None, None, id="protected"),
        pytest.param([av("pc-1", agent=False)], None, RED, id="no-agent"),
        pytest.param([av("pc-1")], ["pc-1", "pc-2"], RED, id="managed-but-not-in-av-report"),
        pytest.param([av("PC-1")], ["pc-1"], None, id="names-match-case-insensitively"),
        pytest.param([], [], None, id="empty-reports"),
    ],
)
def test_endpoint_missing(
    protection: list[EvidenceRow], managed: list[str] | None, expected: Severity | None
) -> None:
    evidence: Rows = {Source.ANTIVIRUS: protection}
    if managed is not None:
        evidence[Source.PATCHES] = [
            PatchStatus(device=d, missing_critical=0, missing_total=0) for d in managed
        ]
    assert severity("endpoint-missing", evidence) == expected


def test_endpoint_missing_counts_both_kinds_of_gap() -> None:
    managed: list[EvidenceRow] = [
        PatchStatus(device=d, missing_critical=0, missing_total=0) for d in ("a", "b", "c")
    ]
    evidence: Rows = {
        Source.ANTIVIRUS: [av("A"), av("B", agent=False)],
        Source.PATCHES: managed,
    }
    found = finding("endpoint-missing", evidence)
    assert found is not None
    assert found.title == "2 managed devices without AV/EDR"
    assert found.detail == "No agent: B. Not in the antivirus report: c."
    assert sorted(row["device"] for row in found.evidence) == ["B", "c"]


@pytest.mark.parametrize(
    ("row", "overrides", "expected"),
    [
        pytest.param(av("pc", age=0), {}, None, id="today"),
        pytest.param(av("pc", age=3), {}, None, id="exactly-3-days-is-fine"),
        pytest.param(av("pc", age=4), {}, AMBER, id="4-days-is-stale"),
        pytest.param(av("pc", age=None), {}, AMBER, id="no-date-is-stale"),
        pytest.param(av("pc", agent=False, age=30), {}, None, id="no-agent-is-not-stale"),
        pytest.param(av("pc", age=4), {"definitions_max_age_days": 7}, None, id="raised-age"),
        pytest.param(av("pc", age=1), {"definitions_max_age_days": 0}, AMBER, id="zero-age"),
    ],
)
def test_definitions_stale(
    row: EvidenceRow, overrides: dict[str, Any], expected: Severity | None
) -> None:
    assert severity("definitions-stale", {Source.ANTIVIRUS: [row]}, **overrides) == expected


# --- lifecycle ----------------------------------------------------------------------------------


def test_five_years_ago_is_1826_days() -> None:
    # The age edge below relies on 2021-11-21..2026-11-21 holding one leap day (2024).
    assert (TODAY - D("2021-11-21")).days == 1826 < 5 * 365.25


@pytest.mark.parametrize(
    ("row", "overrides", "expected"),
    [
        pytest.param(asset("a", ago(100), TODAY + timedelta(91)), {}, None, id="ends-in-91"),
        pytest.param(asset("a", ago(100), TODAY + timedelta(90)), {}, AMBER, id="ends-in-90"),
        pytest.param(asset("a", ago(100), TODAY), {}, AMBER, id="ends-today"),
        pytest.param(asset("a", ago(100), ago(1)), {}, RED, id="ended-yesterday"),
        pytest.param(asset("a", ago(100)), {}, None, id="no-warranty-date"),
        pytest.param(asset("a", D("2021-11-21")), {}, None, id="exactly-5-years"),
        pytest.param(asset("a", D("2021-11-20")), {}, AMBER, id="5-years-and-a-day"),
        pytest.param(asset("a", ago(1826)), {}, None, id="1826-days"),
        pytest.param(asset("a", ago(1827)), {}, AMBER, id="1827-days"),
        pytest.param(
            asset("a", ago(100), TODAY + timedelta(91)),
            {"warranty_ending_days": 91},
            AMBER,
            id="wider-window",
        ),
        pytest.param(asset("a", ago(1827)), {"device_max_age_years": 6}, None, id="longer-life"),
        pytest.param(asset("a", ago(366)), {"device_max_age_years": 1}, AMBER, id="one-year"),
    ],
)
def test_warranty_lifecycle_edges(
    row: EvidenceRow, overrides: dict[str, Any], expected: Severity | None
) -> None:
    assert severity("warranty-lifecycle", {Source.WARRANTY: [row]}, **overrides) == expected


def test_lifecycle_is_a_replacement_recommendation() -> None:
    rows: list[EvidenceRow] = [
        asset("srv-1", D("2019-01-01"), D("2024-01-01")),
        asset("pc-2", ago(100), TODAY + timedelta(30)),
        asset("pc-3", ago(100), TODAY + timedelta(400)),
        asset("pc-4", ago(100), TODAY),
    ]
    found = finding("warranty-lifecycle", {Source.WARRANTY: rows})
    assert found is not None
    assert found.title == "Replace 3 assets out of warranty or past 5 years"
    assert found.severity is RED
    assert found.disposition is Disposition.RECOMMENDATION
    assert found.owner_role == "vcio"
    assert "pc-2 (warranty ends 2026-12-21), pc-4 (warranty ends 2026-11-21)" in found.detail
    assert "srv-1 (warranty ended 2024-01-01, bought 2019-01-01)" in found.detail
    assert [row["asset"] for row in found.evidence] == ["pc-2", "pc-4", "srv-1"]


# --- dark web, network, privileged: new against the previous review -----------------------------


def test_darkweb_first_review_reports_every_record() -> None:
    evidence: Rows = {Source.DARKWEB: [breach("a@x.com"), breach("b@x.com", "LinkedIn")]}
    found = finding("darkweb-new", evidence)
    assert found is not None
    assert (found.severity, found.disposition) == (RED, Disposition.DISCUSSION)
    assert found.title == "2 new dark-web exposures (2 accounts)"


@pytest.mark.parametrize(
    ("previous", "current", "new"),
    [
        pytest.param([breach("a@x.com")], [breach("A@X.com")], 0, id="same-email-other-case"),
        pytest.param([breach("a@x.com")], [breach("a@x.com"), breach("b@x.com")], 1, id="one-new"),
        pytest.param([breach("a@x.com")], [breach("a@x.com", "Other")], 1, id="new-breach"),
        pytest.param([], [breach("a@x.com")], 1, id="previous-empty"),
    ],
)
def test_darkweb_second_review_reports_only_new(
    previous: list[EvidenceRow], current: list[EvidenceRow], new: int
) -> None:
    found = finding("darkweb-new", {Source.DARKWEB: current}, {Source.DARKWEB: previous})
    assert (len(found.evidence) if found else 0) == new


def test_network_first_scan_is_the_baseline() -> None:
    assert finding("network-new-devices", {Source.NETWORK: [device("aa:bb:cc:00:00:01")]}) is None


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param("AA-BB-CC-00-00-01", "aa:bb:cc:00:00:01", None, id="same-mac-other-format"),
        pytest.param("aabb.cc00.0001", "AA:BB:CC:00:00:01", None, id="cisco-dotted"),
        pytest.param("aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02", AMBER, id="new-mac"),
    ],
)
def test_network_second_scan_reports_new_macs(
    previous: str, current: str, expected: Severity | None
) -> None:
    evidence: Rows = {Source.NETWORK: [device(current, "cam")]}
    assert (
        severity("network-new-devices", evidence, {Source.NETWORK: [device(previous)]}) == expected
    )


def test_privileged_first_list_is_the_baseline() -> None:
    assert finding("privileged-change", {Source.PRIVILEGED: admins("alice")}) is None


@pytest.mark.parametrize(
    ("previous", "current", "expected", "changes"),
    [
        pytest.param(["alice"], ["ALICE"], None, [], id="same-other-case"),
        pytest.param(["alice"], ["alice", "bob"], RED, [("bob", "added")], id="added"),
        pytest.param(["alice", "bob"], ["alice"], AMBER, [("bob", "removed")], id="removed"),
        pytest.param(
            ["alice"], ["bob"], RED, [("alice", "removed"), ("bob", "added")], id="swapped"
        ),
    ],
)
def test_privileged_change(
    previous: list[str], current: list[str], expected: Severity | None, changes: list[Any]
) -> None:
    found = finding(
        "privileged-change",
        {Source.PRIVILEGED: admins(*current)},
        {Source.PRIVILEGED: admins(*previous)},
    )
    assert (found.severity if found else None) == expected
    assert [(r["account"], r["change"]) for r in (found.evidence if found else [])] == changes
    if found:
        assert found.owner_role == "security_engineer"


# --- phishing -----------------------------------------------------------------------------------

OCT, NOV = D("2026-10-01"), D("2026-11-01")


@pytest.mark.parametrize(
    ("rows", "previous", "overrides", "expected"),
    [
        pytest.param(campaign("nov", NOV, 1, 10), [], {}, None, id="exactly-10-is-fine"),
        pytest.param(campaign("nov", NOV, 11, 100), [], {}, AMBER, id="11-is-amber"),
        pytest.param(campaign("nov", NOV, 0, 0), [], {}, None, id="no-rows"),
        pytest.param(
            campaign("oct", OCT, 0, 10) + campaign("nov", NOV, 1, 10),
            [],
            {},
            AMBER,
            id="at-max-but-above-previous",
        ),
        pytest.param(
            campaign("oct", OCT, 1, 10) + campaign("nov", NOV, 2, 10),
            [],
            {},
            RED,
            id="above-max-and-previous",
        ),
        pytest.param(
            campaign("oct", OCT, 3, 10) + campaign("nov", NOV, 2, 10),
            [],
            {},
            AMBER,
            id="above-max-better-than-previous",
        ),
        pytest.param(
            campaign("oct", OCT, 1, 10) + campaign("nov", NOV, 1, 10),
            [],
            {},
            None,
            id="equal-to-previous",
        ),
        pytest.param(
            campaign("nov", NOV, 1, 10), campaign("oct", OCT, 0, 10), {}, AMBER, id="prev-review"
        ),
        pytest.param(
            campaign("nov", NOV, 1, 10), campaign("nov", NOV, 0, 10), {}, None, id="same-campaign"
        ),
        pytest.param(
            campaign("nov", NOV, 2, 10), [], {"phishing_click_rate_max": 20}, None, id="raised"
        ),
    ],
)
def test_phishing_clicks(
    rows: list[EvidenceRow],
    previous: list[EvidenceRow],
    overrides: dict[str, Any],
    expected: Severity | None,
) -> None:
    evidence: Rows = {Source.PHISHING: rows}
    prior: Rows = {Source.PHISHING: previous} if previous else {}
    assert severity("phishing-clicks", evidence, prior, **overrides) == expected


def test_phishing_reads_the_latest_campaign_by_sent_date_then_name() -> None:
    rows = campaign("b-nov", NOV, 0, 10) + campaign("a-nov", NOV, 5, 10)
    rows += campaign("z-oct", OCT, 9, 10)
    random.Random(7).shuffle(rows)
    found = finding("phishing-clicks", {Source.PHISHING: rows})
    assert found is None  # b-nov (0%) is the latest; a-nov (50%) is the previous one

    rows += campaign("c-nov", NOV, 3, 10)
    found = finding("phishing-clicks", {Source.PHISHING: rows})
    assert found is not None
    assert found.title == "Phishing click rate 30% in c-nov (3 of 10 users clicked)"
    assert found.severity is RED
    assert found.detail.startswith("Previous campaign b-nov: 0%. Clicked: user000, user001")
    assert [r["user"] for r in found.evidence] == ["user000", "user001", "user002"]


# --- secure score, SLA, backups -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("readings", "overrides", "expected"),
    [
        pytest.param([score(70)], {}, None, id="exactly-at-target"),
        pytest.param([score(69.99)], {}, AMBER, id="just-below"),
        pytest.param([score(35, max_score=50)], {}, None, id="share-of-max"),
        pytest.param([score(34.9, max_score=50)], {}, AMBER, id="share-of-max-below"),
        pytest.param([score(90, ago(30)), score(50)], {}, AMBER, id="latest-counts"),
        pytest.param([score(50, ago(30)), score(90)], {}, None, id="latest-recovered"),
        pytest.param([], {}, None, id="no-readings"),
        pytest.param([score(65)], {"secure_score_target": 60}, None, id="lowered-target"),
    ],
)
def test_secure_score(
    readings: list[EvidenceRow], overrides: dict[str, Any], expected: Severity | None
) -> None:
    assert severity("secure-score", {Source.SECURE_SCORE: readings}, **overrides) == expected


@pytest.mark.parametrize(
    ("rows", "overrides", "expected"),
    [
        pytest.param(tickets(19, 1), {}, None, id="exactly-95-is-fine"),
        pytest.param(tickets(18, 1), {}, AMBER, id="94.7-is-amber"),
        pytest.param(tickets(16, 4), {}, AMBER, id="exactly-80-is-amber"),
        pytest.param(tickets(79, 21), {}, RED, id="79-is-red"),
        pytest.param(tickets(19, 1, unrated=30), {}, None, id="unrated-ignored"),
        pytest.param(tickets(0, 0, unrated=3), {}, None, id="none-rated"),
        pytest.param(tickets(18, 2), {"sla_attainment_min": 90}, None, id="lowered-minimum"),
        pytest.param(tickets(89, 11), {"sla_attainment_min": 90}, AMBER, id="lowered-amber"),
        pytest.param(tickets(74, 26), {"sla_attainment_min": 90}, RED, id="lowered-red"),
    ],
)
def test_sla_attainment(
    rows: list[EvidenceRow], overrides: dict[str, Any], expected: Severity | None
) -> None:
    assert severity("sla-attainment", {Source.TICKETS: rows}, **overrides) == expected


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param(["success", "warning"], None, id="no-failure"),
        pytest.param(["success", "failed"], RED, id="one-failed"),
        pytest.param(["FAILED"], RED, id="any-case"),
        pytest.param([], None, id="no-jobs"),
    ],
)
def test_backup_failed(results: list[str], expected: Severity | None) -> None:
    rows: list[EvidenceRow] = [job(f"job{i}", r) for i, r in enumerate(results)]
    assert severity("backup-failed", {Source.BACKUPS: rows}) == expected


# --- running the checks together ----------------------------------------------------------------


def every_source() -> Rows:
    """Evidence on which every check that can fire on a first review does."""
    return {
        Source.PATCHES: patches(10, 5),
        Source.ANTIVIRUS: [av("pc-0000", agent=False), av("pc-0001", age=9)],
        Source.WARRANTY: [asset("srv", D("2018-01-01"), D("2023-01-01"))],
        Source.DARKWEB: [breach("a@x.com"), breach("b@x.com")],
        Source.PHISHING: campaign("nov", NOV, 5, 10),
        Source.SECURE_SCORE: [score(40)],
        Source.NETWORK: [device("aa:bb:cc:00:00:09")],
        Source.PRIVILEGED: admins("alice", "mallory"),
        Source.TICKETS: tickets(10, 10),
        Source.BACKUPS: [job("nightly", "failed")],
    }


def test_checks_are_named_once_and_cover_every_category() -> None:
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names)) == 11
    assert {check.category for check in CHECKS} == set(Category) - ONLY_PEOPLE
    assert {s for check in CHECKS for s in check.sources} == set(Source)


def test_one_finding_per_check_keyed_by_its_name() -> None:
    previous: Rows = {Source.NETWORK: [device("aa:bb:cc:00:00:01")]}
    previous[Source.PRIVILEGED] = admins("alice")
    findings, assessed = run(every_source(), previous)
    assert [f.key for f in findings] == [check.name for check in CHECKS]
    assert all(f.key == f.check for f in findings)
    assert assessed == set(Category) - ONLY_PEOPLE


def test_a_missing_source_is_not_assessed() -> None:
    findings, assessed = run({Source.PATCHES: patches(1, 1)})
    assert assessed == {Category.PATCHING}
    assert [f.check for f in findings] == ["patch-compliance"]


def test_an_empty_export_is_assessed_without_findings() -> None:
    findings, assessed = run({source: [] for source in Source})
    assert findings == []
    assert assessed == set(Category) - ONLY_PEOPLE


def test_no_evidence_assesses_nothing() -> None:
    assert run({}) == ([], set())


def test_same_input_gives_equal_findings_whatever_the_row_order() -> None:
    first = run(every_source())
    assert run(every_source()) == first
    shuffled = every_source()
    for rows in shuffled.values():
        random.Random(1).shuffle(rows)
    assert run(shuffled) == first


def test_evidence_is_capped_at_200_with_the_total_in_the_detail() -> None:
    found = finding("patch-compliance", {Source.PATCHES: patches(0, 250)})
    assert found is not None
    assert len(found.evidence) == 200
    assert found.evidence[0]["device"] == "pc-0000"
    assert "200 of 250" in found.detail
    assert found.detail.startswith("Missing critical patches: pc-0000,")
    assert "and 240 more." in found.detail


def test_evidence_under_the_cap_says_nothing_about_it() -> None:
    found = finding("patch-compliance", {Source.PATCHES: patches(0, 200)})
    assert found is not None
    assert len(found.evidence) == 200
    assert "Evidence lists" not in found.detail
