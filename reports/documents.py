"""The review's written outputs, all rendered from one data dict: the agenda for the prep phase,
the client's summary email draft for follow-up, and a self-contained HTML report.

The report is one page with inline CSS and inline SVG charts: no script, font, image or URL, so
it opens the same from a mailbox, a file share or a printer.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, select_autoescape

from notifications.messages import local_time, markdown_values, template_environment
from states.calendar.business_days import zone as time_zone
from states.staging.assessment import GREEN_FROM, PENALTY, YELLOW_FROM, color

ROADMAP_QUESTIONS: tuple[str, ...] = (
    "What has changed, or is changing, in your business or industry?",
    "Do you plan to grow, hire or open new offices in the next 12 months?",
    "Which projects are you planning for next year, and with what budget?",
    "Which compliance requirements apply to you (HIPAA, NIST, CIS, cyber insurance)?",
    "What technology gets in your way?",
)
FOLLOW_UP_QUESTIONS: tuple[str, ...] = (
    "What can we do better or different?",
    "When should we meet again?",
    "Who do you know that would benefit from this type of meeting?",
    "Would you give us a review?",
)


def agenda_markdown(data: dict[str, Any]) -> str:
    """The meeting's agenda in Markdown: scorecard since the baseline, discussion items,
    recommendations, tickets in progress, roadmap and follow-up questions."""
    return _markdown("agenda.md.j2", data)


def summary_markdown(data: dict[str, Any]) -> str:
    """The client's summary email draft in Markdown: highlights, our follow-up work,
    recommendations awaiting a decision and the next meeting; in the client's words."""
    return _markdown("summary.md.j2", data)


def report_html(data: dict[str, Any]) -> str:
    """The review as one self-contained, printable HTML page with its charts as inline SVG."""
    context = _context(data)
    charts = {
        "scorecard": _scorecard_chart(context["rows"], data["baseline"] is not None),
        "volume": _volume_chart(data["ticket_volume"]),
    }
    return _environment().get_template("report.html.j2").render(context, charts=charts)


def _markdown(template: str, data: dict[str, Any]) -> str:
    text = _environment().get_template(template).render(_context(data))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def _context(data: dict[str, Any]) -> dict[str, Any]:
    review, baseline = data["review"], data["baseline"]
    since = " ".join(filter(None, (_period(baseline), "baseline"))) if baseline else None
    rows = [_row(entry, since) for entry in data["scorecard"]]
    red_first = sorted(data["findings"], key=lambda f: f["severity"] != "red")
    return {
        **data,
        "zone": review["timezone"],
        "meeting": local_time(review["meeting_at"], review["timezone"])
        if review["meeting_at"]
        else None,
        "since": since,
        "greeting": _greeting(data["contacts"]),
        "rows": rows,
        "findings": red_first,
        "discussion": [f for f in red_first if f["disposition"] == "discussion"],
        "recommendations": [f for f in red_first if f["disposition"] == "recommendation"],
        "highlights": _highlights(rows, baseline is not None),
        "roadmap_questions": ROADMAP_QUESTIONS,
        "follow_up_questions": FOLLOW_UP_QUESTIONS,
        "scoring": {
            "green_from": GREEN_FROM,
            "yellow_from": YELLOW_FROM,
            "penalty": {s.value: p for s, p in PENALTY.items()},
        },
    }


def _period(review: dict[str, Any]) -> str:
    """A review's period for a sentence: 2026-Q3, from its period or the end of its name."""
    period = str(review.get("period") or (review["name"].split() or [""])[-1])
    return period.upper() if _PERIOD.fullmatch(period) else ""


def _greeting(contacts: list[str]) -> str:
    """Hi Carl, Hi Carl and Dana, Hi Carl, Dana and Eve; Hello without contacts."""
    firsts = [name.split()[0] for name in contacts if name.strip()]
    if not firsts:
        return "Hello,"
    return "Hi " + " and ".join(filter(None, (", ".join(firsts[:-1]), firsts[-1]))) + ","


