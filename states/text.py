"""Text people type (names, comments, notes), checked where it enters: bounded, and free of
the control characters that rewrite a terminal line or break a header, a calendar or a CSV."""

from __future__ import annotations

import re

from states.errors import InvalidInput

# A name is shown on terminals, in emails, calendars and CSV files: one line of text.
NAME_MAX = 200
# A comment, note or reason: a few paragraphs.
TEXT_MAX = 2000
# C0 and C1 controls, and the bidirectional overrides that show text in another order
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# the same, but for line breaks and tabs: what a comment may hold, and what output removes
CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def parse_name(text: str, what: str) -> str:
    """A person's or client's name: one line of at most NAME_MAX characters, trimmed."""
    name = text.strip()
    if not name:
        raise InvalidInput(f"a {what} needs a name; give it as the first argument")
    if _CONTROLS.search(name):
        raise InvalidInput(
            f"the {what}'s name holds a control character (a line break, tab or escape); "
            "give it on one line of plain text"
        )
    if len(name) > NAME_MAX:
        raise InvalidInput(
            f"the {what}'s name is {len(name)} characters long; give at most {NAME_MAX}"
        )
    return name


def check_text(text: str | None, what: str) -> str | None:
    """A comment, note or reason as given (line breaks and tabs allowed), or an error naming
    `what` (e.g. "{comment}") when it is too long or holds other control characters."""
    if text is None:
        return None
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"{what} is {len(text)} characters long; give at most {TEXT_MAX}")
    if CONTROLS_BUT_LINES.search(text):
        raise InvalidInput(
            f"{what} holds a control character (an escape or a carriage return); give plain text"
        )
    return text
