"""Signed approval links: a round trip works, every damaged or forged token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import stat
import string
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifications.links import (
    ACTIONS,
    LinkClaims,
    LinkRefused,
    csrf_token,
    digest,
    load_key,
    sign,
    verify,
)
from states.errors import XbrError

KEY = b"4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2feaa0c55ad015a3bf"
OTHER_KEY = b"c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2feaa0"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
CLAIMS = LinkClaims(42, 3, "vera@msp.example", "decide", T + 7 * 86400)
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode(obj: object) -> str:
    return _b64(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def _forge(payload: str) -> str:
    """A token with a valid signature over any payload: what a bug or a leaked key could make."""
    mac = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def _flip(data: bytes, rng: random.Random) -> bytes:
    bit = rng.randrange(len(data) * 8)
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _claims(rng: random.Random) -> LinkClaims:
    email = f"p{rng.randrange(1000)}@msp.example"
    return LinkClaims(
        rng.randrange(1, 10**6), rng.randrange(1, 9), email, rng.choice(ACTIONS), T + 60
    )


def _payload_bit(rng: random.Random) -> str:
    payload, signature = sign(KEY, _claims(rng)).split(".")
    return f"{_b64(_flip(_unb64(payload), rng))}.{signature}"


def _signature_bit(rng: random.Random) -> str:
    payload, signature = sign(KEY, _claims(rng)).split(".")
    return f"{payload}.{_b64(_flip(_unb64(signature), rng))}"


def _char_bit(rng: random.Random) -> str:
    token = sign(KEY, _claims(rng))
    i = rng.randrange(len(token))
    return token[:i] + chr(ord(token[i]) ^ (1 << rng.randrange(7))) + token[i + 1 :]


def _truncated(rng: random.Random) -> str:
    token = sign(KEY, _claims(rng))
    return token[: rng.randrange(len(token))]


def _extended(rng: random.Random) -> str:
    return sign(KEY, _claims(rng)) + rng.choice(string.ascii_letters + string.digits + "-_=.")


def _other_key(rng: random.Random) -> str:
    return sign(OTHER_KEY, _claims(rng))


def _swapped(rng: random.Random) -> str:
    first = _claims(rng)
    payload = sign(KEY, first).split(".")[0]
    signature = sign(KEY, replace(first, review_id=first.review_id + 1)).split(".")[1]
    return f"{payload}.{signature}"


def _reencoded(rng: random.Random) -> str:
    claims = _claims(rng)
    signature = sign(KEY, claims).split(".")[1]
    changes: list[dict[str, object]] = [
        {"review_id": claims.review_id + 1},
        {"round": claims.round + 1},
        {"email": "mallory@msp.example"},
        {"action": "tasks" if claims.action == "decide" else "decide"},
        {"expires_at": claims.expires_at + 86400},
    ]
    changed = {**asdict(claims), **rng.choice(changes)}
    return f"{_encode(changed)}.{signature}"


def _expired(rng: random.Random) -> str:
    return sign(KEY, replace(_claims(rng), expires_at=T - rng.randrange(0, 400 * 86400)))


def _wrong_action(rng: random.Random) -> str:
    action = rng.choice(["approve", "reject", "admin", "DECIDE", "Tasks", "tasks ", ""])
    return _forge(_encode({**asdict(_claims(rng)), "action": action}))


def _bad_claims(rng: random.Random) -> str:
    good = asdict(_claims(rng))
    missing = dict(good)
    del missing[rng.choice(sorted(good))]
    variants: list[object] = [
        missing,
        {**good, "admin": True},
        {**good, "review_id": str(good["review_id"])},
        {**good, "round": True},
        {**good, "expires_at": float(good["expires_at"])},
        {**good, "email": None},
        {**good, "email": "Vera@MSP.example"},
        {**good, "email": "a" * 3000 + "@msp.example"},
        list(good.values()),
        None,
    ]
    if rng.random() < 0.2:  # authentic, but not JSON or not base64 at all
        return _forge(rng.choice([_b64(rng.randbytes(40)), "not*base64", ""]))
    return _forge(_encode(rng.choice(variants)))


def _empty(rng: random.Random) -> str:
    payload, signature = sign(KEY, _claims(rng)).split(".")
    return rng.choice(
        ["", ".", "..", " ", f".{signature}", f"{payload}.", f"{payload}..{signature}"]
    )


def _garbage(rng: random.Random) -> str:
    return "".join(rng.choice(string.printable) for _ in range(rng.randrange(1, 300)))


def _unicode(rng: random.Random) -> str:
    token = sign(KEY, _claims(rng))
    i = rng.randrange(len(token))
    odd = rng.choice(["а", "е", "．", "\u200b", "é", "😀", "\ud800", "\x00", "ａ"])
    return rng.choice([token[:i] + odd + token[i + 1 :], token[:i] + odd + token[i:], odd * 5])


MUTATIONS: list[Callable[[random.Random], str]] = [
    _payload_bit,
    _signature_bit,
    _char_bit,
    _truncated,
    _extended,
    _other_key,
    _swapped,
    _reencoded,
    _expired,
    _wrong_action,
    _bad_claims,
    _empty,
    _garbage,
    _unicode,
]


def test_round_trip() -> None:
    """A signed token is URL-safe and gives back the claims it was made from."""
    token = sign(KEY, CLAIMS)
    assert URL_SAFE.fullmatch(token)
    assert verify(KEY, token, NOW) == CLAIMS
    assert verify(KEY, token, NOW + timedelta(days=7, seconds=-1)) == CLAIMS


def test_token_is_one_string_per_claims() -> None:
    """The same claims always give the same token, so its digest can mark it used."""
    assert sign(KEY, CLAIMS) == sign(KEY, CLAIMS)
    assert sign(KEY, CLAIMS) != sign(KEY, replace(CLAIMS, round=4))
    assert sign(KEY, CLAIMS).split(".")[0] == _encode(asdict(CLAIMS))


def test_thousand_damaged_forged_and_expired_tokens_are_refused() -> None:
    """1,000 seeded mutations of real tokens, forgeries and junk: each is refused, in one line."""
    rng = random.Random(20261124)
    bad: dict[str, str] = {}
    while len(bad) < 1000:
        mutation = MUTATIONS[len(bad) % len(MUTATIONS)]
        bad.setdefault(mutation(rng), mutation.__name__)
    assert min(Counter(bad.values()).values()) >= 40
    accepted, messages = [], set()
    for token, kind in bad.items():
        try:
            verify(KEY, token, NOW)
        except LinkRefused as refusal:
            messages.add(str(refusal))
        else:
            accepted.append((kind, token))
    assert accepted == []
    assert all("\n" not in message and "new one" in message for message in messages)


def test_expiry_is_refused_from_the_second_it_passes() -> None:
    """At expires_at the link no longer works, and the message says when it expired."""
    token = sign(KEY, replace(CLAIMS, expires_at=T))
    with pytest.raises(LinkRefused, match=r"expired on Tue 24 Nov 2026, 12:00 UTC; ask"):
        verify(KEY, token, NOW)


def test_unknown_action_is_named() -> None:
    """A correctly signed link for an action this version lacks says which action."""
    with pytest.raises(LinkRefused, match="'approve', which this xbr does not know"):
        verify(KEY, _forge(_encode({**asdict(CLAIMS), "action": "approve"})), NOW)


@pytest.mark.parametrize(
    "claims",
    [
        replace(CLAIMS, action="approve"),
        replace(CLAIMS, email="Vera@msp.example"),
        replace(CLAIMS, email="vera"),
        replace(CLAIMS, round=True),
    ],
    ids=["unknown-action", "uppercase-email", "not-an-email", "bool-round"],
)
def test_sign_refuses_claims_no_link_should_carry(claims: LinkClaims) -> None:
    """Bad claims are a programming error at signing time, not a link that fails later."""
    with pytest.raises(ValueError, match="cannot sign"):
        sign(KEY, claims)


def test_programming_errors_are_not_refusals() -> None:
    """A naive 'now' or a short key is the caller's bug: ValueError, not LinkRefused."""
    token = sign(KEY, CLAIMS)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(KEY, token, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="too short"):
        sign(b"short", CLAIMS)


