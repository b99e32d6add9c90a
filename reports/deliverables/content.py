"""What the PDF report and the deck show of a review, read once from the report's context
(reports/documents.py): the title block, the scorecard against the baseline, what changed and
why, findings red first, tickets in progress, the roadmap by quarter, the budget, the
decisions asked of the client and the next meeting.

Every value from people is one bounded line of text here; every list is bounded too, with how
many more the full report holds, so a client with thousands of devices gets a document of the
same few pages (the findings and tickets already summarise the devices: "Based on 240
records").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from notifications.messages import local_time, review_type_label
from reports.deliverables.plan_content import Quarter, Spend, plan_of
from reports.deliverables.text import (
    DETAIL_MAX,
    NAME_MAX,
    ROWS_MAX,
    TITLE_MAX,
    Shown,
    bounded,
    one_line,
)
from reports.documents import day, money, moved, report_context, team

REASONS_MAX = 3  # why a category moved: the first few reasons
HANDLING = {"ticket": "Ticket", "recommendation": "Recommendation", "discussion": "Discussion"}
WORDS = {"green": "Green", "yellow": "Yellow", "red": "Red", "grey": "Not assessed"}
RISK = {"satisfactory": "Satisfactory", "at_risk": "At risk", "critical": "Critical"}


@dataclass(frozen=True)
class Score:
    """One category of the scorecard: now, at the baseline, and the change in words."""

    label: str
    score: int | None
    baseline: int | None
    color: str  # green, yellow, red or grey: a key of WORDS, never from the data
    change: str
    tone: str  # up, down or none
    risk: str


@dataclass(frozen=True)
class Glance:
    """One number of the scorecard at a glance: Green categories, 3 of 8, was 0 at the
    baseline."""

    label: str
    value: str
    note: str


@dataclass(frozen=True)
class Moved:
    """A category that moved since the previous review, with the first reasons why."""

    label: str
    before: int | None
    now: int | None
    reasons: list[str]
    more: int


@dataclass(frozen=True)
class Finding:
    severity: str  # red or amber
    title: str
    detail: str
    category: str
    recurring: bool
    handling: str
    ticket: str


@dataclass(frozen=True)
class Ticket:
    number: int
    title: str
    who: str
    due: str


@dataclass(frozen=True)
class Content:
    """Everything the PDF report and the deck show of one review."""

    client: str
    review: str  # the review's name: "Acme Dental qbr 2026-q4"
    heading: str  # "Quarterly business review · QBR 2026-Q4"
    meeting: str
    presenter: str
    compared: str
    since: str  # "the 2026-Q3 baseline", or "" for the baseline itself
    generated: str
    scores: list[Score]
    baseline: bool
    glance: list[Glance]
    changes: list[str]  # against the baseline: went green, improved, still red, lower
    worse: list[Moved]  # since the previous review
    went_green: list[Moved]
    findings: Shown
    tickets: Shown
    roadmap: list[Quarter]
    roadmap_more: int
    budget: list[Spend]
    currency: str
    decisions: Shown
    next_meeting: str

    def amount(self, value: Decimal) -> str:
        """An amount in the review's currency, for people: USD 1,200.50."""
        return money(f"{value:.2f}", self.currency)


def content_of(data: dict[str, Any]) -> Content:
    """What the deliverables show of `report_data`."""
    context = report_context(data)
    review, zone = context["review"], context["zone"]
    rows = context["rows"]
    period = str(review["period"] or "").upper()
    kind = review_type_label(review["type"])
    baseline = context["baseline"]
    return Content(
        client=one_line(review["client"], NAME_MAX),
        review=one_line(review["name"], NAME_MAX),
        heading=one_line(f"{review['title']} · {kind} {period}".strip(), NAME_MAX),
        meeting=context["meeting"] or "Date to be set",
        presenter=one_line(context["presenter"] or "Your account team", NAME_MAX),
        compared=(
            one_line(f"{baseline['name']} (baseline)", NAME_MAX)
            if baseline
            else "This review is the baseline"
        ),
        since=f"the {context['since']}" if context["since"] else "",
        generated=local_time(context["generated_at"], zone),
        scores=[_score(row, baseline is not None) for row in rows],
        baseline=baseline is not None,
        glance=_glance(context),
        changes=_changes(context["highlights"]) if baseline else [],
        worse=[_moved_since(r) for r in (context["since_previous"] or {}).get("worse", [])],
        went_green=[
            _moved_since(r) for r in (context["since_previous"] or {}).get("went_green", [])
        ],
        findings=bounded(
            [_finding(f, zone) for f in context["findings"][: ROWS_MAX + 1]],
            len(context["findings"]),
        ),  # fmt: skip
        tickets=_tickets(context["tickets"], zone),
        **plan_of(context),
        next_meeting=_next_meeting(context),
    )


