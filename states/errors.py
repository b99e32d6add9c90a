"""Errors a user can cause and fix; each message names the thing and the fix in one line."""


class XbrError(Exception):
    """A problem the person can fix; the CLI prints it as one line and exits 2."""


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