def _row(entry: dict[str, Any], since: str | None) -> dict[str, Any]:
    change = entry["change"]
    if since is None:
        change_text = "baseline"
    elif entry["score"] is None:
        change_text = "not assessed"
    elif change is None:
        change_text = f"not in the {since}"
    else:
        change_text = f"{change:+d} since {since}" if change else f"no change since {since}"
    tone = "none" if not change else "up" if change > 0 else "down"
    was = color(entry["baseline"]) if since else "grey"
    return {
        **entry,
        "change_text": change_text,
        "tone": tone,
        "baseline_color": was,
    }


def _highlights(rows: list[dict[str, Any]], compared: bool) -> dict[str, Any]:
    """Went green, improved, still red, lower; counts by color now and at the baseline."""
    went_green = [
        r
        for r in rows
        if compared
        and r["baseline"] is not None
        and r["color"] == "green"
        and r["baseline_color"] != "green"
    ]
    scores = [r["score"] for r in rows if r["score"] is not None]
    # the baseline's average over the same categories, so that one not assessed now cannot move it
    before = [r["baseline"] for r in rows if compared and None not in (r["baseline"], r["score"])]
    return {
        "went_green": went_green,
        "improved": [r for r in rows if r["tone"] == "up" and r not in went_green],
        "lower": [r for r in rows if r["tone"] == "down"],
        "green": [r for r in rows if r["color"] == "green"],
        "red": [r for r in rows if r["color"] == "red"],
        "was_green": sum(r["baseline_color"] == "green" for r in rows),
        "was_red": sum(r["baseline_color"] == "red" for r in rows),
        "average": round(sum(scores) / len(scores)) if scores else None,
        "was_average": round(sum(before) / len(before)) if before else None,
    }


# Chart geometry, in the SVG's own units; the page scales each chart to its column.
_CHART_WIDTH, _BAR_SPACE, _VOLUME_WIDTH = 600, 500, 480


def _scorecard_chart(rows: list[dict[str, Any]], with_baseline: bool) -> dict[str, Any]:
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


def _volume_chart(volume: list[dict[str, Any]]) -> dict[str, Any] | None:
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


def _day(iso: str | None, zone: str) -> str:
    """An ISO date (or moment, read in `zone`) as a day: Fri 20 Nov 2026."""
    if not iso:
        return "no date set"
    if "T" in iso:
        moment = datetime.fromisoformat(iso)
        day = moment.astimezone(time_zone(zone)).date() if moment.tzinfo else moment.date()
    else:
        day = date.fromisoformat(iso)
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _month(value: str) -> str:
    """2026-08 as Aug 2026."""
    year, month = value.split("-")[:2]
    return f"{_MONTHS[int(month) - 1]} {year}"


def _team(role: str | None) -> str:
    """Who does the work, in the client's words: support_engineer -> our support team."""
    return _TEAMS.get(role or "", "our team")


def _moved(row: dict[str, Any]) -> str:
    """A category with its scores: Patching (30 → 90), or Network (40) without a baseline."""
    if row["baseline"] is None or row["score"] is None:
        return f"{row['label']} ({row['score'] if row['score'] is not None else 'not assessed'})"
    return f"{row['label']} ({row['baseline']} → {row['score']})"


def _oneline(text: str | None) -> str:
    return " ".join((text or "").split())


_BLANK_LINES = re.compile(r"\n{3,}")
_PERIOD = re.compile(r"\d{4}(-[A-Za-z0-9]+)?", re.ASCII)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEAMS = {
    "support_engineer": "our support team",
    "intern": "our support team",
    "team_lead": "our service desk",
    "security_engineer": "our security team",
    "vcio": "your vCIO",
    "account_manager": "your account manager",
    "ops_manager": "our operations team",
    "sales_assistant": "our client success team",
    "exec_assistant": "our client success team",
}


@cache
def _environment() -> Environment:
    # The HTML report escapes for HTML, the Markdown documents for Markdown.
    env = template_environment(
        "reports", "templates", select_autoescape(["html.j2"]), markdown_values
    )
    env.filters.update(day=_day, month=_month, team=_team, oneline=_oneline, moved=_moved)
    return env
