"""The report's charts as geometry for inline SVG: the scorecard's bars, the scores over the
client's reviews, and the ticket volume. Every number here is in the SVG's own units; the page
scales each chart to its column. Colors come from fixed palettes, never from the data."""

from __future__ import annotations

from typing import Any

from states.staging.assessment import GREEN_FROM, YELLOW_FROM

# Chart geometry, in the SVG's own units; the page scales each chart to its column.
_CHART_WIDTH, _BAR_SPACE, _VOLUME_WIDTH = 600, 500, 480


def scorecard_chart(rows: list[dict[str, Any]], with_baseline: bool) -> dict[str, Any]:
    """Per category a label, the baseline bar (grey) above the current bar (its color)."""
    step = 66 if with_baseline else 50
    bars = []
    for i, row in enumerate(rows):
        top = 8 + i * step
        current_y = top + (38 if with_baseline else 24)
        bars.append(
            {
                **row,
                "top": top,
                "baseline_y": top + 26,
                "baseline_w": _width(row["baseline"]),
                "current_y": current_y,
                "current_w": _width(row["score"]),
            }
        )
    marks = [{"score": s, "x": _width(s)} for s in (YELLOW_FROM, GREEN_FROM)]
    return {"width": _CHART_WIDTH, "height": 8 + len(rows) * step, "bars": bars, "marks": marks}


def _width(score: int | None) -> int:
    return 0 if score is None else round(max(0, min(score, 100)) * _BAR_SPACE / 100)


def volume_chart(volume: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Opened and closed tickets per month as grouped bars on a 0-based axis; None if empty."""
    if not volume:
        return None
    left, right, top, plot_h = 40, 8, 20, 190
    slot = (_VOLUME_WIDTH - left - right) / len(volume)
    bar = min(26.0, slot * 0.34)
    scale_top = _nice_top(max(max(m["opened"], m["closed"]) for m in volume))

    def y(count: int) -> float:
        return _n(top + plot_h - count * plot_h / scale_top)

    months = []
    for i, month in enumerate(volume):
        middle = left + slot * (i + 0.5)
        months.append(
            {
                **month,
                "middle": _n(middle),
                "opened_x": _n(middle - bar - 1),
                "closed_x": _n(middle + 1),
                "opened_y": y(month["opened"]),
                "closed_y": y(month["closed"]),
            }
        )
    ticks = [{"value": v, "y": y(v)} for v in range(0, scale_top + 1, scale_top // 4)]
    return {
        "width": _VOLUME_WIDTH,
        "height": top + plot_h + 42,  # room below the axis for the month and the year
        "left": left,
        "right": _VOLUME_WIDTH - right,
        "base": top + plot_h,
        "bar": _n(bar),
        "months": months,
        "ticks": ticks,
    }


def _nice_top(largest: int) -> int:
    """The axis maximum: the smallest of 4, 8, 20, 40, 80, 200 ... at or above `largest`."""
    top = 4
    while top < largest:
        top = top * 5 // 2 if str(top).startswith("8") else top * 2
    return top


def _n(x: float) -> float:
    return round(x, 1)


# the trend spans the page: wide enough that its type stays the size of the text around it
_TREND_WIDTH, _TREND_LEFT, _TREND_RIGHT, _TREND_TOP, _TREND_PLOT = 900, 34, 888, 12, 250


def trend_chart(history: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A line per category over the client's assessed reviews (oldest first) on a 0-100 axis
    banded red, yellow and green; None before the first assessment."""
    if not history:
        return None
    columns = [
        {"x": _trend_x(i, len(history)), "label": label, "name": review["name"]}
        for i, (review, label) in enumerate(zip(history, _column_labels(history), strict=True))
    ]
    lines = []
    for index, row in enumerate(rows):
        # side by side where lines meet (at 100, say), so that every dot shows
        dodge = (index - (len(rows) - 1) / 2) * 3.5
        dots = [
            {**column, "x": _n(column["x"] + dodge), "y": _trend_y(score), "score": score}
            for column, review in zip(columns, history, strict=True)
            if (score := review["scores"].get(row["category"])) is not None
        ]
        lines.append(
            {
                "category": row["category"],
                "label": row["label"],
                "index": index,  # its color, from the page's palette
                "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
                "dots": dots,
                "first": dots[0]["score"] if dots else None,
                "last": dots[-1]["score"] if dots else None,
            }
        )
    bands = [
        {"color": name, "y": _trend_y(high), "height": _n(_trend_y(low) - _trend_y(high))}
        for name, low, high in (
            ("red", 0, YELLOW_FROM), ("yellow", YELLOW_FROM, GREEN_FROM), ("green", GREEN_FROM, 100)
        )
    ]  # fmt: skip
    return {
        "width": _TREND_WIDTH,
        "height": _TREND_TOP + _TREND_PLOT + 30,  # room below the axis for the periods
        "left": _TREND_LEFT,
        "right": _TREND_RIGHT,
        "base": _TREND_TOP + _TREND_PLOT,
        "ticks": [{"value": v, "y": _trend_y(v)} for v in range(0, 101, 20)],
        "bands": bands,
        "columns": columns,
        "lines": lines,
    }


def _trend_x(i: int, count: int) -> float:
    inner = 56  # the first and last review stand clear of the axis, with their labels
    if count == 1:
        return _n((_TREND_LEFT + _TREND_RIGHT) / 2)
    return _n(_TREND_LEFT + inner + i * (_TREND_RIGHT - _TREND_LEFT - 2 * inner) / (count - 1))


def _trend_y(score: int) -> float:
    return _n(_TREND_TOP + _TREND_PLOT - max(0, min(score, 100)) * _TREND_PLOT / 100)


def _column_labels(history: list[dict[str, Any]]) -> list[str]:
    """Each review's period (2026-Q3); its number where periods repeat or are missing."""
    periods = [str(r.get("period") or "").upper() for r in history]
    if all(periods) and len(set(periods)) == len(periods):
        return periods
    return [f"#{r['review_id']} {p}".strip() for r, p in zip(history, periods, strict=True)]
