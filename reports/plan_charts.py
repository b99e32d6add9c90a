"""The report's plan charts as geometry for inline SVG: the roadmap's timeline (a row per
initiative, a bar in its fiscal quarter) and the budget (stacked bars per quarter). Numbers are
in the SVG's own units; money becomes geometry here only, never text (the page shows amounts
from the data's exact strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from states.errors import InvalidInput
from states.plans.fiscal import FiscalQuarter

_WIDTH, _LABEL, _RIGHT, _ROW, _HEAD = 900, 280, 892, 30, 26
_COLUMNS_MAX = 16
_TITLE_SHOWN = 36
# the budget's segments, bottom up: what was approved under what is only proposed
SEGMENTS = tuple(
    (column, side)
    for side in ("approved", "proposed")
    for column in ("one_time", "recurring", "hardware")
)


def _quarter(label: str | None) -> FiscalQuarter | None:
    try:
        return FiscalQuarter.parse(label) if label else None
    except InvalidInput:
        return None


def roadmap_chart(roadmap: list[dict[str, Any]], first: str | None) -> dict[str, Any] | None:
    """A row per initiative with a bar in its target quarter, over the quarters from `first`
    (this one) or the earliest initiative's to the latest's; None without initiatives."""
    if not roadmap:
        return None
    targets = [q for q in (_quarter(i["quarter"]) for i in roadmap) if q is not None]
    now = _quarter(first)
    start = min([*targets, *([now] if now else [])], default=None)
    if start is None:
        return _timeline(roadmap, [], {})
    end = max([*targets, start.next(3)])
    count = min(_COLUMNS_MAX, (end.year - start.year) * 4 + end.quarter - start.quarter + 1)
    quarters = [start.next(i) for i in range(count)]
    return _timeline(roadmap, quarters, {q: i for i, q in enumerate(quarters)})


def _timeline(
    roadmap: list[dict[str, Any]], quarters: list[FiscalQuarter], index: dict[FiscalQuarter, int]
) -> dict[str, Any]:
    step = (_RIGHT - _LABEL) / max(1, len(quarters))
    columns = [
        {"label": q.label, "x": _n(_LABEL + i * step), "middle": _n(_LABEL + (i + 0.5) * step)}
        for i, q in enumerate(quarters)
    ]
    rows = []
    for n, initiative in enumerate(roadmap):
        quarter = _quarter(initiative["quarter"])
        # beyond the last column (or before the first): its bar at that edge, said in its title
        at = None if quarter is None or not quarters else index.get(quarter)
        if quarter is not None and quarters and at is None:
            at = 0 if quarter < quarters[0] else len(quarters) - 1
        title = " ".join(initiative["title"].split())
        rows.append(
            {
                **initiative,
                "y": _HEAD + n * _ROW,
                "shown": title if len(title) <= _TITLE_SHOWN else title[: _TITLE_SHOWN - 1] + "…",
                "full": title,
                "bar_x": None if at is None else _n(_LABEL + at * step + 3),
                "bar_w": _n(step - 6),
            }
        )
    return {
        "width": _WIDTH,
        "height": _HEAD + len(roadmap) * _ROW + 6,
        "left": _LABEL,
        "right": _RIGHT,
        "step": _n(step),
        "columns": columns,
        "rows": rows,
    }


def budget_chart(budget: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per fiscal quarter a stacked bar: one-time, recurring and hardware, approved below
    proposed; None when nothing is budgeted."""
    quarters = (budget or {}).get("quarters", [])
    sums = [
        [(column, side, Decimal(q[column][side])) for column, side in SEGMENTS] for q in quarters
    ]
    largest = max((sum(v for *_, v in parts) for parts in sums), default=Decimal(0))
    if not largest:
        return None
    left, right, top, plot_h = 78, _WIDTH - 8, 14, 220
    scale_top = _nice_top(largest)
    slot = (right - left) / len(quarters)
    bar = min(44.0, slot * 0.62)

    def y(value: Decimal) -> float:
        return _n(top + plot_h - float(value / scale_top) * plot_h)

    bars = []
    for i, (quarter, parts) in enumerate(zip(quarters, sums, strict=True)):
        middle, below, segments = left + slot * (i + 0.5), Decimal(0), []
        for column, side, value in parts:
            if value:
                segments.append(
                    {
                        "column": column,
                        "side": side,
                        "amount": quarter[column][side],
                        "y": y(below + value),
                        "height": _n(y(below) - y(below + value)),
                    }
                )
            below += value
        bars.append({"quarter": quarter["quarter"], "middle": _n(middle),
                     "x": _n(middle - bar / 2), "segments": segments})  # fmt: skip
    ticks = [{"value": f"{scale_top * k / 4:,.0f}", "y": y(scale_top * k / 4)} for k in range(5)]
    return {
        "width": _WIDTH,
        "height": top + plot_h + 30,
        "left": left,
        "right": right,
        "base": top + plot_h,
        "bar": _n(bar),
        "bars": bars,
        "ticks": ticks,
    }


def _nice_top(largest: Decimal) -> Decimal:
    """The axis maximum: the smallest 1, 2, 4, 5 or 8 times a power of ten at or above
    `largest` (its quarters are round numbers)."""
    power = Decimal(1)
    while True:
        for step in (1, 2, 4, 5, 8):
            if power * step >= largest:
                return power * step
        power *= 10


def _n(x: float) -> float:
    return round(x, 1)
