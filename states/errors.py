"""Errors a user can cause and fix; each message names the thing and the fix in one line.

A message names what to give as a placeholder (`{meeting}`, `{comment}`, `{reason}`), and each
entry point words it in its own terms: the CLI's options by default (`str(error)`), the approval
page's fields, the Prefect UI Resume form's (`error.worded(WEB_PAGE)`)."""

from __future__ import annotations

from collections.abc import Mapping

# what a person gives, in the words of each entry point
COMMAND_LINE = {"meeting": "--meeting", "comment": "--comment", "reason": "--reason"}
WEB_PAGE = {
    "meeting": "meeting date on the page",
    "comment": "a comment in the form",
    "reason": "a reason",
}
RESUME_FORM = {
    "meeting": "new_meeting_date in the form",
    "comment": "a comment in the form",
    "reason": "a comment in the form",
}


class XbrError(Exception):
    """A problem the person can fix; the CLI prints it as one line and exits 2."""

    def worded(self, words: Mapping[str, str]) -> str:
        """The message with what to give named in `words` (an entry point's terms)."""
        text = super().__str__()
        for name, word in words.items():
            text = text.replace("{" + name + "}", word)
        return text

    def __str__(self) -> str:
        return self.worded(COMMAND_LINE)


class NotFound(XbrError):
    """An unknown client, person, review, task or template."""


class InvalidInput(XbrError):
    """A value that can never be right: bad date, unknown role, malformed file."""


class SlotTaken(InvalidInput):
    """The database refused a second open review of a client and type: another transaction
    opened it first (the one that fails is done for on PostgreSQL)."""


class IllegalTrigger(XbrError):
    """The trigger does not apply in the review's current phase."""


class Refused(XbrError):
    """A guard said no: open tasks, wrong approver, four-eyes, WIP limit, meeting date."""


class AlreadyDecided(XbrError):
    """Someone else decided this gate first, or the review has moved on."""
