"""Signing in with OpenID Connect (Microsoft Entra ID, Google Workspace), the protocol only:
the provider's configuration discovered from its issuer, the address that sends the browser
there (state, nonce, PKCE S256), and on the way back the code exchanged with the client
secret for an ID token whose signature, issuer, audience, expiry and nonce are checked, and
whose email is the person's. The routes are deploy/webapp/oidc_routes.py.

Authlib builds the requests and checks the ID token's claims; the HTTP is plain httpx, as
Authlib 1.9's httpx integration warns that it wants httpx2 instead."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from states.directory import parse_email
from states.errors import XbrError

SCOPE = "openid email profile"
TIMEOUT = 10.0  # seconds for each call to the provider
CACHE_SECONDS = 3600  # its configuration and keys are fetched again after an hour
LEEWAY = 60  # seconds of clock difference allowed between xbr and the provider
ISSUERS = "https://login.microsoftonline.com/<tenant id>/v2.0 or https://accounts.google.com"
STALE = "the sign-in was started in another browser or took too long; sign in again"
ASYMMETRIC = ("RS", "PS", "ES", "Ed")  # an ID token's algorithm: never "none" nor a shared key


class OidcRefused(XbrError):
    """A sign-in that cannot complete: the provider said no, or its answer does not check."""


class UnknownKey(OidcRefused):
    """An ID token signed with a key the provider does not publish (or not yet fetched)."""


class ProviderUnavailable(XbrError):
    """The provider named by XBR_OIDC_ISSUER cannot be reached or is no OpenID provider."""


@dataclass(frozen=True)
class Provider:
    """What the provider's discovery document says xbr needs."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class Started:
    """A sign-in sent to the provider: where to, and what its answer must match."""

    url: str
    state: str
    nonce: str
    verifier: str


class OpenIdClient:
    """xbr as a client of one provider (XBR_OIDC_*): its configuration and keys cached."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.issuer, self.client_id = issuer.rstrip("/"), client_id
        self.client_secret, self.redirect_uri = client_secret, redirect_uri
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def provider(self) -> Provider:
        """The provider's configuration, from `{issuer}/.well-known/openid-configuration`."""
        if self._provider and time.monotonic() - self._provider[0] < CACHE_SECONDS:
            return self._provider[1]
        found = discover(self.issuer)
        self._provider = (time.monotonic(), found)
        return found

    def keys(self, fresh: bool = False) -> KeySet:
        """The provider's signing keys; `fresh` after it signed with one not yet seen."""
        if not fresh and self._keys and time.monotonic() - self._keys[0] < CACHE_SECONDS:
            return self._keys[1]
        url = self.provider().jwks_uri
        doc = _get_json(url)
        try:
            if isinstance(doc, str):
                raise ValueError(doc)
            found = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the OpenID provider's signing keys at {url} cannot be read ({exc}); "
                "try again later, or sign in with an emailed link"
            ) from None
        self._keys = (time.monotonic(), found)
        return found

    def start(self) -> Started:
        """A new sign-in: the provider's address for the browser, with its checks."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters: RFC 7636 wants 43 to 128
        url = prepare_grant_uri(
            self.provider().authorization_endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=SCOPE,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return Started(url, state, nonce, verifier)

    def finish(self, code: str, nonce: str, verifier: str) -> str:
        """The email of the person the provider signed in, from the code it sent back."""
        provider = self.provider()
        id_token = self.exchange(provider, code, verifier)
        check = (provider.issuer, self.client_id, nonce, provider.algorithms)
        try:
            claims = id_token_claims(id_token, self.keys(), *check)
        except UnknownKey:  # the provider may have rolled its keys since they were fetched
            claims = id_token_claims(id_token, self.keys(fresh=True), *check)
        return email_of(claims)

    def exchange(self, provider: Provider, code: str, verifier: str) -> str:
        """The ID token the provider gives for the code (and the PKCE verifier)."""
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=verifier,
            client_id=self.client_id,
            client_secret=self.client_secret,  # client_secret_post: Entra's and Google's way
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            answer = httpx.post(
                provider.token_endpoint, content=body, headers=headers, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"the OpenID provider did not answer ({type(exc).__name__}); try again later, "
                "or sign in with an emailed link"
            ) from None
        token = _json_object(answer)
        if answer.status_code == 200 and isinstance(token.get("id_token"), str):
            return str(token["id_token"])
        error = str(token.get("error") or f"HTTP {answer.status_code}")[:80]
        if error in {"invalid_client", "unauthorized_client"}:
            raise OidcRefused(
                f"the OpenID provider does not know xbr's client ({error}); "
                "ask your xbr admin to check XBR_OIDC_CLIENT_ID and XBR_OIDC_CLIENT_SECRET"
            )
        raise OidcRefused(
            f"the OpenID provider did not accept the sign-in ({error}); sign in again"
        )


def discover(issuer: str) -> Provider:
    """The configuration the provider publishes for `issuer`; ProviderUnavailable names
    XBR_OIDC_ISSUER and the fix when there is none."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    doc = _get_json(url)
    if isinstance(doc, str):
        raise _bad_issuer(issuer, f"its configuration at {url} {doc}")
    try:
        found = Provider(
            issuer=str(doc["issuer"]),
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            algorithms=tuple(
                str(a)
                for a in doc.get("id_token_signing_alg_values_supported", ["RS256"])
                if str(a).startswith(ASYMMETRIC)
            ),
        )
    except (KeyError, TypeError) as exc:
        raise _bad_issuer(issuer, f"its configuration has no {exc}") from None
    if found.issuer.rstrip("/") != issuer.rstrip("/"):
        raise _bad_issuer(issuer, f"its configuration is for the issuer {found.issuer[:200]}")
    if not found.algorithms:
        raise _bad_issuer(issuer, "it signs ID tokens with no algorithm xbr accepts")
    return found


