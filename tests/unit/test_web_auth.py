"""The web app's sealed values and cookie, without a server: whatever a browser sends, only
what this key sealed for this purpose opens, and the cookie is Secure behind HTTPS."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from hypothesis import given
from hypothesis import strategies as st

from deploy.webapp.auth import Auth, pack, unpack
from deploy.webapp.site import local_path

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


def _no_database() -> None:
    raise AssertionError("a cookie that does not open must not reach the database")


@given(st.integers(1, 10**12), st.text(st.characters(codec="ascii"), min_size=1, max_size=60))
def test_only_the_same_key_and_purpose_open_what_was_sealed(number: int, secret: str) -> None:
    secret = secret.replace(".", "") or "s"
    sealed = pack(KEY, "session", number, secret)
    assert unpack(KEY, "session", sealed) == (number, secret)
    assert unpack(OTHER, "session", sealed) is None
    assert unpack(KEY, "signin", sealed) is None
    assert unpack(KEY, "session", sealed[:-1] + ("A" if sealed[-1] != "A" else "B")) is None


@given(st.text(max_size=400))
def test_anything_else_a_browser_sends_opens_nothing(text: str) -> None:
    assert unpack(KEY, "session", text) is None


def test_the_cookie_is_httponly_lax_and_secure_behind_https() -> None:
    for url, secure in (("https://xbr.msp.example", True), ("http://127.0.0.1:8765", False)):
        auth = Auth(KEY, _no_database, url, 12)  # type: ignore[arg-type]
        response = Response()
        auth.set_cookie(response, 7, "secret")
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Max-Age=43200" in cookie
        assert ("Secure" in cookie) is secure


@given(st.text(max_size=200))
def test_a_next_address_never_leads_off_the_site(target: str) -> None:
    kept = local_path(target)
    assert kept == "/" or (kept.startswith("/") and not kept.startswith("//"))
    assert "\\" not in kept


def test_a_next_address_keeps_a_path_of_this_site() -> None:
    assert local_path("/reviews/5?done=x") == "/reviews/5?done=x"
    for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil.example", "evil"):
        assert local_path(elsewhere) == "/"


def _request(cookie: str) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", cookie.encode("latin-1"))]})


def test_a_cookie_of_another_key_is_a_stranger_without_asking_the_database() -> None:
    auth = Auth(KEY, _no_database, "http://127.0.0.1:8765", 12)  # type: ignore[arg-type]
    for cookie in (pack(OTHER, "session", 7, "secret"), "7.secret.forged", "", "x" * 5000):
        assert auth.person(_request(f"xbr_session={cookie}")) is None