def _score(row: dict[str, Any], compared: bool) -> Score:
    color = row["color"] if row["color"] in WORDS else "grey"
    return Score(
        label=row["label"],
        score=row["score"],
        baseline=row["baseline"] if compared else None,
        color=color,
        change=row["change_text"],
        tone=row["tone"],
        risk=RISK.get(row.get("risk") or "", "—"),
    )


def _glance(context: dict[str, Any]) -> list[Glance]:
    """Green and red categories, the average score (each against the baseline when there is
    one) and the follow-up tickets open."""
    rows, high, base = context["rows"], context["highlights"], context["baseline"]
    first = "this review is the baseline"
    average, was = high["average"], high["was_average"]
    open_tickets = sum(t["status"] == "open" for t in context["tickets"])
    return [
        Glance("Green categories", f"{len(high['green'])} of {len(rows)}",
               f"was {high['was_green']} at the baseline" if base else first),
        Glance("Red categories", f"{len(high['red'])} of {len(rows)}",
               f"was {high['was_red']} at the baseline" if base else "our first priority"),
        Glance("Average score", "—" if average is None else f"{average} / 100",
               f"was {was} at the baseline" if was is not None else first if not base
               else "no baseline scores"),
        Glance("Follow-up tickets", f"{open_tickets} open",
               f"{len(context['tickets'])} raised from findings"),
    ]  # fmt: skip


def _changes(high: dict[str, Any]) -> list[str]:
    """Against the baseline, in the summary's words: Went green: Patching (30 → 100), ..."""
    parts = (
        ("Went green", high["went_green"]),
        ("Improved", high["improved"]),
        ("Still red", high["red"]),
        ("Lower than at the baseline", high["lower"]),
    )
    lines = [f"{name}: {', '.join(moved(r) for r in rows)}" for name, rows in parts if rows]
    return lines or ["No category has moved since the baseline."]


def _moved_since(row: dict[str, Any]) -> Moved:
    return Moved(
        label=row["label"],
        before=row["previous"],
        now=row["score"],
        reasons=[one_line(line, TITLE_MAX) for line in row["why_previous"][:REASONS_MAX]],
        more=max(0, len(row["why_previous"]) - REASONS_MAX),
    )


def _finding(finding: dict[str, Any], zone: str) -> Finding:
    ticket = finding["ticket"]
    records = finding["evidence_count"]
    detail = one_line(finding["detail"] or "", DETAIL_MAX)
    if records:  # the devices (users, jobs) behind it, counted rather than listed
        detail = " ".join(filter(None, [detail, f"Based on {records:,} record{_s(records)}."]))
    return Finding(
        severity="red" if finding["severity"] == "red" else "amber",
        title=one_line(finding["title"], TITLE_MAX),
        detail=detail,
        category=finding["category_label"],
        recurring=bool(finding["recurring"]),
        handling=HANDLING.get(finding["disposition"], "—"),
        ticket=f"#{ticket['id']}, due {day(ticket['due'], zone)}" if ticket else "—",
    )


def _tickets(tickets: list[dict[str, Any]], zone: str) -> Shown:
    """The follow-up tickets still in progress, oldest first."""
    open_ = [t for t in tickets if t["status"] == "open"]
    rows = [
        Ticket(t["id"], one_line(t["title"], TITLE_MAX), _first_upper(team(t["owner_role"])),
               day(t["due"], zone))
        for t in open_[: ROWS_MAX + 1]
    ]  # fmt: skip
    return bounded(rows, len(open_))


def _next_meeting(context: dict[str, Any]) -> str:
    feedback = context["feedback"]
    if feedback and feedback.get("next_meeting"):
        agreed = one_line(feedback["next_meeting"], NAME_MAX)
        return f"We agreed to meet again: {agreed}. We will send the invitation."
    return "We will be in touch to schedule our next review."


def _first_upper(text: str) -> str:
    """your vCIO as Your vCIO (str.capitalize would write Your vcio)."""
    return text[:1].upper() + text[1:]


def _s(count: int) -> str:
    return "" if count == 1 else "s"