def id_token_claims(
    id_token: str,
    keys: KeySet,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: Sequence[str],
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of an ID token the provider signed with one of `keys`, for this client and
    this sign-in (its nonce), not expired; OidcRefused says which check failed."""
    try:
        token = jwt.decode(
            id_token,
            keys,
            registry=JWSRegistry(algorithms=list(algorithms), strict_check_header=False),
        )
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
            },
            {"nonce": nonce, "client_id": client_id},
        )
        claims.validate(now=now, leeway=LEEWAY)
    except InvalidKeyIdError:
        raise UnknownKey(
            "the OpenID provider's answer is signed with a key it does not publish; sign in again"
        ) from None
    except ExpiredTokenError:
        raise OidcRefused(
            "the OpenID provider's answer has expired; check this server's clock and sign in again"
        ) from None
    except ClaimError as exc:
        raise OidcRefused(_claim_problem(exc.claim)) from None
    except (JoseError, ValueError) as exc:
        raise OidcRefused(
            f"the OpenID provider's answer does not check ({type(exc).__name__}); sign in again"
        ) from None
    return dict(claims)


def email_of(claims: dict[str, Any]) -> str:
    """The person's email: the `email` claim (refused when the provider says it is not
    verified), else Entra's `preferred_username` or `upn` when that is an email; lower-cased."""
    email = claims.get("email")
    if isinstance(email, str) and email:
        if claims.get("email_verified") in (False, "false"):
            raise OidcRefused(
                f"{email[:200]} is not verified by the OpenID provider; verify it there, "
                "or sign in with an emailed link"
            )
        return _address(email)
    for name in ("preferred_username", "upn"):
        value = claims.get(name)
        if isinstance(value, str) and "@" in value:
            return _address(value)
    raise OidcRefused(
        "the OpenID provider did not say the account's email; "
        "ask your xbr admin to allow the email claim, or sign in with an emailed link"
    )


def _address(text: str) -> str:
    try:
        return parse_email(text[:320])
    except XbrError:
        raise OidcRefused(
            f"the OpenID provider's account {text[:200]!r} is not an email address; "
            "sign in with an emailed link"
        ) from None


def _claim_problem(claim: str) -> str:
    if claim == "nonce":
        return STALE
    if claim in {"aud", "azp"}:
        return (
            "the OpenID provider's answer is for another application; "
            "ask your xbr admin to check XBR_OIDC_CLIENT_ID"
        )
    if claim == "iss":
        return (
            "the OpenID provider's answer comes from another issuer; "
            "ask your xbr admin to check XBR_OIDC_ISSUER"
        )
    return f"the OpenID provider's answer has a bad {claim[:40]} claim; sign in again"


def _get_json(url: str) -> dict[str, Any] | str:
    """The JSON object at `url`, or what went wrong in a few words."""
    try:
        answer = httpx.get(url, headers={"Accept": "application/json"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return f"did not come ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"answered HTTP {answer.status_code}"
    return _json_object(answer) or "is not JSON"


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _bad_issuer(issuer: str, why: str) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"XBR_OIDC_ISSUER {issuer[:200]} is no OpenID provider xbr can use ({why}); "
        f"set it to your provider's issuer, e.g. {ISSUERS}"
    )
