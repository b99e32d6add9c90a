"""Signing in with OpenID Connect over real HTTP: the web app in a thread, a real local OpenID
provider (oidc-provider-mock: discovery, authorize page, token endpoint, JWKS, RS256 ID
tokens) in another, and a browser driven by httpx. A known person gets a session; an unknown
or unverified one, a forged, stale or replayed answer, a token for another client, with
another nonce or another key is refused with no session made."""

from __future__ import annotations

import html
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import Engine, select

from deploy.stack import free_port
from deploy.web import start_in_thread
from deploy.webapp.auth import COOKIE
from deploy.webapp.oidc import (
    STALE,
    OidcRefused,
    OpenIdClient,
    ProviderUnavailable,
    discover,
    id_token_claims,
)
from deploy.webapp.oidc_routes import CALLBACK
from deploy.webapp.oidc_routes import COOKIE as OIDC_COOKIE
from states.access.sessions import OPENID_CONNECT
from states.settings import Settings
from states.store.models import WebSession
from tests.conftest import UowFactory

# The mock's token endpoint calls an OpenIDCode hook Authlib 1.9 deprecates; the warning is
# raised in the mock's thread, where pytest's "error" would answer xbr's exchange with a 500.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)

with warnings.catch_warnings():
    # the mock imports authlib.jose, which Authlib 1.9 deprecates for joserfc (xbr uses joserfc)
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock

USERS: dict[str, dict[str, Any]] = {
    "andy-google": {"email": "Andy@MSP.example", "email_verified": True, "name": "Andy"},
    "olga-entra": {"preferred_username": "Olga@msp.example", "name": "Olga"},  # no email claim
    "nobody": {"email": "nobody@msp.example", "email_verified": True},
    "sam-unverified": {"email": "sam@msp.example", "email_verified": False},
}


@dataclass
class Provider:
    """The OpenID provider at `issuer`, with clients registered on it."""

    issuer: str

    def register(self, redirect_uri: str) -> tuple[str, str]:
        """A new client (id, secret) that authenticates with client_secret_post."""
        body = {"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_post"}
        answer = httpx.post(f"{self.issuer}/oauth2/clients", json=body, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()["client_id"], answer.json()["client_secret"]

    def authorize(self, url: str, sub: str | None, deny: bool = False) -> str:
        """The person `sub` signs in at the provider's page; where it sends the browser back."""
        with httpx.Client(timeout=10) as browser:
            page = browser.get(url)
            assert page.status_code == 200, page.text
            assert "Authorize" in page.text
            form = {"action": "deny"} if deny else {"sub": sub}
            back = browser.post(url, data=form)
        assert back.status_code == 302, back.text
        return back.headers["location"]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    users = [oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    with oidc_provider_mock.run_server_in_thread(
        require_client_registration=True, require_nonce=True, user_claims=users
    ) as server:
        yield Provider(f"http://localhost:{server.server_port}")


@dataclass
class App:
    """The web app, signing in with the provider; `http` is one browser."""

    http: httpx.Client
    engine: Engine
    provider: Provider

    def sign_in(self, sub: str, back: str = "/") -> httpx.Response:
        """The whole sign-in in this browser: the button, the provider's page, the way back."""
        return self.http.get(self.to_provider_and_back(sub, back))

    def to_provider_and_back(self, sub: str, back: str = "/", deny: bool = False) -> str:
        started = self.http.post("/signin/oidc", data={"next": back})
        assert started.status_code == 303, started.text
        return self.provider.authorize(started.headers["location"], sub, deny)

    def sessions(self) -> list[str]:
        """How each session in the database was signed in."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(WebSession.via)))

    def fresh(self) -> httpx.Client:
        """Another browser: no cookies."""
        return httpx.Client(base_url=str(self.http.base_url), timeout=30)


@contextmanager
def running(
    home: Path, engine: Engine, uow: UowFactory, port: int | None = None, **oidc: Any
) -> Iterator[httpx.Client]:
    """The web app on `port` (else a free one) with these XBR_OIDC_* settings, stopped
    afterwards."""
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        home=home, database_url=url, secret_key="", public_url="",
        web_host="127.0.0.1", web_port=port or free_port(), **oidc,
    )  # fmt: skip
    server, thread = start_in_thread(settings, uow)
    try:
        with httpx.Client(base_url=settings.page_url, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def app(provider: Provider, engine: Engine, uow: UowFactory, tmp_path: Path) -> Iterator[App]:
    port = free_port()
    client_id, secret = provider.register(f"http://127.0.0.1:{port}{CALLBACK}")
    settings: dict[str, Any] = {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": client_id,
        "oidc_client_secret": secret,
        "oidc_name": "Contoso",
    }
    with running(tmp_path / "home", engine, uow, port, **settings) as http:
        yield App(http, engine, provider)


def _words(response: httpx.Response) -> str:
    """The page's text, lower-cased (its template capitalizes each line's first letter)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split()).lower()


