"""The review's written outputs for Acme Dental: the 2026-Q3 baseline with lots of red, and the
2026-Q4 review that got most of it out; agenda, client summary and the self-contained report."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from reports.documents import (
    FOLLOW_UP_QUESTIONS,
    ROADMAP_QUESTIONS,
    agenda_markdown,
    report_html,
    summary_markdown,
)

NIST = {
    "patching": ["Protect"],
    "endpoint_protection": ["Protect", "Detect"],
    "identity_access": ["Protect", "Detect"],
    "backup_recovery": ["Protect", "Recover"],
    "asset_lifecycle": ["Identify"],
    "security_awareness": ["Protect"],
    "network": ["Identify", "Detect"],
    "service_quality": ["Govern", "Respond"],
}
LABELS = {
    "patching": "Patching",
    "endpoint_protection": "Endpoint protection",
    "identity_access": "Identity and access",
    "backup_recovery": "Backup and recovery",
    "asset_lifecycle": "Asset lifecycle",
    "security_awareness": "Security awareness",
    "network": "Network",
    "service_quality": "Service quality",
}
# (Q3 baseline, Q4) per category: five reds at the baseline, one left; no network scan in Q4.
SCORES: dict[str, tuple[int, int | None]] = {
    "patching": (30, 100),
    "endpoint_protection": (50, 80),
    "identity_access": (30, 80),
    "backup_recovery": (50, 100),
    "asset_lifecycle": (80, 80),
    "security_awareness": (30, 50),
    "network": (60, None),
    "service_quality": (80, 100),
}


def _color(score: int | None) -> str:
    if score is None:
        return "grey"
    return "green" if score >= 85 else "yellow" if score >= 60 else "red"


def _scorecard(baseline: bool) -> list[dict[str, Any]]:
    rows = []
    for category, (q3, q4) in SCORES.items():
        score, was = (q3, None) if baseline else (q4, q3)
        rows.append(
            {
                "category": category,
                "label": LABELS[category],
                "score": score,
                "color": _color(score),
                "baseline": was,
                "previous": was,
                "change": score - was if score is not None and was is not None else None,
                "nist": NIST[category],
            }
        )
    return rows


def _ticket(id: int, what: str, role: str, due: str, **more: Any) -> dict[str, Any]:
    return {
        "id": id,
        "title": f"Follow-up - {what}",
        "owner_role": role,
        "due": due,
        "status": more.get("status", "open"),
        "recurring": more.get("recurring", False),
    }


AV_TICKET = _ticket(
    12, "Antivirus definitions out of date on 2 devices", "support_engineer", "2026-11-20"
)
TRAINING_TICKET = _ticket(
    14, "Phishing refresher training for 4 users", "security_engineer", "2026-12-04",
    recurring=True,
)  # fmt: skip
BACKUP_TICKET = _ticket(
    9, "Nightly backup of the file server failing", "support_engineer", "2026-08-28",
    status="closed",
)  # fmt: skip


def _finding(key: str, category: str, severity: str, title: str, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "check": more.get("check", key),
        "category": category,
        "category_label": LABELS[category],
        "severity": severity,
        "title": title,
        "detail": more.get("detail", ""),
        "disposition": more.get("disposition", "discussion"),
        "recurring": more.get("recurring", False),
        "owner_role": more.get("owner_role"),
        "evidence_count": more.get("evidence_count", 1),
        "ticket": more.get("ticket"),
    }


Q4_FINDINGS = [
    _finding(
        "darkweb-new-breaches", "identity_access", "amber",
        "2 staff credentials found in a new breach",
        detail="front.desk@ and billing@ appear in the DentalSoft breach of October 2026.",
        check="darkweb", evidence_count=2,
    ),
    _finding(
        "av-definitions-stale", "endpoint_protection", "amber",
        "Antivirus definitions out of date on 2 devices",
        detail="RECEPTION-02 and XRAY-01 last updated more than 3 days ago.",
        check="antivirus", disposition="ticket", owner_role="support_engineer",
        evidence_count=2, ticket=AV_TICKET,
    ),
    _finding(
        "warranty-ending", "asset_lifecycle", "amber",
        "3 workstations' warranties end within 90 days",
        detail="OP-01, OP-02 and OP-03 (OptiPlex 7070) end on 31 Jan 2027: replace or extend.",
        check="warranty", disposition="recommendation", recurring=True, evidence_count=3,
    ),
    _finding(
        "phishing-failures", "security_awareness", "red",
        "4 users clicked in the October phishing campaign",
        detail="A 16% click rate against a 10% target; 2 of them also clicked in July.",
        check="phishing", recurring=True, evidence_count=4,
    ),
]  # fmt: skip
Q3_FINDINGS = [
    _finding(
        "patch-compliance", "patching", "red", "9 of 14 devices miss critical patches",
        check="patches", disposition="ticket", owner_role="support_engineer", evidence_count=9,
    ),
    _finding(
        "backup-failures", "backup_recovery", "red", "Nightly backup of the file server failing",
        check="backups", disposition="ticket", owner_role="support_engineer",
        ticket=BACKUP_TICKET,
    ),
    _finding(
        "warranty-ending", "asset_lifecycle", "amber",
        "3 workstations' warranties end within 90 days",
        disposition="recommendation", check="warranty", evidence_count=3,
    ),
    _finding(
        "phishing-failures", "security_awareness", "red",
        "6 users clicked in the July phishing campaign", check="phishing", evidence_count=6,
    ),
]  # fmt: skip


# From the PSA's ticket export: (month, opened, closed); Aug is the busiest month.
VOLUME = [
    ("2026-06", 41, 38), ("2026-07", 36, 37), ("2026-08", 44, 40),
    ("2026-09", 33, 35), ("2026-10", 29, 31), ("2026-11", 18, 15),
]  # fmt: skip


def acme_dental(baseline: bool = False) -> dict[str, Any]:
    """The data of Acme Dental's 2026-Q4 QBR, or with `baseline` of its 2026-Q3 baseline."""
    q3 = {"review_id": 3, "name": "Acme Dental qbr 2026-q3"}
    review = {
        "id": 7, "name": "Acme Dental qbr 2026-q4", "client": "Acme Dental", "type": "qbr",
        "title": "Quarterly business review", "status": "prep", "period": "2026-q4",
        "meeting_at": "2026-11-24T15:00:00+00:00", "timezone": "America/New_York",
    }  # fmt: skip
    if baseline:
        review |= {"id": 3, "name": q3["name"], "period": "2026-q3", "meeting_at": None}
    return {
        "review": review,
        "generated_at": "2026-11-21T10:00:00+00:00",
        "baseline": None if baseline else q3,
        "previous": None if baseline else q3,
        "scorecard": _scorecard(baseline),
        "findings": copy.deepcopy(Q3_FINDINGS if baseline else Q4_FINDINGS),
        "tickets": [copy.deepcopy(BACKUP_TICKET)]
        if baseline
        else [copy.deepcopy(t) for t in (AV_TICKET, TRAINING_TICKET, BACKUP_TICKET)],
        "ticket_volume": [
            {"month": month, "opened": opened, "closed": closed} for month, opened, closed in VOLUME
        ],
        "feedback": None
        if baseline
        else {
            "better": "Send the agenda a week earlier, please.",
            "next_meeting": "late February 2027",
            "referrals": "Dr. Patel at Smile Orthodontics",
            "review_request": "yes",
            "by": "email",
            "at": "2026-11-25T14:30:00+00:00",
        },
        "contacts": ["Carl Client", "Dana Dentist"],
        "presenter": "Vera Vcio",
    }


