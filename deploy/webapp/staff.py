"""What the staff's own pages share (start a review, clients, people): who may open them, a
posted form checked and handled, errors in a page's words, the installation's templates and
standards read as the command line reads them, and a started review's flow run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from bootstrap import prefect_env
from deploy import new_run
from deploy.webapp.forms import Form, read_form, value
from deploy.webapp.site import Site
from states.access.sessions import SignedIn
from states.errors import WEB_PAGE, XbrError
from states.settings import Settings
from states.standards.catalog import load_standards
from states.standards.schema import Standard
from states.templates.catalog import load_catalog
from states.templates.schema import Template

NOT_STAFF = "this page is for the MSP's own people; ask your account manager"
# the command line's words in the services' messages, as the pages' fields name them
FIELD_WORDS = {
    "give it as the first argument": "fill in its name",
    "give --country too": "give its country too",
    "--notify": "notify choice",
}


@dataclass(frozen=True)
class Door:
    """Who may use a page, and what anyone else is told."""

    may: Callable[[SignedIn], bool]
    why: str


def allowed(site: Site, request: Request, door: Door) -> SignedIn | Response:
    """The signed-in person if the door lets them in; else the way to sign in, or the 403
    page saying why."""
    person = site.person_or_signin(request)
    if not isinstance(person, SignedIn):
        return person
    if not door.may(person):
        return site.refuse(request, person, door.why)
    return person


async def submit(
    site: Site,
    request: Request,
    door: Door,
    heading: str,
    handle: Callable[[SignedIn, Form], Response],
) -> Response:
    """A form posted to a page: the person let in, the form this session's, then `handle`;
    a service's refusal (XbrError) is the 400 page under `heading`. Only reading the form
    happens on the event loop: the rest reads the database, in a worker thread."""
    if blocked := site.guard.too_many(request):
        return blocked
    sent = await read_form(request)

    def handled() -> Response:
        person = allowed(site, request, door)
        if not isinstance(person, SignedIn):
            return person
        form = site.checked(request, person, sent)
        if isinstance(form, str):
            return site.refuse(request, person, form, 403, heading)
        try:
            return handle(person, form)
        except XbrError as exc:
            return site.refuse(request, person, said(exc), 400, heading)

    return await run_in_threadpool(handled)


def said(exc: XbrError) -> str:
    """A service's message in the words of a page's fields."""
    text = exc.worded(WEB_PAGE)
    for cli, page in FIELD_WORDS.items():
        text = text.replace(cli, page)
    return text


def chosen(form: Form, name: str) -> list[str]:
    """Every value of a multiple-choice field (checkboxes), stripped, without blanks."""
    return [v.strip() for v in form.get(name, []) if v.strip()]


def optional(form: Form, name: str) -> str | None:
    """A field's value, None when it is left empty."""
    return value(form, name) or None


def catalog(settings: Settings) -> dict[str, Template]:
    """The shipped templates and the MSP's own, read afresh (a new file counts at once)."""
    return load_catalog([settings.template_dir])


def standards(settings: Settings) -> dict[str, Standard]:
    """The shipped standards and the MSP's own."""
    return load_standards([settings.standard_dir])


def prefect_answers(settings: Settings) -> bool:
    """Whether xbr's Prefect API answers (this process is then pointed at it)."""
    try:
        prefect_env.use_prefect(settings)
    except XbrError:
        return False
    return True


def attach_run(site: Site, person: SignedIn, review_id: int) -> str:
    """Give a started review its flow run; why not, in one line ("" when it has it)."""
    try:
        return new_run.attach(lambda: site.uow(person), review_id)[1]
    except Exception as exc:  # the review is committed: a Prefect hiccup must not hide that
        return type(exc).__name__


@cache
def zones() -> list[str]:
    """Every IANA time zone name, for the pages' searchable zone fields."""
    return sorted(available_timezones())