def test_a_known_person_signs_in_with_their_provider(app: App) -> None:
    page = app.http.get("/")
    assert "Sign in with Contoso" in page.text
    # a browser follows the sign-in form's redirect only to where form-action allows
    provider = "{0.scheme}://{0.netloc}".format(urlsplit(app.provider.issuer))
    assert f"form-action 'self' {provider};" in page.headers["content-security-policy"]
    started = app.http.post("/signin/oidc", data={"next": "/reviews/5"})
    assert started.status_code == 303
    asked = parse_qs(urlsplit(started.headers["location"]).query)
    assert asked["scope"] == ["openid email profile"]
    assert asked["response_type"] == ["code"]
    assert asked["code_challenge_method"] == ["S256"]
    assert len(asked["code_challenge"][0]) == 43
    assert asked["redirect_uri"] == [str(app.http.base_url).rstrip("/") + CALLBACK]
    assert asked["state"][0]
    assert asked["nonce"][0]
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{OIDC_COOKIE}=")
    assert "Path=/signin/oidc" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=600" in cookie

    back = app.http.get(app.provider.authorize(started.headers["location"], "andy-google"))
    assert back.status_code == 303
    assert back.headers["location"] == "/reviews/5"
    assert back.cookies.get(COOKIE)
    assert OIDC_COOKIE not in app.http.cookies  # the sign-in's checks are gone from the browser
    home = app.http.get("/")
    assert "My work" in home.text
    assert "Andy Account" in home.text
    assert app.sessions() == [OPENID_CONNECT]


def test_an_entra_account_without_an_email_claim_signs_in_by_its_username(app: App) -> None:
    assert app.sign_in("olga-entra").status_code == 303
    assert "Olga Ops" in app.http.get("/").text


def test_an_unknown_person_is_refused_and_gets_no_session(app: App) -> None:
    refused = app.sign_in("nobody")
    assert refused.status_code == 403
    assert "nobody@msp.example is not a person in xbr" in _words(refused)
    assert "ask your xbr admin to add you" in _words(refused)
    assert COOKIE not in refused.cookies
    assert app.sessions() == []


def test_an_email_the_provider_has_not_verified_is_refused(app: App) -> None:
    refused = app.sign_in("sam-unverified")
    assert refused.status_code == 403
    assert "sam@msp.example is not verified by the openid provider" in _words(refused)
    assert app.sessions() == []


def test_an_answer_without_its_cookie_or_for_another_sign_in_is_refused(app: App) -> None:
    callback = app.to_provider_and_back("andy-google")
    with app.fresh() as other_browser:
        refused = other_browser.get(callback)
    assert refused.status_code == 400
    assert STALE.split(";")[0] in _words(refused)

    forged = re.sub(r"state=[^&]+", "state=someone-elses", callback)
    refused = app.http.get(forged)
    assert refused.status_code == 400
    assert STALE.split(";")[0] in _words(refused)
    assert OIDC_COOKIE not in app.http.cookies  # refused, this sign-in is over

    damaged = app.to_provider_and_back("andy-google")
    app.http.cookies.set(OIDC_COOKIE, "x" + str(app.http.cookies.get(OIDC_COOKIE)))
    assert app.http.get(damaged).status_code == 400
    assert app.sessions() == []


def test_a_replayed_answer_is_refused(app: App) -> None:
    started = app.http.post("/signin/oidc", data={"next": "/"})
    kept = str(app.http.cookies.get(OIDC_COOKIE))
    callback = app.provider.authorize(started.headers["location"], "andy-google")
    assert app.http.get(callback).status_code == 303

    assert app.http.get(callback).status_code == 400  # its cookie is gone
    with app.fresh() as thief:  # with the cookie too: the provider takes a code once
        thief.cookies.set(OIDC_COOKIE, kept, domain="127.0.0.1", path="/signin/oidc")
        refused = thief.get(callback)
    assert refused.status_code == 403
    assert "the openid provider did not accept the sign-in (invalid_grant)" in _words(refused)
    assert len(app.sessions()) == 1


def test_the_provider_saying_no_is_refused(app: App) -> None:
    refused = app.http.get(app.to_provider_and_back("", deny=True))
    assert refused.status_code == 403
    assert "the sign-in with contoso was cancelled or refused" in _words(refused)
    odd = app.http.get(f"{CALLBACK}?error=<b>server_error</b>&state=x")
    assert odd.status_code == 400
    assert "<b>" not in odd.text
    assert "refused the sign-in (an unknown error)" in _words(odd)
    assert app.sessions() == []


