"""The home page, `/`: the sign-in form for a stranger, My work for a signed-in person."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deploy.webapp.site import Site, local_path


def router(site: Site) -> APIRouter:
    """GET /."""
    routes = APIRouter()

    @routes.get("/")
    def home(request: Request, next: str = "") -> Response:  # noqa: A002 (the query's name)
        person = site.auth.person(request)
        if person is None:
            return site.page("app/signin.html.j2", None, next=local_path(next[:500] or "/"))
        return site.page("app/home.html.j2", person, here="home")

    return routes
