"""The report's formats as the command line and the web app offer them: HTML (the page), PDF,
PowerPoint and Word; each with its file extension, media type and renderer, and the file name
a review's document gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reports.deliverables.brand import Brand
from reports.deliverables.text import one_line
from states.errors import InvalidInput


def _html(data: dict[str, Any], brand: Brand) -> bytes:
    from reports.documents import report_html

    return report_html(data).encode("utf-8")


def _pdf(data: dict[str, Any], brand: Brand) -> bytes:
    from reports.deliverables.pdf import report_pdf

    return report_pdf(data, brand)


def _pptx(data: dict[str, Any], brand: Brand) -> bytes:
    from reports.deliverables.deck import review_deck

    return review_deck(data, brand)


def _docx(data: dict[str, Any], brand: Brand) -> bytes:
    from reports.deliverables.word import summary_docx

    return summary_docx(data, brand)


@dataclass(frozen=True)
class Format:
    """One way to hand the review to the client."""

    name: str  # as --format and the web address write it: pdf
    label: str  # as people call it: PowerPoint
    media_type: str
    write: Callable[[dict[str, Any], Brand], bytes]

    def file_name(self, review_name: str) -> str:
        """The document's file name: the review's name and the extension, without a path
        separator, a leading dot or a character a file system refuses."""
        stem = _UNSAFE.sub("-", one_line(review_name, 120)).strip(" .-") or "review"
        return f"{stem}.{self.name}"


_UNSAFE = re.compile(r'[\\/:*?"<>|]+')
FORMATS = {
    f.name: f
    for f in (
        Format("html", "HTML", "text/html; charset=utf-8", _html),
        Format("pdf", "PDF", "application/pdf", _pdf),
        Format(
            "pptx",
            "PowerPoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            _pptx,
        ),
        Format(
            "docx",
            "Word",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            _docx,
        ),
    )
}


def format_named(name: str, option: str = "--format") -> Format:
    """The format called `name` (pdf, PDF), or one line naming the choices."""
    found = FORMATS.get(name.strip().lower())
    if found is None:
        raise InvalidInput(
            f"{option} {name[:20]!r} is not a format xbr writes; use one of {', '.join(FORMATS)}"
        )
    return found
