"""What people read: a title, a Markdown body and the email's HTML for each kind of message.

Every value from the data is text in a message: it is escaped for Markdown (no link, image,
code or HTML comes from a name or a comment; line breaks become spaces) before the Markdown is
rendered, and the email's HTML is cleaned by an allow-list (nh3) as a second wall. Links and
images come only from xbr's own templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from html import unescape
from typing import Any

import markdown
import nh3
from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from states.calendar.business_days import zone as time_zone
from states.errors import InvalidInput
from states.text import CONTROLS_BUT_LINES

KINDS = (
    "tasks",
    "approval",
    "consult",
    "assess",
    "informed",
    "invite",
    "reminder",
    "overdue",
    "escalation",
    "pulled",
    "psa",
    "plan",
    "digest",
    "test",
    "signin",
)


@dataclass(frozen=True)
class Message:
    """One rendered message: a one-line title, a Markdown body and the same body as HTML."""

    title: str
    markdown: str
    html: str

    @property
    def subject(self) -> str:
        """The title as plain text, e.g. an email's Subject."""
        return plain_text(self.title)

    @property
    def text(self) -> str:
        """The body as plain text: every link written out with its address."""
        return plain_text(self.markdown)


def render(kind: str, context: dict[str, Any]) -> Message:
    """One recipient's message of `kind`; a missing context key raises UndefinedError."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown message kind {kind!r}; use one of {', '.join(KINDS)}")
    plain, escaped = _environments()
    title = " ".join(plain.get_template(f"{kind}.title.j2").render(context).split())
    body = plain.get_template(f"{kind}.md.j2").render(context)
    # python-markdown passes raw HTML through, so the HTML is converted from a second rendering
    # of the same template in which every value from the data is also HTML-escaped.
    source = escaped.get_template(f"{kind}.md.j2").render(context)
    before, action, after = _split_action(clean_html(markdown.markdown(source)), context)
    html = escaped.get_template("email.html.j2").render(
        context,
        title=_ESCAPED.sub(r"\1", title),  # shown as text there, not read as Markdown
        body=Markup(before),
        action=action,
        after=Markup(after),
    )
    return Message(title=title, markdown=_BLANK_LINES.sub("\n\n", body).strip() + "\n", html=html)


# The message's main action as Markdown renders it: a bold link alone in its paragraph.
_ACTION = re.compile(r'<p><strong><a href="([^"<>]*)">([^<]*)</a></strong></p>')


def _split_action(html: str, context: dict[str, Any]) -> tuple[str, dict[str, Markup] | None, str]:
    """The cleaned HTML around its main action link (the context's `links.action`), which the
    email's template draws as a button; (html, None, "") when the message has none."""
    links = context.get("links")
    wanted = links.get("action") if isinstance(links, dict) else None
    found = _ACTION.search(html) if wanted else None
    if found is None or unescape(found.group(1)) != wanted:
        return html, None, ""
    action = {"href": Markup(found.group(1)), "label": Markup(found.group(2))}
    return html[: found.start()], action, html[found.end() :]


# An unescaped Markdown link (only xbr's templates write them), or an escaped character
_LINK_OR_ESCAPE = re.compile(r"\\([\\`*\[\]<>|])|\[((?:\\.|[^\]\\])*)\]\(([^()\s]+)\)")
_EMPHASIS = re.compile(r"\*\*|`")


def plain_text(text: str) -> str:
    """Markdown as xbr's templates write it, as plain text: `[Open →](url)` becomes
    "Open: url", emphasis and code marks go, escaped characters are themselves again."""
    pieces = _LINK_OR_ESCAPE.split(text)
    # split() keeps the groups: text, escape, label, url, text, ...
    out = []
    for index in range(0, len(pieces), 4):
        out.append(_EMPHASIS.sub("", pieces[index]))
        if index + 3 < len(pieces):
            escape, label, url = pieces[index + 1 : index + 4]
            if escape is not None:
                out.append(escape)
            else:
                name = plain_text(label).rstrip(" →:")
                out.append(f"{name}: {url}" if name else url)
    return "".join(out)


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


# What makes Markdown of text: emphasis, code, links and images, raw HTML, autolinks, and
# the cells of a table.
# ("_" stays: inside a word it emphasises nothing, and it is common in names and addresses.)
# Where the text is HTML-escaped too, "<" and ">" are entities already.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MARKDOWN_SPECIAL_IN_HTML = re.compile(r"([\\`*\[\]|])")
_ESCAPED = re.compile(r"\\([\\`*\[\]<>|])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
# The email's HTML: what Markdown makes of xbr's templates, and nothing else
_HTML_TAGS = {
    *("p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "a"),
    *("ul", "ol", "li", "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td"),
}


def markdown_text(value: object, html_escaped: bool = False) -> str:
    """A value as text inside Markdown: on one line, its Markdown characters escaped (but
    "<" and ">" when the text is HTML-escaped after)."""
    text = CONTROLS_BUT_LINES.sub("", _LINE_BREAKS.sub(" ", str(value)))
    special = _MARKDOWN_SPECIAL_IN_HTML if html_escaped else _MARKDOWN_SPECIAL
    return special.sub(r"\\\1", text)


def clean_html(html: str) -> str:
    """HTML rendered from Markdown, cut to the tags a message uses and links to web and mail
    addresses."""
    return nh3.clean(
        html,
        tags=_HTML_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )


@pass_context
def markdown_values(context: Context, value: object) -> object:
    """Jinja's finalize for templates that write Markdown (*.md.j2, *.title.j2): each
    `{{ value }}` escaped for Markdown; Markup (a macro's output) passes as it is. Where the
    environment's global `html` is true, the text is HTML-escaped after."""
    if isinstance(value, Markup) or not _is_markdown(context.name):
        return value
    if context.environment.globals.get("html"):
        return markdown_text(value, html_escaped=True)
    text = markdown_text(value)
    return Markup(text) if context.eval_ctx.autoescape else text


def _is_markdown(name: str | None) -> bool:
    return name is not None and name.endswith((".md.j2", ".title.j2", "_macros.j2"))


@cache
def _environments() -> tuple[Environment, Environment]:
    """(plain, escaped): Markdown with the data escaped for Markdown, and escaped for Markdown
    and HTML (what becomes the email's HTML)."""
    plain = _environment(html=False)
    return plain, _environment(html=True)


def template_environment(
    package: str,
    folder: str,
    autoescape: bool | Callable[[str | None], bool],
    finalize: Callable[..., object] | None = None,
) -> Environment:
    """A strict Jinja2 environment on a package's templates, with xbr's filters for dates in
    a zone (`local`), review types, phases and roles."""
    env = Environment(
        loader=PackageLoader(package, folder),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters.update(
        local=local_time, review_type=review_type_label, phase=phase_label, role=role_label
    )
    return env


def _environment(html: bool) -> Environment:
    # Both escape: a macro's output is then Markup, escaped once inside it, not again outside.
    env = template_environment("notifications", "templates", True, markdown_values)
    env.globals["html"] = html
    env.filters.update(first_name=_first_name, whole=_whole)
    return env
