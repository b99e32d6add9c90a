"""The PDF report's charts as vector drawings (reportlab.graphics): the scorecard's bars
against the baseline, and the budget by fiscal quarter. Colors come from fixed palettes and
the brand, never from the data; the only text from the data is numbers and quarter labels."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.colors import Color, HexColor

from reports.deliverables.brand import Brand
from reports.deliverables.content import Score
from reports.deliverables.pdf_fonts import BOLD, FONT
from reports.deliverables.plan_content import Spend
from states.staging.assessment import GREEN_FROM, YELLOW_FROM

STATUS_COLORS = {"green": "#2DA44E", "yellow": "#D4A72C", "red": "#CF222E", "grey": "#8C959F"}
INK, MUTED, TRACK, GRID = (HexColor(c) for c in ("#1F2328", "#57606A", "#EEF1F4", "#D8DEE4"))
_LABEL_W, _ROW, _BAR = 130, 26, 12


def scorecard_drawing(scores: list[Score], width: float) -> Drawing:
    """Per category its label, its score as a bar in its status color on a 0-100 track, and a
    dark mark at its baseline score; dashed lines where yellow and green begin."""
    plot = width - _LABEL_W - 40
    height = 30 + len(scores) * _ROW
    drawing = Drawing(width, height)

    def x(score: int) -> float:
        return _LABEL_W + plot * max(0, min(score, 100)) / 100

    for mark in (YELLOW_FROM, GREEN_FROM):
        drawing.add(Line(x(mark), 14, x(mark), height, strokeColor=GRID, strokeDashArray=[2, 2]))
    for mark in (0, YELLOW_FROM, GREEN_FROM, 100):
        drawing.add(_text(x(mark), 2, str(mark), 7, MUTED, "middle"))
    for n, score in enumerate(scores):
        y = height - (n + 1) * _ROW + (_ROW - _BAR) / 2
        drawing.add(_text(_LABEL_W - 8, y + 2.5, score.label, 8.5, INK, "end"))
        drawing.add(Rect(_LABEL_W, y, plot, _BAR, fillColor=TRACK, strokeColor=None))
        if score.score is not None:
            fill = HexColor(STATUS_COLORS[score.color])
            drawing.add(Rect(_LABEL_W, y, x(score.score) - _LABEL_W, _BAR, fillColor=fill,
                             strokeColor=None))  # fmt: skip
            drawing.add(_text(x(score.score) + 4, y + 2.5, str(score.score), 8, INK, bold=True))
        else:
            drawing.add(_text(_LABEL_W + 4, y + 2.5, "not assessed", 7.5, MUTED))
        if score.baseline is not None:
            at = x(score.baseline)
            drawing.add(Line(at, y - 3, at, y + _BAR + 3, strokeColor=INK, strokeWidth=2))
    return drawing


def scorecard_legend(width: float, baseline: bool) -> Drawing:
    """What the scorecard's marks mean, on one line."""
    drawing = Drawing(width, 14)
    at = _LABEL_W
    for color, word in (("green", "Green"), ("yellow", "Yellow"), ("red", "Red")):
        drawing.add(Rect(at, 3, 8, 8, fillColor=HexColor(STATUS_COLORS[color]), strokeColor=None))
        drawing.add(_text(at + 11, 4, word, 7.5, MUTED))
        at += 52
    if baseline:
        drawing.add(Line(at + 4, 1, at + 4, 13, strokeColor=INK, strokeWidth=2))
        drawing.add(_text(at + 10, 4, "Baseline score", 7.5, MUTED))
    return drawing


def budget_drawing(quarters: list[Spend], brand: Brand, width: float) -> Drawing | None:
    """A stacked bar per fiscal quarter: approved in the brand color, proposed lighter above
    it; None when nothing is budgeted."""
    if not any(q.approved or q.proposed for q in quarters):
        return None
    height = 190
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 62, 34, width - 72, height - 62
    chart.data = [[float(q.approved) for q in quarters], [float(q.proposed) for q in quarters]]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [_short(q.quarter) for q in quarters]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 7
    chart.categoryAxis.labels.angle = 30 if len(quarters) > 8 else 0
    chart.categoryAxis.labels.dy = -8 if len(quarters) > 8 else -2
    chart.categoryAxis.strokeColor = MUTED
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName, chart.valueAxis.labels.fontSize = FONT, 7
    chart.valueAxis.labelTextFormat = _thousands
    chart.valueAxis.strokeColor = None
    chart.valueAxis.gridStrokeColor, chart.valueAxis.visibleGrid = GRID, True
    chart.barSpacing, chart.groupSpacing = 0, 6
    chart.bars[0].fillColor = HexColor(brand.color)
    chart.bars[1].fillColor = _lighter(HexColor(brand.color))
    chart.bars.strokeColor = None
    drawing.add(chart)
    for n, (fill, word) in enumerate(
        ((chart.bars[0].fillColor, "Approved"), (chart.bars[1].fillColor, "Proposed"))
    ):
        drawing.add(Rect(62 + n * 80, height - 12, 8, 8, fillColor=fill, strokeColor=None))
        drawing.add(_text(73 + n * 80, height - 11, word, 7.5, MUTED))
    return drawing


def _short(quarter: str) -> str:
    """FY2027-Q1 as 2027-Q1: twelve of them fit under the bars."""
    return quarter[2:] if quarter.startswith("FY") else quarter


def _thousands(value: float) -> str:
    return f"{Decimal(value):,.0f}"


def _lighter(color: Color, share: float = 0.55) -> Color:
    """The color mixed with white: `share` of white."""
    red, green, blue = color.rgb()
    return Color(*(c + (1 - c) * share for c in (red, green, blue)))


def _text(
    x: float, y: float, text: str, size: float, color: Any, anchor: str = "start",
    bold: bool = False,
) -> String:  # fmt: skip
    return String(x, y, text, fontName=BOLD if bold else FONT, fontSize=size, fillColor=color,
                  textAnchor=anchor)  # fmt: skip
