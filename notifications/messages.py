"""What people read: a title, a Markdown body and the email's HTML for each kind of message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import markdown
from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape
from markupsafe import Markup

from states.calendar.business_days import zone as time_zone
from states.errors import InvalidInput

KINDS = (
    "tasks",
    "approval",
    "consult",
    "informed",
    "invite",
    "reminder",
    "overdue",
    "escalation",
    "pulled",
    "test",
)


@dataclass(frozen=True)
class Message:
    """One rendered message: a one-line title, a Markdown body and the same body as HTML."""

    title: str
    markdown: str
    html: str


def render(kind: str, context: dict[str, Any]) -> Message:
    """One recipient's message of `kind`; a missing context key raises UndefinedError."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown message kind {kind!r}; use one of {', '.join(KINDS)}")
    plain, escaped = _environments()
    # Data can hold newlines (a comment, a title typed with one): a title stays one line.
    title = " ".join(plain.get_template(f"{kind}.title.j2").render(context).split())
    body = plain.get_template(f"{kind}.md.j2").render(context)
    # python-markdown passes raw HTML through, so the HTML is converted from a second rendering
    # of the same template in which every value from the data is already HTML-escaped.
    source = escaped.get_template(f"{kind}.md.j2").render(context)
    html = escaped.get_template("email.html.j2").render(
        context, title=title, body=Markup(markdown.markdown(source))
    )
    return Message(title=title, markdown=_BLANK_LINES.sub("\n\n", body).strip() + "\n", html=html)


def local_time(when: datetime | str | None, zone: str) -> str:
    """A moment (or its ISO form) as the client's staff read it in `zone`:
    Tue 24 Nov 2026, 17:00 EST."""
    _require(when, zone)
    if not when:
        return "no date set"
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:  # the store keeps aware UTC; a naive value can only be UTC too
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(time_zone(zone))
    day = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{day}, {local:%H:%M} {local.tzname()}"


# Optional sections leave runs of blank lines behind; Markdown and chat show one.
_BLANK_LINES = re.compile(r"\n{3,}")
# Spelled out rather than strftime("%a %b") so that the server's locale cannot change them.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_TYPE_LABELS = {"xbr": "xBR", "monthly-checkin": "Monthly check-in", "ad-hoc": "Ad hoc session"}
_PHASE_LABELS = {"follow_up": "follow-up", "qa_review": "QA review"}
_ROLE_LABELS = {"vcio": "vCIO", "ceo": "CEO"}


def review_type_label(review_type: str) -> str:
    """How staff write a review type: qbr -> QBR, monthly-checkin -> Monthly check-in."""
    _require(review_type)
    return _TYPE_LABELS.get(review_type, review_type.upper())


def phase_label(phase: str) -> str:
    """A phase as a word in a sentence: follow_up -> follow-up."""
    _require(phase)
    return _PHASE_LABELS.get(phase, phase.replace("_", " "))


def role_label(role: str) -> str:
    """A role as a word in a sentence: account_manager -> account manager, vcio -> vCIO."""
    _require(role)
    return _ROLE_LABELS.get(role, role.replace("_", " "))


def _first_name(name: str) -> str:
    _require(name)
    words = name.split()
    return words[0] if words else "there"


def _whole(number: float) -> int:
    _require(number)  # round() of an Undefined is a TypeError, not the UndefinedError we want
    return round(number)


def _require(*values: object) -> None:
    # A filter receives a missing key as an Undefined object without failing; fail here as
    # StrictUndefined would, instead of printing a made-up value or a TypeError deep inside.
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()


@cache
def _environments() -> tuple[Environment, Environment]:
    """(plain, escaped): Markdown with the data as written, and with every value HTML-escaped."""
    # "html.j2": select_autoescape matches the end of the name, and "email.html.j2" ends in .j2.
    plain = _environment(select_autoescape(["html", "html.j2"]))
    return plain, _environment(True)


def template_environment(
    package: str, folder: str, autoescape: bool | Callable[[str | None], bool]
) -> Environment:
    """A strict Jinja2 environment on a package's templates, with xbr's filters for dates in
    a zone (`local`), review types, phases and roles."""
    env = Environment(
        loader=PackageLoader(package, folder),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        local=local_time, review_type=review_type_label, phase=phase_label, role=role_label
    )
    return env


def _environment(autoescape: bool | Callable[[str | None], bool]) -> Environment:
    env = template_environment("notifications", "templates", autoescape)
    env.filters.update(first_name=_first_name, whole=_whole)
    return env