def test_a_sign_in_started_from_another_site_is_refused(app: App) -> None:
    refused = app.http.post(
        "/signin/oidc", data={"next": "/"}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 400
    assert "set-cookie" not in refused.headers


def test_the_sign_in_goes_nowhere_but_this_site(app: App) -> None:
    for elsewhere in ("https://evil.example/", "//evil.example/x"):
        with app.fresh() as browser:
            started = browser.post("/signin/oidc", data={"next": elsewhere})
            callback = app.provider.authorize(started.headers["location"], "andy-google")
            assert browser.get(callback).headers["location"] == "/"


def test_oidc_off_answers_404(engine: Engine, uow: UowFactory, tmp_path: Path) -> None:
    with running(tmp_path / "home", engine, uow) as http:
        assert "Sign in with" not in http.get("/").text
        assert http.post("/signin/oidc", data={"next": "/"}).status_code == 404
        assert http.get(f"{CALLBACK}?code=x&state=y").status_code == 404


def test_an_issuer_that_is_no_provider_is_one_line_naming_the_setting(
    engine: Engine, uow: UowFactory, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderUnavailable, match="XBR_OIDC_ISSUER .* set it to your provider"):
        discover(closed)
    with running(tmp_path / "home", engine, uow, oidc_issuer=closed, oidc_client_id="xbr") as http:
        page = http.post("/signin/oidc", data={"next": "/"})
        assert page.status_code == 502
        assert "set-cookie" not in page.headers
        assert f"xbr_oidc_issuer {closed} is no openid provider" in _words(page)
        with pytest.raises(ProviderUnavailable, match="answered HTTP 404"):
            discover(str(http.base_url).rstrip("/") + "/nothing")


@dataclass
class Token:
    """An ID token the provider signed for `client`, at a sign-in with `nonce`."""

    client: OpenIdClient
    id_token: str
    nonce: str


@pytest.fixture
def token(provider: Provider) -> Token:
    redirect = "http://127.0.0.1:9/signin/oidc/callback"  # never opened: the code is read here
    client = OpenIdClient(provider.issuer, *provider.register(redirect), redirect)
    started = client.start()
    answer = parse_qs(urlsplit(provider.authorize(started.url, "andy-google")).query)
    assert answer["state"] == [started.state]
    id_token = client.exchange(client.provider(), answer["code"][0], started.verifier)
    return Token(client, id_token, started.nonce)


def _check(token: Token, **change: Any) -> dict[str, Any]:
    client = token.client
    given: dict[str, Any] = {
        "keys": client.keys(),
        "issuer": client.provider().issuer,
        "client_id": client.client_id,
        "nonce": token.nonce,
        "algorithms": client.provider().algorithms,
    } | change
    return id_token_claims(token.id_token, **given)


def test_the_provider_s_id_token_checks_for_its_client_and_nonce(token: Token) -> None:
    claims = _check(token)
    assert claims["email"] == "Andy@MSP.example"
    assert claims["nonce"] == token.nonce
    assert claims["aud"] == [token.client.client_id]


def test_an_id_token_for_another_client_is_refused(token: Token) -> None:
    with pytest.raises(OidcRefused, match="for another application; .*XBR_OIDC_CLIENT_ID"):
        _check(token, client_id="another-app")


def test_an_id_token_from_another_sign_in_is_refused(token: Token) -> None:
    with pytest.raises(OidcRefused, match=re.escape(STALE)):
        _check(token, nonce="another-sign-in")


def test_an_id_token_from_another_issuer_or_expired_is_refused(token: Token) -> None:
    with pytest.raises(OidcRefused, match="another issuer; .*XBR_OIDC_ISSUER"):
        _check(token, issuer="https://accounts.google.com")
    with pytest.raises(OidcRefused, match="has expired; check this server's clock"):
        _check(token, now=int(time.time()) + 2 * 3600)


def test_an_id_token_signed_with_another_key_is_refused(token: Token) -> None:
    claims = _check(token)
    published = token.client.keys().keys[0]
    forger = RSAKey.generate_key(2048)
    forged = jwt.encode({"alg": "RS256", "kid": published.kid}, claims, forger)
    with pytest.raises(OidcRefused, match="does not check"):
        id_token_claims(
            forged,
            token.client.keys(),
            claims["iss"],
            token.client.client_id,
            token.nonce,
            ["RS256"],
        )
    unknown = jwt.encode({"alg": "RS256", "kid": "not-theirs"}, claims, forger)
    with pytest.raises(OidcRefused, match="a key it does not publish"):
        id_token_claims(
            unknown,
            token.client.keys(),
            claims["iss"],
            token.client.client_id,
            token.nonce,
            ["RS256"],
        )
