"""Signing in with OpenID Connect: POST /signin/oidc sends the browser to the provider,
GET /signin/oidc/callback brings it back signed in (deploy/webapp/oidc.py speaks the
protocol). In between, what the answer must match (state, nonce, PKCE verifier) and where the
person was going wait in a cookie sealed with the installation's key, sent to these two paths
only, for ten minutes. Both answer 404 unless XBR_OIDC_ISSUER and XBR_OIDC_CLIENT_ID are set."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import time
from dataclasses import astuple, dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from deploy.webapp.auth import FormRefused, check_origin
from deploy.webapp.forms import read_form, value
from deploy.webapp.oidc import STALE, OidcRefused, OpenIdClient, ProviderUnavailable
from deploy.webapp.signin import start_session
from deploy.webapp.site import Site, local_path
from notifications import links
from states.access.sessions import OPENID_CONNECT
from states.errors import NotFound

PATH = "/signin/oidc"
CALLBACK = PATH + "/callback"
COOKIE = "xbr_oidc"
MINUTES = 10
MAX_COOKIE_CHARS = 1500  # a real one has ~400: a pasted megabyte is refused before the MAC
HEADING = "Not signed in"
log = logging.getLogger("xbr.web")


@dataclass(frozen=True)
class Pending:
    """A sign-in sent to the provider, as its cookie keeps it."""

    state: str
    nonce: str
    verifier: str
    back: str  # where the person was going: a path of this site
    expires_at: int  # unix seconds


def seal_pending(key: bytes, pending: Pending) -> str:
    """The cookie's value: `<b64url JSON>.<MAC>`."""
    text = json.dumps(astuple(pending), separators=(",", ":"))
    payload = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{payload}.{links.seal(key, 'oidc', payload)}"


def open_pending(key: bytes, sealed: str, now: float) -> Pending | None:
    """What seal_pending() sealed with this key, unless damaged, forged or expired."""
    if not sealed or len(sealed) > MAX_COOKIE_CHARS or not sealed.isascii():
        return None
    payload, _, mac = sealed.rpartition(".")
    expected = links.seal(key, "oidc", payload)
    if not hmac.compare_digest(mac.encode("ascii"), expected.encode("ascii")):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        pending = Pending(*fields)
    except (binascii.Error, TypeError, ValueError):
        return None
    return pending if now < pending.expires_at else None


def router(site: Site) -> APIRouter:
    """POST /signin/oidc (to the provider) and GET /signin/oidc/callback (back, signed in)."""
    routes = APIRouter()
    redirect_uri = f"{site.settings.page_url}{CALLBACK}"
    settings = site.settings
    client = (
        OpenIdClient(
            settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret, redirect_uri
        )
        if site.oidc_enabled
        else None
    )

    @routes.post(PATH)
    async def begin(request: Request) -> Response:
        if client is None:
            raise HTTPException(status_code=404)
        if blocked := site.guard.too_many(request):
            return blocked
        form = await read_form(request) or {}
        return await run_in_threadpool(_begin, site, client, request, value(form, "next"))

    @routes.get(CALLBACK)
    def callback(request: Request) -> Response:
        if client is None:
            raise HTTPException(status_code=404)
        if blocked := site.guard.too_many(request):
            return blocked
        response = _complete(site, client, request)
        # used or refused, this sign-in is over: its checks leave the browser
        response.delete_cookie(
            COOKIE, path=PATH, secure=site.auth.secure, httponly=True, samesite="lax"
        )
        return response

    return routes


def _begin(site: Site, client: OpenIdClient, request: Request, back: str) -> Response:
    try:
        check_origin(request, site.settings.page_url)
        started = client.start()
    except FormRefused as exc:
        return site.refuse(request, None, str(exc), 400, HEADING)
    except ProviderUnavailable as exc:
        return _unavailable(site, exc)
    seconds = MINUTES * 60
    pending = Pending(
        started.state,
        started.nonce,
        started.verifier,
        local_path(back[:500] or "/"),
        int(time.time()) + seconds,
    )
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        COOKIE,
        seal_pending(site.auth.key, pending),
        max_age=seconds,
        path=PATH,
        secure=site.auth.secure,
        httponly=True,
        samesite="lax",
    )
    return response


def _complete(site: Site, client: OpenIdClient, request: Request) -> Response:
    """The provider's answer: the person signed in, or one line saying why not."""
    answer = request.query_params
    if error := answer.get("error"):
        return _provider_said_no(site, request, error)
    pending = open_pending(site.auth.key, request.cookies.get(COOKIE, ""), time.time())
    state = answer.get("state", "").encode("utf-8")
    if pending is None or not hmac.compare_digest(state, pending.state.encode("utf-8")):
        return site.refuse(request, None, STALE, 400, HEADING)
    code = answer.get("code", "")
    if not code:
        return site.refuse(request, None, "the provider sent no sign-in code; sign in again", 400)
    try:
        email = client.finish(code, pending.nonce, pending.verifier)
    except ProviderUnavailable as exc:
        return _unavailable(site, exc)
    except OidcRefused as exc:
        return site.refuse(request, None, str(exc), 403, HEADING)
    try:
        return start_session(site, email, OPENID_CONNECT, pending.back)
    except NotFound:  # open_session looked the person up before it made anything
        why = f"{email} is not a person in xbr; ask your xbr admin to add you"
        return site.refuse(request, None, why, 403, HEADING)


def _provider_said_no(site: Site, request: Request, error: str) -> HTMLResponse:
    """The provider sent the browser back with an error instead of a code."""
    name = error if re.fullmatch(r"[a-z_]{1,40}", error) else "an unknown error"
    if name == "access_denied":
        why = f"the sign-in with {site.settings.oidc_name} was cancelled or refused; sign in again"
        return site.refuse(request, None, why, 403, HEADING)
    why = (
        f"the OpenID provider refused the sign-in ({name}); "
        "ask your xbr admin to check xbr's registration with the provider"
    )
    return site.refuse(request, None, why, 400, HEADING)


def _unavailable(site: Site, error: ProviderUnavailable) -> HTMLResponse:
    """502: the provider is not there; said to the operator too, and not counted against the
    person's address."""
    log.warning("OpenID Connect sign-in unavailable: %s", error)
    why, _, todo = str(error).partition("; ")
    heading = "Sign-in is not available"
    return site.page("app/refused.html.j2", None, 502, heading=heading, why=why, todo=todo)
