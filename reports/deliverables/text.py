"""Text from people as the deliverables show it: on one line, bounded, and free of what an
office file's XML cannot hold (control characters, lone surrogates, U+FFFE and U+FFFF)."""

from __future__ import annotations

import re

from states.text import CONTROLS_BUT_LINES

# what XML 1.0 refuses, besides the controls: a Word or PowerPoint file with one is broken
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
ELLIPSIS = "…"


def clean(value: object) -> str:
    """A value as text an office file and a PDF can hold, line breaks and tabs kept."""
    return _NOT_XML.sub("", CONTROLS_BUT_LINES.sub("", str(value)))


def one_line(value: object, limit: int) -> str:
    """A value on one line (runs of white space made one space), cut to `limit` characters
    with an ellipsis."""
    text = " ".join(clean(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS
