"""Reading a posted form, bounded: what every page of the app and the approval page accept."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

# Bounded, as a form is read into memory, yet room for the largest: nist-csf-2's 106 items,
# each with a note of 2,000 characters of plain text, beside the checklist and a decision.
MAX_FORM_BYTES = 256 * 1024
# Each item sends two fields (its answer and its note): the three shipped standards together
# (176 items) fit.
MAX_FORM_FIELDS = 500
FORM_TYPE = "application/x-www-form-urlencoded"
Form = dict[str, list[str]]


async def read_form(request: Request) -> Form | None:
    """The urlencoded form, {} for any other body, None when it is too large to read or has
    more fields than any form of ours."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    # Only what our own form sends; anything else arrives without the csrf field and is refused.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return {}
    text = body.decode("utf-8", "replace")
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than any form of ours has
        return None


def value(form: Form, name: str) -> str:
    """The first value of a field, stripped; "" when it is missing."""
    # browsers send a textarea's line breaks as CRLF; comments keep plain ones
    return (form.get(name) or [""])[0].replace("\r\n", "\n").strip()
