"""The review's written outputs, all rendered from one data dict: the agenda for the prep phase,
the client's summary email draft for follow-up, and a self-contained HTML report.

The report is one page with inline CSS and inline SVG charts: no script, font, image or URL, so
it opens the same from a mailbox, a file share or a printer.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

import markdown
from jinja2 import Environment, select_autoescape

from notifications.messages import clean_html, local_time, markdown_values, template_environment
from reports.charts import scorecard_chart, trend_chart, volume_chart
from reports.frameworks import framework_tables
from reports.plan_charts import budget_chart, roadmap_chart
from states.calendar.business_days import zone as time_zone
from states.plans.money import display_amount
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
    """The meeting's agenda in Markdown: what got worse and what went green since the previous
    review and why, the scorecard since the baseline, discussion items, recommendations,
    tickets in progress, roadmap and follow-up questions."""
    return _markdown("agenda.md.j2", data)


def summary_markdown(data: dict[str, Any]) -> str:
    """The client's summary email draft in Markdown: highlights, our follow-up work,
    recommendations awaiting a decision and the next meeting; in the client's words."""
    return _markdown("summary.md.j2", data)


def report_html(data: dict[str, Any]) -> str:
    """The review as one self-contained, printable HTML page with its charts as inline SVG:
    the scorecard, the scores over every assessed review, the frameworks, the ticket volume."""
    context = report_context(data)
    charts = {
        "scorecard": scorecard_chart(context["rows"], data["baseline"] is not None),
        "trend": trend_chart(data.get("history", []), context["rows"]),
        "volume": volume_chart(data["ticket_volume"]),
        "roadmap": roadmap_chart(context["roadmap"], context["this_quarter"]),
        "budget": budget_chart(context["budget"]),
    }
    return _environment().get_template("report.html.j2").render(context, charts=charts)


def agenda_html(data: dict[str, Any]) -> str:
    """The agenda as HTML for a page: its values escaped for Markdown and HTML before the
    Markdown is converted, and the result cut to the tags Markdown makes."""
    source = _environment(html=True).get_template("agenda.md.j2").render(report_context(data))
    return _html(source)


@lru_cache(maxsize=64)
def _html(source: str) -> str:
    # Converting costs most of the agenda, and the review page shows the same one at every
    # visit: the HTML of a source is kept (a pure function of it) for the last few converted.
    return clean_html(markdown.markdown(source, extensions=["tables"]))


def _markdown(template: str, data: dict[str, Any]) -> str:
    text = _environment().get_template(template).render(report_context(data))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def report_context(data: dict[str, Any]) -> dict[str, Any]:
    """What the report's templates show of `report_data`: scores with why each moved, findings
    red first, the plan; also the review page's sections."""
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
        "since_previous": _since_previous(rows) if data.get("previous") else None,
        "previous_period": _period(data["previous"]) if data.get("previous") else "",
        "framework_tables": framework_tables(data.get("frameworks", {})),
        "questionnaire": data.get("questionnaire"),
        **_plan(data),
        "roadmap_questions": ROADMAP_QUESTIONS,
        "follow_up_questions": FOLLOW_UP_QUESTIONS,
        "scoring": {
            "green_from": GREEN_FROM,
            "yellow_from": YELLOW_FROM,
            "penalty": {s.value: p for s, p in PENALTY.items()},
        },
    }


def _plan(data: dict[str, Any]) -> dict[str, Any]:
    """The plan's part of the context (data from before plans had none)."""
    budget = data.get("budget")
    quarters = budget["quarters"] if budget else []
    return {
        "last_plan": data.get("last_plan", []),
        "roadmap": data.get("roadmap", []),
        "budget": budget,
        "currency": budget["currency"] if budget else "USD",
        "this_quarter": quarters[0]["quarter"] if quarters else None,
    }


def money(amount: str | None, currency: str) -> str:
    """An amount from the data (a two-decimal string) for people: USD 1,200.50."""
    return "—" if amount is None else display_amount(Decimal(amount), currency)


def _spent(initiative: dict[str, Any], currency: str) -> str:
    """An initiative's cost against its budget: spent USD 5,200.00 of USD 4,800.00 budgeted."""
    budgeted = money(initiative["one_time"], currency)
    if Decimal(initiative["monthly"]):
        budgeted += f" + {money(initiative['monthly'], currency)} a month"
    if initiative["actual"] is None:
        return f"budget {budgeted}, no actual cost yet"
    return f"spent {money(initiative['actual'], currency)} of {budgeted} budgeted"


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
    before = entry.get("previous")
    return {
        **entry,
        "change_text": change_text,
        "tone": tone,
        "baseline_color": was,
        "previous": before,
        "previous_color": color(before),
        "change_previous": entry.get("change_previous", _less(entry["score"], before)),
        "why_previous": entry.get("why", {}).get("previous", []),
        "risk": entry.get("risk"),
        "items_met": entry.get("items_met", 0),
        "items_total": entry.get("items_total", 0),
    }


def _less(score: int | None, before: int | None) -> int | None:
    return None if score is None or before is None else score - before


def _since_previous(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """What got worse and what went green since the previous review, each with why (the first
    few reasons, and how many more)."""
    worse, went_green = [], []
    for row in rows:
        shown = {
            **row,
            "why_shown": row["why_previous"][:WHY_SHOWN],
            "why_more": max(0, len(row["why_previous"]) - WHY_SHOWN),
        }
        if row["change_previous"] is not None and row["change_previous"] < 0:
            worse.append(shown)
        elif row["color"] == "green" and row["previous_color"] not in ("green", "grey"):
            went_green.append(shown)
    return {"worse": worse, "went_green": went_green}


WHY_SHOWN = 3


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


def day(iso: str | None, zone: str) -> str:
    """An ISO date (or moment, read in `zone`) as a day: Fri 20 Nov 2026."""
    if not iso:
        return "no date set"
    if "T" in iso:
        moment = datetime.fromisoformat(iso)
        when = moment.astimezone(time_zone(zone)).date() if moment.tzinfo else moment.date()
    else:
        when = date.fromisoformat(iso)
    return f"{_DAYS[when.weekday()]} {when.day} {_MONTHS[when.month - 1]} {when.year}"


def _month(value: str) -> str:
    """2026-08 as Aug 2026."""
    year, month = value.split("-")[:2]
    return f"{_MONTHS[int(month) - 1]} {year}"


def team(role: str | None) -> str:
    """Who does the work, in the client's words: support_engineer -> our support team."""
    return _TEAMS.get(role or "", "our team")


def moved(row: dict[str, Any]) -> str:
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
def _environment(html: bool = False) -> Environment:
    # The HTML report escapes for HTML, the Markdown documents for Markdown; with `html`, the
    # Markdown's values for HTML too (a Markdown document shown as a page).
    escapes = True if html else select_autoescape(["html.j2"])
    env = template_environment("reports", "templates", escapes, markdown_values)
    env.globals["html"] = html
    env.filters.update(day=day, month=_month, team=team, oneline=_oneline, moved=moved)
    env.filters.update(money=money, spent=_spent)
    return env