def test_digest_and_csrf_token() -> None:
    """digest is the token's SHA-256; the CSRF field depends on key and token, not the link MAC."""
    token = sign(KEY, CLAIMS)
    other = sign(KEY, replace(CLAIMS, action="tasks"))
    assert digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert digest(token) != digest(other)
    field = csrf_token(KEY, token)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", field)
    assert field == csrf_token(KEY, token)
    assert field not in {csrf_token(KEY, other), csrf_token(OTHER_KEY, token), token.split(".")[1]}


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    """First use writes 32 random bytes as hex, mode 0600 even under umask 0; later uses read it."""
    home = tmp_path / "xbr-home"
    old_umask = os.umask(0)
    try:
        key = load_key(home, None)
    finally:
        os.umask(old_umask)
    path = home / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(rb"[0-9a-f]{64}", key)
    assert load_key(home, None) == key
    assert path.read_bytes() == key + b"\n"
    assert verify(load_key(home, key.decode()), sign(key, CLAIMS), NOW) == CLAIMS


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    """Concurrent first uses all end with the one key that was created."""
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_key(tmp_path, None))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    """A key others can read or change is refused with the file and the fix."""
    load_key(tmp_path, None)
    path = tmp_path / "secret.key"
    path.chmod(mode)
    with pytest.raises(XbrError, match=re.escape(f"run `chmod 600 {path}`")):
        load_key(tmp_path, None)