def _section(markdown: str, heading: str) -> str:
    """The text under a `## heading` up to the next one."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_the_agenda_has_its_six_sections_in_order_with_the_meeting_in_the_clients_zone() -> None:
    agenda = agenda_markdown(acme_dental())

    assert agenda.startswith("# Agenda: Acme Dental QBR 2026-Q4 — Tue 24 Nov 2026, 10:00 EST\n")
    headings = re.findall(r"^## (.+)$", agenda, re.MULTILINE)
    assert headings == [
        "1. Since the last review",
        "2. Discussion items",
        "3. Recommendations",
        "4. Follow-up tickets in progress",
        "5. Roadmap questions",
        "6. Follow-up questions and next meeting",
    ]
    assert "**Attendees:** Carl Client, Dana Dentist; Vera Vcio (presenting)" in agenda
    assert "Acme Dental qbr 2026-q3 (2026-Q3 baseline)" in agenda


def test_the_agenda_scorecard_shows_each_category_against_the_baseline() -> None:
    scorecard = _section(agenda_markdown(acme_dental()), "1. Since the last review")

    assert "| Patching | 100 | Green | +70 since 2026-Q3 baseline |" in scorecard
    assert "| Identity and access | 80 | Yellow | +50 since 2026-Q3 baseline |" in scorecard
    assert "| Security awareness | 50 | Red | +20 since 2026-Q3 baseline |" in scorecard
    assert "| Asset lifecycle | 80 | Yellow | no change since 2026-Q3 baseline |" in scorecard
    assert "| Network | — | Not assessed | not assessed |" in scorecard
    assert len(re.findall(r"^\| (?!Category|---)", scorecard, re.MULTILINE)) == 8


def test_the_agenda_lists_discussion_red_first_then_recommendations_tickets_and_questions() -> None:
    agenda = agenda_markdown(acme_dental())

    discussion = _section(agenda, "2. Discussion items").splitlines()[2:4]
    assert discussion == [
        "- **4 users clicked in the October phishing campaign** (Red, Recurring) — Security"
        " awareness: A 16% click rate against a 10% target; 2 of them also clicked in July.",
        "- **2 staff credentials found in a new breach** (Amber, New) — Identity and access:"
        " front.desk@ and billing@ appear in the DentalSoft breach of October 2026.",
    ]
    recommendations = _section(agenda, "3. Recommendations")
    assert "3 workstations' warranties end within 90 days" in recommendations
    assert "end on 31 Jan 2027: replace or extend." in recommendations
    assert "Antivirus" not in recommendations  # a ticket, not a recommendation
    tickets = _section(agenda, "4. Follow-up tickets in progress")
    assert (
        "- **Follow-up - Antivirus definitions out of date on 2 devices** — our support team,"
        " due Fri 20 Nov 2026" in tickets
    )
    assert (
        "- **Follow-up - Nightly backup of the file server failing** — our support team,"
        " due Fri 28 Aug 2026 (closed)" in tickets
    )
    for number, question in enumerate(ROADMAP_QUESTIONS, 1):
        assert f"{number}. {question}" in _section(agenda, "5. Roadmap questions")
    for number, question in enumerate(FOLLOW_UP_QUESTIONS, 1):
        assert f"{number}. {question}" in agenda
    assert "you suggested late February 2027" in agenda


def test_the_questions_are_the_sops() -> None:
    assert len(ROADMAP_QUESTIONS) == 5
    assert any("HIPAA, NIST, CIS, cyber insurance" in q for q in ROADMAP_QUESTIONS)
    assert any("12 months" in q for q in ROADMAP_QUESTIONS)
    assert FOLLOW_UP_QUESTIONS[0] == "What can we do better or different?"
    assert "Who do you know that would benefit from this type of meeting?" in FOLLOW_UP_QUESTIONS


def test_the_summary_speaks_to_the_client_about_progress_work_and_decisions() -> None:
    summary = summary_markdown(acme_dental())

    assert summary.startswith("**Subject:** Acme Dental QBR 2026-Q4: summary and next steps\n")
    assert "Hi Carl and Dana,\n" in summary
    assert "Thank you for meeting with us on Tue 24 Nov 2026 for your QBR 2026-Q4." in summary
    scorecard = _section(summary, "Your scorecard")
    assert "Compared with the 2026-Q3 baseline" in scorecard
    assert (
        "- **Went green:** Patching (30 → 100), Backup and recovery (50 → 100),"
        " Service quality (80 → 100)" in scorecard
    )
    assert (
        "- **Improved:** Endpoint protection (50 → 80), Identity and access (30 → 80),"
        " Security awareness (30 → 50)" in scorecard
    )
    assert "- **Still red:** Security awareness (30 → 50)" in scorecard
    assert "Lower" not in scorecard
    assert "average score is **84** out of 100, up from 50 at the baseline" in scorecard
    work = _section(summary, "What we are doing")
    assert (
        "- Follow-up - Antivirus definitions out of date on 2 devices — our support team,"
        " due Fri 20 Nov 2026" in work
    )
    assert (
        "- Follow-up - Phishing refresher training for 4 users — our security team,"
        " due Fri 4 Dec 2026" in work
    )
    assert "Nightly backup of the file server failing — our support team, done" in work
    decisions = _section(summary, "Recommendations awaiting your decision")
    assert "**3 workstations' warranties end within 90 days** — OP-01" in decisions
    assert "We agreed to meet again: late February 2027." in summary
    assert summary.rstrip().endswith("Best regards,\nVera Vcio")


def test_the_summary_names_no_internal_role_and_no_link() -> None:
    summary = summary_markdown(acme_dental())

    for internal in ("support_engineer", "security_engineer", "owner_role", "http", "prefect"):
        assert internal not in summary.lower()


def test_the_baseline_review_says_it_is_the_baseline_and_shows_no_change() -> None:
    data = acme_dental(baseline=True)
    agenda, summary, html = agenda_markdown(data), summary_markdown(data), report_html(data)

    assert agenda.startswith("# Agenda: Acme Dental QBR 2026-Q3 — date to be set\n")
    assert "This review sets the baseline" in agenda
    rows = re.findall(r"^\| (?!Category|---).*$", agenda, re.MULTILINE)
    assert len(rows) == 8
    assert all(row.endswith("| baseline |") for row in rows)
    assert "since" not in _section(agenda, "1. Since the last review")
    assert "This review sets your baseline" in summary
    assert "- **Red, our first priority:** Patching, Endpoint protection" in summary
    assert "Thank you for meeting with us for your QBR 2026-Q3." in summary
    assert "This review is the baseline" in html
    assert "bar-baseline" not in html
    assert html.count('class="bar bar-current"') == 8


def test_empty_findings_tickets_and_volume_say_so_in_one_line() -> None:
    data = acme_dental() | {"findings": [], "tickets": [], "ticket_volume": [], "feedback": None}
    agenda, summary, html = agenda_markdown(data), summary_markdown(data), report_html(data)

    assert "## 2. Discussion items\n\n_Nothing new to discuss._\n\n## 3." in agenda
    assert "## 3. Recommendations\n\n_No recommendations this time._\n\n## 4." in agenda
    assert "in progress\n\n_No follow-up tickets open._\n\n## 5." in agenda
    assert "## What we are doing\n\n_No follow-up work is open._\n\n" in summary
    assert "## Recommendations awaiting your decision\n\n_Nothing awaits your decision._" in summary
    assert "We will be in touch to schedule our next review." in summary
    assert "No ticket volume was exported for this review" in html
    assert "volume-chart" not in html
    assert "No findings in this review" in html
    assert "No follow-up tickets are open." in html
    assert 'id="feedback"' not in html


HOSTILE = 'Acme <script>alert("x")</script> & Sons'


def test_the_report_escapes_every_value_for_html_and_the_markdown_for_markdown() -> None:
    data = acme_dental()
    data["review"]["client"] = HOSTILE
    data["findings"][0]["title"] = "<img src=x onerror=alert(1)>"
    data["tickets"][0]["title"] = "Follow-up - \"quotes\" & 'apostrophes'"
    data["contacts"] = ["<b>Carl</b> Client"]

    html = report_html(data)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Follow-up - &#34;quotes&#34; &amp; &#39;apostrophes&#39;" in html
    assert "<script" not in html
    assert "<img" not in html
    # Markdown escapes for Markdown: the values show as written, none becomes HTML or a link
    assert r'Acme \<script\>alert("x")\</script\> & Sons' in agenda_markdown(data)
    assert r"Hi \<b\>Carl\</b\>," in summary_markdown(data)


@pytest.mark.parametrize("baseline", [False, True])
def test_the_report_loads_nothing_from_outside(baseline: bool) -> None:
    html = report_html(acme_dental(baseline))

    assert html.startswith("<!DOCTYPE html>")
    for outside in ("http://", "https://", "<script", "<link", "<img", "url(", "@import", "src="):
        assert outside not in html.lower()
    assert "<style>" in html
    assert "@media print" in html


def test_the_scorecard_chart_has_one_bar_per_category_per_series() -> None:
    html = report_html(acme_dental())
    scorecard = html[html.index('<svg class="chart scorecard-chart"') :]
    scorecard = scorecard[: scorecard.index("</svg>")]

    assert scorecard.count('class="bar bar-baseline"') == 8
    assert scorecard.count('class="bar bar-current"') == 8
    # 500 units stand for a score of 100: Patching 30 -> 100, Security awareness 30 -> 50 (red)
    assert re.search(r'bar-baseline" x="0" y="\d+" width="150"', scorecard)
    current = r'bar-current" x="0" y="\d+" width="{}" height="14" rx="3" fill="{}"'
    assert re.search(current.format(500, "#2da44e"), scorecard)  # green
    assert re.search(current.format(250, "#cf222e"), scorecard)  # red
    assert '>+70<tspan class="c-since"> since 2026-Q3 baseline</tspan><' in scorecard
    assert ">not assessed<" in scorecard  # Network, grey


def test_the_ticket_volume_chart_has_a_bar_per_month_for_opened_and_closed() -> None:
    html = report_html(acme_dental())
    volume = html[html.index('<svg class="chart volume-chart"') :]
    volume = volume[: volume.index("</svg>")]

    assert volume.count('class="bar bar-opened"') == 6
    assert volume.count('class="bar bar-closed"') == 6
    assert "<title>Aug 2026: 44 opened</title>" in volume
    assert "<strong>Opened</strong>201 tickets, 34 a month on average" in html
    assert "<strong>Closed</strong>196 tickets" in html
    # the axis runs 0-80 in steps of 20 for a largest month of 44
    assert [int(v) for v in re.findall(r'text-anchor="end">(\d+)</text>', volume)] == [
        0, 20, 40, 60, 80,
    ]  # fmt: skip


def test_the_report_has_the_header_tables_and_feedback() -> None:
    html = report_html(acme_dental())

    assert "<title>Acme Dental · Quarterly business review 2026-Q4</title>" in html
    assert "<dd>Tue 24 Nov 2026, 10:00 EST</dd>" in html
    assert "<dd>Sat 21 Nov 2026, 05:00 EST</dd>" in html  # generated, in the client's zone
    assert html.count('<tr class="category-row">') == 8
    assert '<span class="tag">Govern</span><span class="tag">Respond</span>' in html
    assert html.count('<tr class="finding-row">') == 4
    assert "#12, due Fri 20 Nov 2026" in html
    assert html.count('<tr class="ticket-row">') == 3
    assert "Our support team" in html
    assert "support_engineer" not in html
    assert "Dr. Patel at Smile Orthodontics" in html
    assert "Yes, gladly" in html


@pytest.mark.parametrize(
    ("contacts", "greeting"),
    [
        ([], "Hello,"),
        (["Carl Client"], "Hi Carl,"),
        (["Carl Client", "Dana Dentist", "Eve Office"], "Hi Carl, Dana and Eve,"),
    ],
)
def test_the_summary_greets_the_contacts_by_first_name(contacts: list[str], greeting: str) -> None:
    summary = summary_markdown(acme_dental() | {"contacts": contacts})

    assert f"\n\n{greeting}\n\n" in summary


def test_a_year_of_busy_months_gets_a_round_axis_and_a_year_label_in_january() -> None:
    volume = [
        {"month": f"{2026 + (m > 12)}-{(m - 1) % 12 + 1:02d}", "opened": 200 + m, "closed": 190}
        for m in range(3, 15)
    ]
    html = report_html(acme_dental() | {"ticket_volume": volume})
    chart = html[html.index('<svg class="chart volume-chart"') :]
    chart = chart[: chart.index("</svg>")]

    assert chart.count('class="bar bar-opened"') == 12
    assert [int(v) for v in re.findall(r'text-anchor="end">(\d+)</text>', chart)] == [
        0, 100, 200, 300, 400,
    ]  # fmt: skip
    assert re.findall(r'text-anchor="middle">(\d{4})</text>', chart) == ["2026", "2027"]
    assert "Mar 2026 to Feb 2027" in html
    assert "<strong>Busiest month</strong>Feb 2027" in html


def test_a_baseline_named_without_a_period_is_just_the_baseline() -> None:
    data = acme_dental() | {"baseline": {"review_id": 3, "name": "First assessment"}}

    assert "| Patching | 100 | Green | +70 since baseline |" in agenda_markdown(data)


def test_dates_follow_the_reviews_time_zone() -> None:
    data = acme_dental()
    data["review"]["timezone"] = "Europe/Berlin"

    assert "— Tue 24 Nov 2026, 16:00 CET" in agenda_markdown(data).splitlines()[0]


def test_the_same_data_renders_the_same_text_and_stays_untouched() -> None:
    data = acme_dental()
    before = copy.deepcopy(data)

    for render in (agenda_markdown, summary_markdown, report_html):
        assert render(data) == render(copy.deepcopy(data))
    assert data == before
