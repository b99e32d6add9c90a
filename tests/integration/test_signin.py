"""Signing in to the web app over real HTTP: a link emailed through a real SMTP server, the
session cookie it gives, and every way a sign-in must be refused (expired, replayed, forged,
another key's cookie, a revoked or ended session) with nothing changed."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from deploy.cli import run
from deploy.mailbox import Mailbox
from deploy.webapp.auth import COOKIE, pack
from notifications import links
from states.access.sessions import EMAIL_LINK, open_session
from states.access.signins import PER_PERSON
from states.store.models import SigninRequest, WebSession, utcnow
from tests.conftest import UowFactory
from tests.integration.conftest import serving

ANDY, CARL = "andy@msp.example", "carl@client.example"
OTHER_KEY = b"k" * 16 + b"another-installation"


@dataclass
class App:
    """The web app on a staffed database, its emails going to a real SMTP server."""

    http: httpx.Client
    uow: UowFactory
    engine: Engine
    key: bytes
    mailbox: Mailbox

    def ask(self, email: str) -> httpx.Response:
        return self.http.post("/signin", data={"email": email})

    def emailed_link(self, email: str, count: int = 1) -> str:
        """The path of the newest sign-in link in `email`'s inbox, once `count` came."""
        self.mailbox.wait_for(lambda _: len(self.inbox(email)) >= count, timeout=10)
        text = self.inbox(email)[-1].get_body(preferencelist=("plain",)).get_content()
        return urlsplit(re.search(r"(http://\S+/signin/\S+)", text)[1]).path  # type: ignore[index]

    def inbox(self, email: str) -> list[object]:
        return [m for m in self.mailbox.messages if m["To"] == email]

    def sessions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(WebSession)) or 0)

    def fresh(self) -> httpx.Client:
        """A second browser: no cookies."""
        return httpx.Client(base_url=str(self.http.base_url), timeout=30)


@pytest.fixture
def app(engine: Engine, uow: UowFactory, tmp_path: Path) -> Iterator[App]:
    url = engine.url.render_as_string(hide_password=False)
    with Mailbox() as box, serving(tmp_path / "home", url, uow, smtp_url=box.url) as (s, client):
        yield App(client, uow, engine, links.load_key(s.home, None), box)


