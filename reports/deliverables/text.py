"""Text from people as the deliverables show it: on one line, bounded, and free of what an
office file's XML cannot hold (control characters, lone surrogates, U+FFFE and U+FFFF); and
lists bounded too, with how many more the full report holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from states.text import CONTROLS_BUT_LINES

NAME_MAX = 200  # a client, review or person's name
TITLE_MAX = 300  # a finding, ticket or initiative's title
DETAIL_MAX = 320  # a detail under its title: device lists run long; the HTML report has them whole
ROWS_MAX = 200  # rows of one table; past that, "and N more in the full report"
ELLIPSIS = "…"
# what XML 1.0 refuses, besides the controls: a Word or PowerPoint file with one is broken
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def clean(value: object) -> str:
    """A value as text an office file and a PDF can hold, line breaks and tabs kept."""
    return _NOT_XML.sub("", CONTROLS_BUT_LINES.sub("", str(value)))


def one_line(value: object, limit: int) -> str:
    """A value on one line (runs of white space made one space), cut to `limit` characters
    with an ellipsis."""
    text = " ".join(clean(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Shown:
    """A list as shown: its first rows, and how many more the full report holds."""

    rows: list[Any]
    more: int = 0


def bounded(rows: list[Any], total: int) -> Shown:
    """The first ROWS_MAX of `rows` (of `total` in all)."""
    return Shown(rows[:ROWS_MAX], max(0, total - ROWS_MAX))
