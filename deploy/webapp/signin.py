"""Signing in and out: a link emailed to the person (opened, then confirmed with a button, so
that a mail scanner that fetches links uses none up), and sign-out. OpenID Connect is in
deploy/webapp/oidc_routes.py."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from deploy.webapp.auth import FormRefused, check_origin, pack, unpack
from deploy.webapp.forms import read_form, value
from deploy.webapp.site import Site, local_path
from notifications.signin_mail import send_signin_link
from states.access.sessions import EMAIL_LINK, end_session, open_session
from states.access.signins import ASK_AGAIN, LINK_MINUTES, SigninRefused, request_signin, use_signin
from states.directory import parse_email
from states.errors import XbrError
from states.store.models import utcnow

PATH = "/signin/"
DAMAGED = f"this sign-in link is damaged or not this xbr's; {ASK_AGAIN}"
log = logging.getLogger("xbr.web")


def signin_url(site: Site, request_id: int, secret: str) -> str:
    """The emailed link's address."""
    return f"{site.settings.page_url}{PATH}{pack(site.auth.key, 'signin', request_id, secret)}"


def ask(site: Site, request: Request, form: dict[str, list[str]]) -> HTMLResponse:
    """POST /signin: email a link to the address if it is a person's; the page says the same
    whether it is or not."""
    try:
        check_origin(request, site.settings.page_url)
        email = parse_email(value(form, "email")[:400])
    except XbrError as exc:
        return site.refuse(request, None, str(exc), 400, "No sign-in link sent")
    link = request_signin(site.plain_uow(), email, utcnow())
    problem = ""
    if link is not None:
        url = signin_url(site, link.request_id, link.secret)
        problem = send_signin_link(site.settings, link.email, link.name, url, LINK_MINUTES)
        if problem:  # said to the operator; the page tells no stranger who is in xbr
            log.warning("sign-in link for %s not sent: %s", link.email, problem)
    return site.page("app/signin_sent.html.j2", None, email=email, minutes=LINK_MINUTES)


def router(site: Site) -> APIRouter:
    """/signin (ask for a link), /signin/<token> (open it, then sign in), /signout."""
    routes = APIRouter()

    @routes.post("/signin")
    async def asked(request: Request) -> Response:
        if blocked := site.guard.too_many(request):
            return blocked
        form = await read_form(request) or {}
        return await run_in_threadpool(ask, site, request, form)

    @routes.get(PATH + "{token:path}")
    def opened(token: str, request: Request) -> Response:
        if blocked := site.guard.too_many(request):
            return blocked
        if unpack(site.auth.key, "signin", token) is None:
            return site.refuse(request, None, DAMAGED, heading="This sign-in link cannot be used")
        return site.page("app/signin_confirm.html.j2", None, token=token)

    @routes.post(PATH + "{token:path}")
    async def confirmed(token: str, request: Request) -> Response:
        if blocked := site.guard.too_many(request):
            return blocked
        form = await read_form(request) or {}
        return await run_in_threadpool(_sign_in, site, request, token, value(form, "next"))

    @routes.post("/signout")
    async def signout(request: Request) -> Response:
        person = site.auth.person(request)
        if person is None:
            return RedirectResponse("/", status_code=303)
        refused = await site.posted(request, person)
        if isinstance(refused, str):
            return site.refuse(request, person, refused, 400, "Not signed out")
        end_session(site.plain_uow(), person.session_id, "signed out", utcnow())
        response = RedirectResponse("/", status_code=303)
        site.auth.clear_cookie(response)
        return response

    return routes


def _sign_in(site: Site, request: Request, token: str, back: str) -> Response:
    heading = "This sign-in link cannot be used"
    unpacked = unpack(site.auth.key, "signin", token)
    if unpacked is None:
        return site.refuse(request, None, DAMAGED, heading=heading)
    try:
        check_origin(request, site.settings.page_url)
        email = use_signin(site.plain_uow(), *unpacked, now=utcnow())
    except (SigninRefused, FormRefused) as exc:
        return site.refuse(request, None, str(exc), heading=heading)
    return start_session(site, email, EMAIL_LINK, back)


def start_session(site: Site, email: str, via: str, back: str) -> Response:
    """Sign the person in: a new session, its cookie, and on to where they were going."""
    hours = site.settings.session_hours
    session_id, secret = open_session(site.plain_uow(), email, via, utcnow(), hours)
    response = RedirectResponse(local_path(back or "/"), status_code=303)
    site.auth.set_cookie(response, session_id, secret)
    return response
