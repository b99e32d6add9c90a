"""The review's documents to download, `/reviews/<id>/report.pdf`, `.pptx` and `.docx`, for
whoever may see its report (`/reviews/<id>/report`): the MSP's people get all three; a
client's contact gets the PDF of their own client's reviews, nothing else. Each is made on
request from the review as it is now, in the installation's brand, sent as an attachment that
no cache keeps."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deploy.webapp import review_actions
from deploy.webapp.site import Site
from reports.deliverables.brand import brand_of
from reports.deliverables.formats import FORMATS, Format
from states.access.sessions import SignedIn
from states.errors import XbrError
from states.read.scorecards import report_data

STAFF_FORMATS = ("pdf", "pptx", "docx")
CONTACT_FORMATS = ("pdf",)  # the report; the deck and the draft are the MSP's working files


def router(site: Site) -> APIRouter:
    """GET /reviews/<id>/report.<pdf|pptx|docx>."""
    routes = APIRouter()

    @routes.get("/reviews/{review_id}/report.{extension}")
    def download(review_id: str, extension: str, request: Request) -> Response:
        person = site.person_or_signin(request)
        if not isinstance(person, SignedIn):
            return person
        found = review_actions.visible(site, request, person, review_id)
        if isinstance(found, Response):
            return found
        kind = _offered(site, request, person, extension)
        if isinstance(kind, Response):
            return kind
        data = report_data(site.uow(person).reading(), found[0], currency=site.settings.currency)
        try:
            brand = brand_of(site.settings)
        except XbrError as refused:  # the installation's logo: nothing the person can fix
            why, _, todo = str(refused).partition("; ")
            return site.page("app/refused.html.j2", person, 500,
                             heading="The document cannot be made", why=why,
                             todo=f"{todo}; tell whoever runs xbr")  # fmt: skip
        return Response(
            kind.write(data, brand),
            media_type=kind.media_type,
            headers={
                "Content-Disposition": attachment(kind.file_name(data["review"]["name"])),
                "Cache-Control": "no-store",
            },
        )

    return routes


def offered(person: SignedIn) -> list[Format]:
    """The documents `person` may download of a review they see."""
    return [FORMATS[name] for name in (STAFF_FORMATS if person.staff else CONTACT_FORMATS)]


def _offered(site: Site, request: Request, person: SignedIn, extension: str) -> Format | Response:
    """The format asked for if the person may have it; else the 404 page (no such document)
    or the 403 page (a client's contact asking for the MSP's working files)."""
    if extension not in STAFF_FORMATS:
        why = f"there is no .{extension[:10]} document of a review; there are .pdf, .pptx, .docx"
        return site.refuse(request, person, why, 404, "No such document")
    if extension not in (f.name for f in offered(person)):
        why = f"the .{extension} document is for your IT provider's people; download the PDF"
        return site.refuse(request, person, why, 403)
    return FORMATS[extension]


_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment(name: str) -> str:
    """A Content-Disposition header offering the file as `name`: an ASCII filename any browser
    takes, and the real name (RFC 5987) for those that read it."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem, _, extension = folded.rpartition(".")
    safe = _NOT_ASCII_SAFE.sub("-", stem).strip("-.")[:100] or "review"
    return f"attachment; filename=\"{safe}.{extension}\"; filename*=UTF-8''{quote(name, safe='')}"
