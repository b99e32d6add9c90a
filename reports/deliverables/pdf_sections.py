"""The PDF report's sections as reportlab flowables, each headed and kept with its start: the
title block, the scorecard against the baseline, what changed and why, findings, tickets in
progress, the roadmap by quarter, the budget, the decisions asked of the client and the next
meeting. Every value from people goes through `pdf_fonts.markup` (escaped, bounded upstream)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from reports.deliverables.brand import Brand
from reports.deliverables.content import WORDS, Content
from reports.deliverables.pdf_charts import (
    GRID,
    INK,
    MUTED,
    STATUS_COLORS,
    budget_drawing,
    scorecard_drawing,
    scorecard_legend,
)
from reports.deliverables.pdf_fonts import BOLD, FONT, markup
from reports.deliverables.text import Shown

SOFT = {"green": "#DAFBE1", "yellow": "#FFF8C5", "red": "#FFEBE9", "amber": "#FFF1E5",
        "grey": "#EEF1F4"}  # fmt: skip
ROOM_FOR_A_START = 1.7 * inch  # a heading, its lead and a few rows; else a new page first


class Styles:
    """The report's paragraph styles, in the brand's color."""

    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        color = HexColor(brand.color)
        base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK)
        styles = {
            "body": base,
            "small": ParagraphStyle("small", base, fontSize=8, leading=10.5, textColor=MUTED),
            "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=11),
            "number": ParagraphStyle("number", base, fontSize=8.5, leading=11, alignment=TA_RIGHT),
            "head": ParagraphStyle("head", base, fontName=BOLD, fontSize=7.5, leading=10,
                                   textColor=MUTED),
            "head_number": ParagraphStyle("head_number", base, fontName=BOLD, fontSize=7.5,
                                          leading=10, textColor=MUTED, alignment=TA_RIGHT),
            "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=15, leading=19,
                                 textColor=color, spaceBefore=14, spaceAfter=2),
            "h3": ParagraphStyle("h3", base, fontName=BOLD, fontSize=10.5, leading=14,
                                 spaceBefore=6, spaceAfter=3),
            "lead": ParagraphStyle("lead", base, fontSize=9, leading=12, textColor=MUTED,
                                   spaceAfter=8),
            "eyebrow": ParagraphStyle("eyebrow", base, fontName=BOLD, fontSize=8.5, leading=11,
                                      textColor=MUTED),
            "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=26, leading=31,
                                    textColor=color, spaceBefore=4, spaceAfter=10),
            "kpi": ParagraphStyle("kpi", base, fontName=BOLD, fontSize=17, leading=21),
            "bullet": ParagraphStyle("bullet", base, leftIndent=12, bulletIndent=2,
                                     spaceAfter=2),
            "reason": ParagraphStyle("reason", base, fontSize=8.5, leading=11, leftIndent=24,
                                     bulletIndent=14, textColor=MUTED),
        }  # fmt: skip
        self.by_name = styles

    def __call__(self, text: str, style: str = "body", bold: bool = False) -> Paragraph:
        """A paragraph of text from anywhere (escaped here), in one of the styles."""
        shown = markup(text)
        return Paragraph(f"<b>{shown}</b>" if bold else shown, self.by_name[style])

    def bullet(self, text: str, style: str = "bullet") -> Paragraph:
        return Paragraph(markup(text), self.by_name[style], bulletText="•")


def section(s: Styles, title: str, lead: str, first: list[Flowable], *rest: Flowable) -> list[Any]:
    """A section: a new page first when little room is left, its heading and lead kept on the
    page of its first content."""
    head = [s(title, "h2"), s(lead, "lead")] if lead else [s(title, "h2")]
    return [CondPageBreak(ROOM_FOR_A_START), KeepTogether([*head, *first]), *rest]


def title_block(s: Styles, c: Content, width: float) -> list[Any]:
    """The client, the review, the meeting and who presents it; the scorecard at a glance."""
    meta = [("Review", c.review), ("Meeting", c.meeting), ("Compared with", c.compared),
            ("Presented by", c.presenter), ("Prepared by", s.brand.name),
            ("Generated", c.generated)]  # fmt: skip
    cells = [[s(label, "head"), s(value, "cell", bold=True)] for label, value in meta]
    grid = [[*cells[i], *cells[i + 1], *cells[i + 2]] for i in (0, 3)]
    grid = [[_stack(row[k], row[k + 1]) for k in (0, 2, 4)] for row in grid]
    facts = Table(grid, colWidths=[width / 3] * 3)
    facts.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 8)])  # fmt: skip
    kpis = Table(
        [[_stack(s(g.label, "head"), s(g.value, "kpi"), s(g.note, "small")) for g in c.glance]],
        colWidths=[width / 4] * 4,
    )
    kpis.setStyle([
        ("LINEABOVE", (0, 0), (-1, 0), 3, HexColor(s.brand.accent)),
        ("LINEABOVE", (0, 0), (0, 0), 3, HexColor(STATUS_COLORS["green"])),
        ("LINEABOVE", (1, 0), (1, 0), 3, HexColor(STATUS_COLORS["red"])),
        ("BACKGROUND", (0, 0), (-1, -1), HexColor("#F6F8FA")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 8),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
        ("LINEAFTER", (0, 0), (-2, 0), 6, white),
    ])  # fmt: skip
    return [s(c.heading.upper(), "eyebrow"), s(c.client, "title"), facts, Spacer(1, 6), kpis]


def scorecard(s: Styles, c: Content, width: float) -> list[Any]:
    lead = (
        f"Each category's score now, against {c.since}. The goal: get the red out and turn "
        "every category green."
        if c.baseline
        else "This first assessment is the baseline: every later review shows progress "
        "against these scores."
    )
    chart = [scorecard_drawing(c.scores, width), scorecard_legend(width, c.baseline)]
    head = ["Category", "Score", "Status", "Baseline", "Change", "Risk"]
    rows = [
        [s(x.label, "cell", bold=True), _number(s, x.score), s(WORDS[x.color], "cell"),
         _number(s, x.baseline), s(x.change, "cell"), s(x.risk, "cell")]
        for x in c.scores
    ]  # fmt: skip
    table = _table(s, head, rows, width, [0.27, 0.09, 0.14, 0.1, 0.27, 0.13])
    table.setStyle([("BACKGROUND", (2, n), (2, n), HexColor(SOFT[x.color]))
                    for n, x in enumerate(c.scores, start=1)])  # fmt: skip
    # a few rows: on one page, beside or after the chart
    return section(s, "Scorecard against the baseline", lead, chart, Spacer(1, 8),
                   KeepTogether([table]))  # fmt: skip


def changes(s: Styles, c: Content) -> list[Any]:
    lines: list[Flowable] = [s.bullet(line) for line in c.changes]
    if not c.baseline:
        lines.append(s("This review is the baseline: the next one shows what changed.", "body"))
    for title, moved in (("Lower since the previous review", c.worse),
                         ("Green since the previous review", c.went_green)):  # fmt: skip
        if not moved:
            continue
        lines.append(s(title, "h3"))
        for row in moved:
            was = "—" if row.before is None else row.before
            now = "not assessed" if row.now is None else row.now
            lines.append(s.bullet(f"{row.label}: {was} → {now}"))
            lines += [s.bullet(reason, "reason") for reason in row.reasons]
            if row.more:
                lines.append(s.bullet(f"and {row.more} more", "reason"))
    lead = "The scores that moved since the baseline and the previous review, and why."
    return section(s, "What changed and why", lead, lines[:2], *lines[2:])


def findings(s: Styles, c: Content, width: float) -> list[Any]:
    lead = (
        "What the checks found in this review's reports and what the answers left unmet, red first."
    )
    if not c.findings.rows:
        return section(
            s, "Findings", lead, [s("No findings in this review: nothing needed attention.")]
        )
    head = ["Severity", "Finding", "Category", "History", "Handling", "Ticket"]
    rows = [
        [s(f.severity.capitalize(), "cell", bold=True),
         _stack(s(f.title, "cell", bold=True), *([s(f.detail, "small")] if f.detail else [])),
         s(f.category, "cell"), s("Recurring" if f.recurring else "New", "cell"),
         s(f.handling, "cell"), s(f.ticket, "cell")]
        for f in c.findings.rows
    ]  # fmt: skip
    table = _table(s, head, rows, width, [0.1, 0.35, 0.14, 0.1, 0.17, 0.14])
    table.setStyle([("BACKGROUND", (0, n), (0, n), HexColor(SOFT[f.severity]))
                    for n, f in enumerate(c.findings.rows, start=1)])  # fmt: skip
    return section(s, "Findings", lead, [table], *_more(s, c.findings, "findings"))


def tickets(s: Styles, c: Content, width: float) -> list[Any]:
    lead = "The work we are doing on the findings."
    if not c.tickets.rows:
        return section(s, "Tickets in progress", lead, [s("No follow-up tickets are open.")])
    rows = [[s(f"#{t.number}", "cell"), s(t.title, "cell", bold=True), s(t.who, "cell"),
             s(t.due, "cell")] for t in c.tickets.rows]  # fmt: skip
    table = _table(s, ["#", "Ticket", "Who", "Due"], rows, width, [0.08, 0.52, 0.22, 0.18])
    return section(s, "Tickets in progress", lead, [table], *_more(s, c.tickets, "tickets"))


def roadmap(s: Styles, c: Content, width: float) -> list[Any]:
    lead = "The open initiatives by the fiscal quarter they are planned for."
    if not c.roadmap:
        return section(
            s, "Roadmap by quarter", lead, [s("No open initiatives: the roadmap is empty.")]
        )
    rows: list[list[Any]] = []
    groups = []
    for quarter in c.roadmap:
        groups.append(len(rows) + 1)
        rows.append([s(quarter.label, "cell", bold=True), "", "", ""])
        rows += [[s(i.title, "cell"), s(i.status, "cell"), s(i.priority, "cell"),
                  s(i.cost, "number")] for i in quarter.initiatives]  # fmt: skip
    head = ["Initiative", "Status", "Priority", "Cost"]
    table = _table(s, head, rows, width, [0.46, 0.14, 0.12, 0.28])
    tint = _tint(s.brand.color)
    table.setStyle([("SPAN", (0, n), (-1, n)) for n in groups])
    table.setStyle([("BACKGROUND", (0, n), (-1, n), tint) for n in groups])
    more = (
        [s(f"and {c.roadmap_more} more initiatives in the full report", "small")]
        if c.roadmap_more
        else []
    )
    return section(s, "Roadmap by quarter", lead, [table], *more)


def budget(s: Styles, c: Content, width: float) -> list[Any]:
    lead = f"What the plan costs by fiscal quarter, approved and proposed, in {c.currency}."
    chart = budget_drawing(c.budget, s.brand, width)
    if chart is None:
        return section(
            s, "Budget", lead, [s("Nothing is budgeted for the next three fiscal years.")]
        )
    spent = [q for q in c.budget if q.approved or q.proposed]
    rows = [[s(q.quarter, "cell"), s(c.amount(q.approved), "number"),
             s(c.amount(q.proposed), "number"), s(c.amount(q.approved + q.proposed), "number")]
            for q in spent]  # fmt: skip
    approved = sum((q.approved for q in spent), Decimal(0))
    proposed = sum((q.proposed for q in spent), Decimal(0))
    rows.append(
        [s("Total", "cell", bold=True)]
        + [s(c.amount(v), "number") for v in (approved, proposed, approved + proposed)]
    )
    table = _table(s, ["Quarter", "Approved", "Proposed", "Total"], rows, width,
                   [0.25, 0.25, 0.25, 0.25])  # fmt: skip
    table.setStyle([("LINEABOVE", (0, -1), (-1, -1), 1, MUTED)])
    return section(s, "Budget", lead, [chart], Spacer(1, 8), table)


def decisions(s: Styles, c: Content, width: float) -> list[Any]:
    lead = (
        "What we ask you to decide: initiatives to approve, decline or defer, and our "
        "recommendations."
    )
    if not c.decisions.rows:
        return section(s, "Decisions we ask of you", lead, [s("Nothing awaits your decision.")])
    rows = [
        [s(str(n), "cell"),
         _stack(s(d.title, "cell", bold=True), *([s(d.detail, "small")] if d.detail else [])),
         s(d.what, "cell")]
        for n, d in enumerate(c.decisions.rows, start=1)
    ]  # fmt: skip
    table = _table(s, ["#", "Decision", "What it is"], rows, width, [0.06, 0.56, 0.38])
    more = _more(s, c.decisions, "decisions")
    return section(s, "Decisions we ask of you", lead, [table], *more)


def next_meeting(s: Styles, c: Content) -> list[Any]:
    closing = f"Thank you for your time and your trust. {c.presenter}, {s.brand.name}"
    return section(
        s, "Our next meeting", "", [s(c.next_meeting), Spacer(1, 6), s(closing, "small")]
    )


def _table(s: Styles, head: list[str], rows: list[list[Any]], width: float,
           shares: list[float]) -> Table:  # fmt: skip
    """A table with a repeated header row, thin rules between rows, cells on top; a column
    of numbers (its rows' cells in the number style) is headed at its right."""
    numbers = [all(_is_number(row[n]) or row[n] == "" for row in rows) for n in range(len(head))]
    heads = [
        s(h.upper(), "head_number" if number else "head")
        for h, number in zip(head, numbers, strict=True)
    ]
    table = Table([heads, *rows],
                  colWidths=[width * share for share in shares], repeatRows=1)  # fmt: skip
    table.setStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 1.2, GRID),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ])  # fmt: skip
    return table


def _is_number(cell: Any) -> bool:
    return isinstance(cell, Paragraph) and cell.style.name == "number"


def _stack(*parts: Flowable) -> list[Flowable]:
    """Flowables one under the other in a table cell."""
    return list(parts)


def _number(s: Styles, value: int | None) -> Paragraph:
    return s("—" if value is None else str(value), "number")


def _more(s: Styles, shown: Shown, what: str) -> list[Flowable]:
    if not shown.more:
        return []
    return [Spacer(1, 4), s(f"and {shown.more:,} more {what} in the full report", "small")]


def _tint(color: str) -> Color:
    """The brand color, faint: a quarter's row on the roadmap."""
    red, green, blue = HexColor(color).rgb()
    return Color(*(c + (1 - c) * 0.88 for c in (red, green, blue)))
