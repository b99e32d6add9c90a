"""A browser signed in to the web app, as an emailed link or OpenID Connect signs people in:
a session in the database and its sealed cookie."""

from __future__ import annotations

import httpx

from deploy.webapp.auth import COOKIE, pack
from states.access.sessions import EMAIL_LINK, open_session
from states.store.models import utcnow
from tests.conftest import UowFactory


def signed_in(uow: UowFactory, key: bytes, url: str, email: str | None) -> httpx.Client:
    """An HTTP client for the app at `url` with `email`'s session (a stranger's for None)."""
    client = httpx.Client(base_url=url, timeout=30)
    if email:
        session_id, secret = open_session(uow(), email, EMAIL_LINK, utcnow(), 12)
        client.cookies.set(COOKIE, pack(key, "session", session_id, secret))
    return client