def test_empty_key_file_is_refused(tmp_path: Path) -> None:
    """An emptied key file is not silently replaced: links made with the old key would break."""
    path = tmp_path / "secret.key"
    path.touch(mode=0o600)
    with pytest.raises(XbrError, match="holds no key; delete it"):
        load_key(tmp_path, None)


def test_configured_key_is_used_without_a_file(tmp_path: Path) -> None:
    """XBR_SECRET_KEY's bytes are the key; no key file is made."""
    configured = "Xq7-vP2mL9sR4tK8wZ1bN6cH3jF5gD0a"
    assert load_key(tmp_path, configured) == configured.encode()
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize(
    ("configured", "why"),
    [
        ("", "has 0 characters"),
        ("Xq7-vP2mL9sR4tK8wZ1bN6cH3jF5gD0", "has 31 characters"),
        ("changeme" * 4, "looks like a placeholder"),
        ("my-super-SECRET-key-for-xbr-2026", "looks like a placeholder"),
        ("please-changethis-before-you-deploy", "looks like a placeholder"),
        ("your-password-goes-here-1234567890", "looks like a placeholder"),
        ("a" * 64, "looks like a placeholder"),
        ("0123401234012340123401234012340123", "looks like a placeholder"),
    ],
)
def test_bad_configured_keys_are_refused(tmp_path: Path, configured: str, why: str) -> None:
    """Short or placeholder keys are refused with what to set instead."""
    with pytest.raises(XbrError, match=f"XBR_SECRET_KEY {why}.*openssl rand -hex 32"):
        load_key(tmp_path, configured)


def test_unusable_home_is_a_one_line_error(tmp_path: Path) -> None:
    """A home that is not a directory is named, with the way around it."""
    home = tmp_path / "not-a-directory"
    home.write_text("")
    with pytest.raises(XbrError, match="cannot use .*secret.key .*set XBR_SECRET_KEY"):
        load_key(home, None)
