"""What every page of the web app shares: settings, the database, the session, the templates,
and the answers for a stranger (the sign-in page) and for a refused request (one line, 4xx)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from deploy.webapp.auth import Auth, FormRefused
from deploy.webapp.forms import Form, read_form
from states.access.sessions import SignedIn
from states.settings import Settings
from states.store.db import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


class Guard(Protocol):
    """The app's limit on refused requests per address (deploy/web_limits.py)."""

    def too_many(self, request: Request) -> HTMLResponse | None: ...

    def refused(self, request: Request) -> None: ...


@dataclass(frozen=True)
class Site:
    """The web app's shared parts, made once by deploy.web.create_app."""

    settings: Settings
    plain_uow: UowFactory
    auth: Auth
    pages: Environment
    guard: Guard

    def uow(self, person: SignedIn) -> UnitOfWork:
        """A unit of work whose audit rows say the web app, how its person signed in, and
        (where no step names one) that person as the actor."""
        work = self.plain_uow()
        work.via, work.actor = f"web app, signed in by {person.via}", person.email
        return work

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.settings.oidc_issuer and self.settings.oidc_client_id)

    def page(
        self, name: str, person: SignedIn | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page of the app, with its person, the form field and the navigation."""
        shared = {
            "me": person,
            "csrf": self.auth.csrf(person) if person else "",
            "oidc": self.oidc_enabled,
            "oidc_name": self.settings.oidc_name,
            "here": "",
        }
        html = self.pages.get_template(name).render(shared | context)
        return HTMLResponse(html, status_code=status)

    def refuse(
        self,
        request: Request,
        person: SignedIn | None,
        why: str,
        status: int = 403,
        heading: str = "Not allowed",
        todo: str = "",
    ) -> HTMLResponse:
        """The one-line refusal page, counted against the address; nothing was changed."""
        self.guard.refused(request)
        why, _, advice = why.partition("; ")
        return self.page(
            "app/refused.html.j2", person, status, heading=heading, why=why, todo=todo or advice
        )

    def person_or_signin(self, request: Request) -> SignedIn | Response:
        """The signed-in person, else the way to the sign-in page (and back here after)."""
        person = self.auth.person(request)
        if person is not None:
            return person
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/?next={quote(back, safe='')}", status_code=303)

    async def posted(self, request: Request, person: SignedIn) -> Form | str:
        """The app's own form from this session, or why it is refused."""
        return self.checked(request, person, await read_form(request))

    def checked(self, request: Request, person: SignedIn, form: Form | None) -> Form | str:
        """The form read from the request (None: too large) if it is the app's own from this
        session, or why it is refused."""
        if form is None:
            return "the form is too large; shorten what you typed and send it again"
        try:
            self.auth.check_form(request, person, form)
        except FormRefused as exc:
            return str(exc)
        return form


def local_path(target: str) -> str:
    """`target` if it is a path of this site ("/reviews/5"), else "/": never a way elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
