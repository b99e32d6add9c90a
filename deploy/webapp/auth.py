"""The session cookie and the app's forms: who a request is from, and whether a form it posts
is the app's own page's.

The cookie is `<session id>.<secret>.<MAC>`, sealed with the installation's key: a cookie made
with another key, or changed by a byte, is refused before the database is asked. It is
HttpOnly, SameSite=Lax, Secure when the app is reached over HTTPS, and lasts as long as its
session; the database ends a session early (sign-out, `xbr session revoke`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from notifications import links
from states.access.sessions import SignedIn, signed_in
from states.errors import XbrError
from states.store.db import UnitOfWork
from states.store.models import utcnow

COOKIE = "xbr_session"
MAX_SEALED_CHARS = 200  # a real one has ~100: a pasted megabyte is refused before the MAC


class FormRefused(XbrError):
    """A form the app did not serve, or one sent from another site."""


@dataclass(frozen=True)
class Auth:
    """Sessions on one database, sealed with one key, for the app at `public_url`."""

    key: bytes
    uow: Callable[[], UnitOfWork]
    public_url: str
    hours: int

    @property
    def secure(self) -> bool:
        return urlsplit(self.public_url).scheme == "https"

    def person(self, request: Request) -> SignedIn | None:
        """The signed-in person of this request, or None for a stranger (no cookie, a damaged
        or forged one, or a session that ended)."""
        parsed = unpack(self.key, "session", request.cookies.get(COOKIE, ""))
        if parsed is None:
            return None
        return signed_in(self.uow().reading(), parsed[0], parsed[1], utcnow())

    def set_cookie(self, response: Response, session_id: int, secret: str) -> None:
        """Give the browser its session."""
        response.set_cookie(
            COOKIE,
            pack(self.key, "session", session_id, secret),
            max_age=self.hours * 3600,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax")

    def csrf(self, person: SignedIn) -> str:
        """The hidden field of every form the app serves this session."""
        return links.seal(self.key, "app-form", str(person.session_id))

    def check_form(self, request: Request, person: SignedIn, form: dict[str, list[str]]) -> None:
        """FormRefused unless the form carries this session's field and came from this site."""
        sent = (form.get("csrf") or [""])[0].encode("utf-8")
        if not hmac.compare_digest(sent, self.csrf(person).encode("ascii")):
            raise FormRefused("the form did not come from this page; open the page again")
        check_origin(request, self.public_url)


def check_origin(request: Request, public_url: str) -> None:
    """FormRefused when the browser says the request comes from another site."""
    own = {
        origin_of(public_url),
        f"{request.url.scheme}://{request.headers.get('host')}",
    }
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or origin not in {None, *own}:
        raise FormRefused("the request came from another site; open xbr and use its page")


def origin_of(url: str) -> str:
    """scheme://host[:port] of an address: what a browser sends as a request's Origin."""
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


def pack(key: bytes, purpose: str, number: int, secret: str) -> str:
    """`<number>.<secret>.<MAC>`: a session cookie or a sign-in link's token."""
    value = f"{number}.{secret}"
    return f"{value}.{links.seal(key, purpose, value)}"


def unpack(key: bytes, purpose: str, sealed: str) -> tuple[int, str] | None:
    """(number, secret) of what pack() made with this key for this purpose, else None."""
    if not sealed or len(sealed) > MAX_SEALED_CHARS or not sealed.isascii():
        return None
    value, _, mac = sealed.rpartition(".")
    number, _, secret = value.partition(".")
    if not number.isdigit() or len(number) > 18 or not secret:
        return None
    expected = links.seal(key, purpose, value)
    if not hmac.compare_digest(mac.encode("ascii"), expected.encode("ascii")):
        return None
    return int(number), secret
