"""The review meeting's PowerPoint deck (python-pptx), 16:9, in the MSP's brand: the title,
the agenda, the scorecard against the baseline and the budget as native charts the presenter
can edit (their numbers are in the deck's own workbook), what changed and why, the findings,
the roadmap by quarter, the decisions asked of the client and the next meeting.

A slide holds what a room reads: the first few rows of a long list, then how many more the
full report holds. Every value from people is one bounded line (content.py), set as text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from reports.deliverables.brand import Brand
from reports.deliverables.content import Content, content_of
from reports.deliverables.deck_parts import Slides, lines_of, table_on
from reports.deliverables.pdf_charts import STATUS_COLORS
from reports.deliverables.text import one_line

AGENDA = (
    "Scorecard against the baseline", "What changed and why", "Findings", "Roadmap by quarter",
    "Budget", "Decisions we ask of you", "Our next meeting",
)  # fmt: skip
ROWS_ON_A_SLIDE = 8  # of a table
LINES_ON_A_SLIDE = 12  # of bulleted text
SHORT = 90  # characters of a title on a slide; the PDF and the report have it whole
BASELINE_GREY = RGBColor(0xAF, 0xB8, 0xC1)


def review_deck(data: dict[str, Any], brand: Brand) -> bytes:
    """The deck of the review (`report_data`) in `brand`, as a .pptx file's bytes."""
    content = content_of(data)
    slides = Slides(Presentation(), brand, content)
    _title(slides, content, brand)
    slides.bullets("Agenda", [(0, line) for line in AGENDA])
    _scorecard(slides, content)
    _changes(slides, content)
    _findings(slides, content)
    _roadmap(slides, content)
    _budget(slides, content, brand)
    _decisions(slides, content)
    _next_meeting(slides, content, brand)
    out = io.BytesIO()
    slides.deck.core_properties.title = one_line(f"{content.client} · {content.heading}", 200)
    slides.deck.core_properties.author = brand.name
    slides.deck.save(out)
    return out.getvalue()


def _title(slides: Slides, c: Content, brand: Brand) -> None:
    """A band in the brand color with the MSP's name (and its logo on a white card), the
    client as the title, the review and the meeting under it."""
    slide = slides.new(c.client, layout=0)
    band = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, slides.width, Inches(1.4))
    band.fill.solid()
    band.fill.fore_color.rgb = RGBColor(*brand.rgb)
    band.line.fill.background()
    name = slides.text(slide, brand.name, Inches(0.7), Inches(0.4), Inches(8), Inches(0.7), 24)
    name.text_frame.paragraphs[0].runs[0].font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    name.text_frame.paragraphs[0].runs[0].font.bold = True
    if brand.logo is not None:
        width, height = brand.logo.fit(Inches(2.2), Inches(0.9))
        left = slides.width - Inches(0.7) - int(width)
        card = slide.shapes.add_shape(
            MSO_SHAPE.ROUNDED_RECTANGLE, left - Inches(0.1), Inches(0.15),
            int(width) + Inches(0.2), int(height) + Inches(0.2),
        )  # fmt: skip
        card.fill.solid()
        card.fill.fore_color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        card.line.fill.background()
        slide.shapes.add_picture(io.BytesIO(brand.logo.data), left, Inches(0.25),
                                 Emu(int(width)), Emu(int(height)))  # fmt: skip
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = (
        Inches(0.7), Inches(2.3), slides.width - Inches(1.4), Inches(1.4)
    )  # fmt: skip
    title.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
    subtitle = slide.placeholders[1]
    subtitle.left, subtitle.top, subtitle.width, subtitle.height = (
        Inches(0.7), Inches(3.8), slides.width - Inches(1.4), Inches(2.2)
    )  # fmt: skip
    said = [c.heading, f"Meeting: {c.meeting}", f"Presented by {c.presenter}, {brand.name}"]
    lines_of(subtitle.text_frame, [(0, line) for line in said], size=20, align=PP_ALIGN.LEFT)


def _scorecard(slides: Slides, c: Content) -> None:
    """Columns per category: the score now in its status color, the baseline's in grey."""
    slide = slides.new("Scorecard against the baseline")
    data = CategoryChartData(number_format="0")
    data.categories = [s.label for s in c.scores]
    data.add_series("Now", [s.score for s in c.scores])
    if c.baseline:
        data.add_series("Baseline", [s.baseline for s in c.scores])
    frame = slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(0.6), Inches(1.35), slides.width - Inches(1.2),
        Inches(4.75), data,
    )  # fmt: skip
    chart = frame.chart
    chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = 0, 100
    chart.value_axis.major_unit = 20
    chart.value_axis.tick_labels.font.size = Pt(12)
    chart.category_axis.tick_labels.font.size = Pt(12)
    chart.has_legend = c.baseline
    if c.baseline:
        chart.legend.position, chart.legend.include_in_layout = XL_LEGEND_POSITION.TOP, False
        chart.legend.font.size = Pt(12)
    plot = chart.plots[0]
    plot.gap_width, plot.overlap = 60, -10
    plot.has_data_labels = True
    plot.data_labels.font.size, plot.data_labels.number_format_is_linked = Pt(11), False
    plot.data_labels.number_format = "0"
    now = plot.series[0]
    for point, score in zip(now.points, c.scores, strict=True):
        point.format.fill.solid()
        point.format.fill.fore_color.rgb = RGBColor.from_string(STATUS_COLORS[score.color][1:])
    if c.baseline:
        plot.series[1].format.fill.solid()
        plot.series[1].format.fill.fore_color.rgb = BASELINE_GREY
    glance = " · ".join(f"{g.label}: {g.value} ({g.note})" for g in c.glance[:3])
    slides.text(slide, glance, Inches(0.6), Inches(6.2), slides.width - Inches(1.2),
                Inches(0.5), 14)  # fmt: skip


