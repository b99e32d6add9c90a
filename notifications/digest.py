"""The daily digest's text: each held notice as it reads now, cut to its title, its main line
and its links."""

from __future__ import annotations

import re
from typing import Any

from notifications.messages import Message, render

# a Markdown link of xbr's own templates, and a character escaped in the data's text
_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\((https?://[^()\s]+)\)")
_ESCAPED = re.compile(r"\\([\\`*\[\]<>|])")
_GREETING = re.compile(r"^Hi .*,$")


def _text(markdown: str) -> str:
    """Markdown of a rendered message as plain text (the digest escapes it again)."""
    plain = _LINK.sub(r"\1", markdown).replace("**", "")
    return " ".join(_ESCAPED.sub(r"\1", plain).split())


def item(message: Message) -> dict[str, Any]:
    """One held notice in the digest: its title, its first line after the greeting, and
    every link it carries (label, url)."""
    paragraphs = [p.strip() for p in message.markdown.split("\n\n") if p.strip()]
    lines = [p for p in paragraphs if not _GREETING.match(p) and not _LINK.fullmatch(p.strip("*"))]
    links = [
        {"label": _text(label).rstrip(" →:") or "Open", "url": url}
        for label, url in _LINK.findall(message.markdown)
    ]
    return {
        "title": _text(message.title),
        "line": _text(lines[0]) if lines else "",
        "links": links,
    }


def digest(name: str, email: str, messages: list[Message]) -> Message:
    """The digest of `messages` for one person."""
    context = {
        "recipient": {"name": name, "email": email},
        "items": [item(m) for m in messages],
        "links": {"action": None, "run": None, "code": None},
    }
    return render("digest", context)
