"""An email as mail clients read it: plain text and HTML as alternatives, and a meeting
invitation as a third, inline text/calendar alternative (RFC 6047 iMIP).

An invitation is also attached as invite.ics, as the big calendar services do, for clients
that only offer attachments. Every header value is one line: no name or title can add one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from notifications.messages import Message
from states.text import CONTROLS_BUT_LINES

CALENDAR = "text/calendar"
# 7bit: every part is encoded (quoted-printable or base64) for any SMTP server
_POLICY = policy.SMTP.clone(cte_type="7bit")
_METHOD = re.compile(rb"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, e.g. the meeting invitation."""

    name: str
    mimetype: str
    content: bytes


def one_line(text: str) -> str:
    """Text as a header value: one line, whitespace runs as one space, no control character."""
    return " ".join(CONTROLS_BUT_LINES.sub("", text).split())


def mailbox(name: str | bool | None, email: str) -> Address:
    """A From or To address; the display name on one line, quoted or encoded as it needs."""
    local, _, domain = email.rpartition("@")
    display = one_line(name) if isinstance(name, str) else ""
    return Address(display_name=display, username=local, domain=domain)


def build(
    message: Message,
    sender: Address,
    to: list[Address],
    attachments: list[Attachment],
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The email of one message: text/plain and text/html alternatives, an invitation as an
    inline text/calendar alternative with its METHOD, and other files attached."""
    email = EmailMessage(policy=_POLICY)
    for name, value in (headers or {}).items():
        email[one_line(name)] = one_line(value)
    email["Subject"] = one_line(message.subject)
    email["From"] = sender
    email["To"] = to
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=sender.domain or None)
    email.set_content(message.text, charset="utf-8")
    email.add_alternative(message.html, subtype="html", charset="utf-8")
    # the invitation first: it joins the alternatives before any file makes a mixed wrapper
    for item in sorted(attachments, key=lambda a: a.mimetype != CALENDAR):
        if item.mimetype == CALENDAR:
            _add_invitation(email, item)
        else:
            maintype, _, subtype = item.mimetype.partition("/")
            email.add_attachment(
                item.content, maintype=maintype, subtype=subtype, filename=item.name
            )
    return email


def _add_invitation(email: EmailMessage, item: Attachment) -> None:
    """The calendar alternative (its method read from the file itself, so the two always
    agree) and the same file attached."""
    found = _METHOD.search(item.content)
    method = found.group(1).decode() if found else "REQUEST"
    calendar = item.content.decode("utf-8")
    email.add_alternative(calendar, subtype="calendar", charset="utf-8", params={"method": method})
    email.add_attachment(item.content, maintype="application", subtype="ics", filename=item.name)