def _changes(slides: Slides, c: Content) -> None:
    """Against the baseline; then what got worse since the previous review, with why, and
    what went green."""
    lines = [(0, line) for line in c.changes] or [(0, "This review is the baseline.")]
    for row in c.worse:
        was = "—" if row.before is None else row.before
        now = "not assessed" if row.now is None else row.now
        lines.append((0, f"Lower since the previous review: {row.label} {was} → {now}"))
        lines += [(1, one_line(reason, SHORT)) for reason in row.reasons[:2]]
    if c.went_green:
        green = ", ".join(row.label for row in c.went_green)
        lines.append((0, f"Green since the previous review: {green}"))
    slide = slides.bullets("What changed and why", lines[:LINES_ON_A_SLIDE])
    slides.more(slide, len(lines) - LINES_ON_A_SLIDE, "changes")


def _findings(slides: Slides, c: Content) -> None:
    slide = slides.new("Findings")
    rows = c.findings.rows[:ROWS_ON_A_SLIDE]
    if not rows:
        slides.body(slide, [(0, "No findings in this review: nothing needed attention.")])
        return
    cells = [
        [f.severity.capitalize(), one_line(f.title, SHORT), f.category,
         "Recurring" if f.recurring else "New", f.handling]
        for f in rows
    ]  # fmt: skip
    head = ["Severity", "Finding", "Category", "History", "Handling"]
    table_on(slides, slide, head, cells, [1.1, 5.9, 2.3, 1.3, 1.5])
    slides.more(slide, len(c.findings.rows) + c.findings.more - len(rows), "findings")


def _roadmap(slides: Slides, c: Content) -> None:
    lines: list[tuple[int, str]] = []
    for quarter in c.roadmap:
        lines.append((0, quarter.label))
        lines += [
            (1, f"{one_line(i.title, SHORT)} — {i.status}, {i.cost}") for i in quarter.initiatives
        ]
    shown = lines[:LINES_ON_A_SLIDE]
    slide = slides.bullets("Roadmap by quarter", shown or [(0, "No open initiatives.")])
    hidden = sum(depth == 1 for depth, _ in lines[len(shown) :]) + c.roadmap_more
    slides.more(slide, hidden, "initiatives")


def _budget(slides: Slides, c: Content, brand: Brand) -> None:
    """Stacked columns per fiscal quarter: approved in the brand color, proposed lighter."""
    slide = slides.new("Budget")
    if not any(q.approved or q.proposed for q in c.budget):
        slides.body(slide, [(0, "Nothing is budgeted for the next three fiscal years.")])
        return
    data = CategoryChartData(number_format="#,##0")
    data.categories = [q.quarter for q in c.budget]
    data.add_series("Approved", [float(q.approved) for q in c.budget])
    data.add_series("Proposed", [float(q.proposed) for q in c.budget])
    frame = slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_STACKED, Inches(0.6), Inches(1.35), slides.width - Inches(1.2),
        Inches(4.9), data,
    )  # fmt: skip
    chart = frame.chart
    chart.has_legend = True
    chart.legend.position, chart.legend.include_in_layout = XL_LEGEND_POSITION.TOP, False
    chart.value_axis.tick_labels.font.size = Pt(12)
    chart.value_axis.tick_labels.number_format = "#,##0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    chart.category_axis.tick_labels.font.size = Pt(11)
    chart.plots[0].gap_width = 60
    for series, rgb in zip(chart.plots[0].series, _pair(brand), strict=True):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = rgb
    approved = sum(float(q.approved) for q in c.budget)
    proposed = sum(float(q.proposed) for q in c.budget)
    said = f"In {c.currency}: {approved:,.2f} approved, {proposed:,.2f} proposed"
    slides.text(slide, said, Inches(0.6), Inches(6.35), slides.width - Inches(1.2),
                Inches(0.5), 14)  # fmt: skip


def _decisions(slides: Slides, c: Content) -> None:
    rows = c.decisions.rows[:ROWS_ON_A_SLIDE]
    lines: Iterable[tuple[int, str]] = [(0, f"{d.title} — {d.what}") for d in rows] or [
        (0, "Nothing awaits your decision.")
    ]
    slide = slides.bullets("Decisions we ask of you", list(lines))
    slides.more(slide, len(c.decisions.rows) + c.decisions.more - len(rows), "decisions")


def _next_meeting(slides: Slides, c: Content, brand: Brand) -> None:
    thanks = f"Thank you for your time and your trust. {c.presenter}, {brand.name}"
    slides.bullets("Our next meeting", [(0, c.next_meeting), (0, thanks)])


def _pair(brand: Brand) -> tuple[RGBColor, RGBColor]:
    """The brand color and a lighter one (mixed with white)."""
    red, green, blue = brand.rgb
    light = (round(v + (255 - v) * 0.55) for v in (red, green, blue))
    return RGBColor(red, green, blue), RGBColor(*light)