def _words(response: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_a_person_signs_in_with_the_emailed_link(app: App) -> None:
    asked = app.ask("  Andy@MSP.example ")
    assert asked.status_code == 200
    assert "a sign-in link is on its way" in _words(asked)
    path = app.emailed_link(ANDY)
    (mail,) = app.inbox(ANDY)
    assert mail["Subject"] == "Your sign-in link for xbr"  # type: ignore[index]

    opened = app.http.get(path)  # a mail scanner fetching the link uses nothing up
    assert opened.status_code == 200
    assert "Sign in" in opened.text
    assert app.sessions() == 0

    signed = app.http.post(path)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert "Path=/" in cookie
    assert "Max-Age=43200" in cookie
    home = app.http.get("/")
    assert "My work" in home.text
    assert "Andy Account" in home.text
    with app.uow() as work:
        (session,) = work.session.scalars(select(WebSession)).all()
        assert session.via == EMAIL_LINK


def test_an_unknown_address_gets_the_same_page_and_no_email(app: App) -> None:
    asked = app.ask("nobody@msp.example")
    assert asked.status_code == 200
    assert "If nobody@msp.example belongs to someone in xbr" in _words(asked)
    app.ask(ANDY)
    app.emailed_link(ANDY)  # the known one arrives: the unknown one would have come first
    assert [m["To"] for m in app.mailbox.messages] == [ANDY]  # type: ignore[index]
    with app.uow() as work:
        assert work.session.scalar(select(func.count()).select_from(SigninRequest)) == 1


def test_a_bad_address_is_refused_in_one_line(app: App) -> None:
    refused = app.ask("not an address <script>")
    assert refused.status_code == 400
    assert "is not an email address" in _words(refused)
    assert "<script>" not in refused.text
    assert app.mailbox.messages == []


def test_a_used_link_cannot_sign_in_again(app: App) -> None:
    app.ask(ANDY)
    path = app.emailed_link(ANDY)
    assert app.http.post(path).status_code == 303
    with app.fresh() as other:
        again = other.post(path)
        assert again.status_code == 403
        assert "was used already" in _words(again)
        assert COOKIE not in again.headers.get("set-cookie", "")
    assert app.sessions() == 1


def test_an_expired_link_is_refused(app: App) -> None:
    app.ask(ANDY)
    path = app.emailed_link(ANDY)
    with app.uow() as work:
        work.session.execute(update(SigninRequest).values(expires_at=utcnow() - timedelta(1)))
        work.commit()
    refused = app.http.post(path)
    assert refused.status_code == 403
    assert "expired" in _words(refused)
    assert "ask for a new sign-in link" in _words(refused).lower()
    assert app.sessions() == 0


def test_forged_links_are_refused(app: App) -> None:
    app.ask(ANDY)
    path = app.emailed_link(ANDY)
    number, secret, _ = path.removeprefix("/signin/").split(".")
    forged = [
        pack(OTHER_KEY, "signin", int(number), secret),  # another installation's key
        pack(app.key, "signin", int(number), secret[:-2] + "AA"),  # a guessed secret
        pack(app.key, "session", int(number), secret),  # a seal of another purpose
        f"{number}.{secret}.",
        "x" * 5000,
    ]
    for token in forged:
        refused = app.http.post(f"/signin/{token}")
        assert refused.status_code == 403, token
        assert "damaged" in _words(refused)
    assert app.http.get(f"/signin/{forged[0]}").status_code == 403
    assert app.sessions() == 0
    assert app.http.post(path).status_code == 303  # the real one still works


def test_a_link_posted_from_another_site_is_not_used(app: App) -> None:
    app.ask(ANDY)
    path = app.emailed_link(ANDY)
    refused = app.http.post(path, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "another site" in _words(refused)
    assert app.http.post(path).status_code == 303


def test_links_asked_for_too_often_are_not_sent(app: App) -> None:
    for _ in range(PER_PERSON + 2):
        assert app.ask(ANDY).status_code == 200
    app.emailed_link(ANDY, PER_PERSON)
    with app.uow() as work:
        assert work.session.scalar(select(func.count()).select_from(SigninRequest)) == PER_PERSON


def _cookie(app: App, email: str) -> tuple[int, str]:
    return open_session(app.uow(), email, EMAIL_LINK, utcnow(), 12)


def test_a_cookie_sealed_with_another_key_is_a_stranger(app: App) -> None:
    session_id, secret = _cookie(app, ANDY)
    with app.fresh() as browser:
        browser.cookies.set(COOKIE, pack(OTHER_KEY, "session", session_id, secret))
        assert "Email me a sign-in link" in browser.get("/").text
        browser.cookies.set(COOKIE, pack(app.key, "session", session_id, secret))
        assert "Andy Account" in browser.get("/").text


def test_a_revoked_session_signs_out_at_once(
    app: App,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session_id, secret = _cookie(app, ANDY)
    _cookie(app, CARL)
    with app.fresh() as browser:
        browser.cookies.set(COOKIE, pack(app.key, "session", session_id, secret))
        assert "Andy Account" in browser.get("/").text
        monkeypatch.setenv("XBR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        monkeypatch.setenv("XBR_HOME", str(tmp_path / "cli-home"))
        assert run(["session", "revoke", ANDY]) == 0
        assert f"1 session of {ANDY} ended" in capsys.readouterr().out
        assert "Email me a sign-in link" in browser.get("/").text
        assert browser.get("/portfolio").status_code in (303, 404)
    assert run(["session", "revoke", "nobody@msp.example"]) == 2
    with app.uow() as work:
        ended = {s.person_id: s.ended_by for s in work.session.scalars(select(WebSession))}
    assert sorted(map(bool, ended.values())) == [False, True]  # Carl's stays open


def test_an_expired_session_is_a_stranger(app: App) -> None:
    session_id, secret = _cookie(app, ANDY)
    with app.uow() as work:
        work.session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(1)))
        work.commit()
    with app.fresh() as browser:
        browser.cookies.set(COOKIE, pack(app.key, "session", session_id, secret))
        assert "Email me a sign-in link" in browser.get("/").text


def test_sign_out_ends_the_session(app: App) -> None:
    session_id, secret = _cookie(app, ANDY)
    with app.fresh() as browser:
        browser.cookies.set(COOKIE, pack(app.key, "session", session_id, secret))
        home = browser.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)[1]  # type: ignore[index]
        assert browser.post("/signout", data={"csrf": "forged"}).status_code == 400
        out = browser.post("/signout", data={"csrf": csrf})
        assert out.status_code == 303
        browser.cookies.set(COOKIE, pack(app.key, "session", session_id, secret))
        assert "Email me a sign-in link" in browser.get("/").text  # the old cookie is dead
    with app.uow() as work:
        assert work.session.scalar(select(WebSession.ended_by)) == "signed out"
