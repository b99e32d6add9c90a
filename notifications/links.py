"""Signed approval links: who may do what on which review until when, checked without a lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from states.errors import XbrError

# "tasks": tick own tasks; "decide": also approve/reject/reschedule; "plan": a client contact
# decides the client's initiatives
ACTIONS = ("tasks", "decide", "plan")
PLAN = "plan"
KEY_FILE = "secret.key"
MIN_KEY_CHARS = 32
# Words people leave in from examples: a key containing one was never meant to be secret.
PLACEHOLDERS = ("changeme", "changethis", "secret", "password", "example", "placeholder", "default")
MAX_TOKEN_CHARS = 2048  # a real token has ~250; refuse a pasted megabyte before hashing it
NEW_LINK = "ask the review's coordinator to send you a new one"
DAMAGED = f"this link is damaged or was not made by this xbr: copy the whole link, or {NEW_LINK}"


@dataclass(frozen=True)
class LinkClaims:
    """What a link lets the person it was sent to do."""

    review_id: int
    round: int  # the review's round when the link was made: a later round refuses it
    email: str  # the person the link was sent to (lowercase)
    action: str  # one of ACTIONS
    expires_at: int  # unix seconds, UTC


class LinkRefused(XbrError):
    """A link that cannot be used: damaged, forged, expired or for an unknown action."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(key: bytes, data: bytes) -> str:
    if len(key) < MIN_KEY_CHARS:
        raise ValueError("signing key too short: get it from load_key")
    return _b64(hmac.new(key, data, hashlib.sha256).digest())


def _problem(claims: LinkClaims) -> str | None:
    """Why these claims cannot be in a link, or None."""
    numbers = (claims.review_id, claims.round, claims.expires_at)
    # bool is an int subclass; JSON true must not pass for a review id.
    if any(type(n) is not int for n in numbers) or type(claims.email) is not str:
        return "malformed claims"
    if claims.email != claims.email.lower() or "@" not in claims.email:
        return f"email {claims.email!r} is not a lowercase address"
    if claims.action not in ACTIONS:
        return f"unknown action {claims.action!r}"
    return None


def sign(key: bytes, claims: LinkClaims) -> str:
    """A URL-safe token carrying the claims: b64url(compact sorted JSON) "." b64url(HMAC)."""
    problem = _problem(claims)
    if problem:
        raise ValueError(f"cannot sign {claims}: {problem}")
    text = json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True)
    payload = _b64(text.encode("ascii"))
    # The MAC covers the encoded payload, and verify compares the encoded MAC, so exactly one
    # string is valid per claims (base64 padding bits cannot be varied) and digest() is stable.
    return f"{payload}.{_mac(key, payload.encode('ascii'))}"


def verify(key: bytes, token: str, now: datetime) -> LinkClaims:
    """The claims of a token sign() made with this key; LinkRefused if damaged or expired."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    payload, dot, signature = token.partition(".")
    if not dot or not token.isascii() or len(token) > MAX_TOKEN_CHARS:
        raise LinkRefused(DAMAGED)
    expected = _mac(key, payload.encode("ascii"))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise LinkRefused(DAMAGED)
    # Only authentic payloads reach the parser.
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims = LinkClaims(**data)
    except (ValueError, TypeError):  # bad base64, JSON, UTF-8, or not exactly the five claims
        raise LinkRefused(DAMAGED) from None
    problem = _problem(claims)
    if problem:  # signed by this key yet wrong: another xbr version shares the key
        unknown = f"this link is for {problem}, which this xbr does not know; {NEW_LINK}"
        raise LinkRefused(unknown if problem.startswith("unknown action") else DAMAGED)
    if now.timestamp() >= claims.expires_at:
        when = datetime.fromtimestamp(claims.expires_at, UTC)
        raise LinkRefused(f"this link expired on {when:%a %d %b %Y, %H:%M} UTC; {NEW_LINK}")
    return claims


def digest(token: str) -> str:
    """SHA-256 hex of a token: the database stores this, not the token, to use a link once."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(key: bytes, token: str) -> str:
    """The approval form's hidden field for this link; the POST must send it back unchanged."""
    # The NUL keeps it apart from link MACs, whose input is base64 text.
    return _mac(key, b"csrf\x00" + token.encode("utf-8"))


# Decision codes: what a person types into the Prefect UI's Resume form to prove who decides.
# Crockford's base32 (no I, L, O, U): read aloud or retyped without confusion.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 10  # 50 bits; each wrong guess is refused and audited, and the gate moves on
CODE_DAYS = 21  # as long as the links sent with it
_CODE_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def decision_code(key: bytes, review_id: int, round_: int, email: str, expires: date) -> str:
    """The person's code for deciding this gate (review and round) until `expires`, e.g.
    7KQ2M-XH4PB: the Resume form takes it instead of trusting a typed email."""
    data = f"decision-code\x00{review_id}\x00{round_}\x00{email}\x00{expires.isoformat()}"
    digest = hmac.new(key, data.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = [CODE_ALPHABET[(number >> (5 * i)) & 31] for i in range(CODE_CHARS)]
    code = "".join(chars)
    return f"{code[:5]}-{code[5:]}"


def code_owner(
    key: bytes, review_id: int, round_: int, people: list[str], code: str, today: date
) -> str | None:
    """Which of `people` a decision code is, for this gate and not yet expired; None if none."""
    typed = code.strip().upper().translate(_CODE_LOOKALIKES)
    if len(typed) != CODE_CHARS or not set(typed) <= set(CODE_ALPHABET):
        return None
    found = None
    for email in people:
        for days in range(CODE_DAYS + 1):  # the codes made on each of the last CODE_DAYS days
            expected = decision_code(key, review_id, round_, email, today + timedelta(days))
            if hmac.compare_digest(expected.replace("-", ""), typed):
                found = email
    return found


def seal(key: bytes, purpose: str, text: str) -> str:
    """The MAC of `text` for one purpose ("signin", "session", ...): what one purpose seals
    never passes for another's, nor for a link's."""
    return _mac(key, purpose.encode("ascii") + b"\x00" + text.encode("utf-8"))


def board_token(key: bytes, generation: int = 0) -> str:
    """The board page's `key` parameter: whoever has it may see this installation's board.
    Raising `generation` (`xbr board key --rotate`) makes a new one and ends the old."""
    # the NUL, as for csrf: no link or form field MACs this
    suffix = b"" if generation == 0 else str(generation).encode("ascii")
    return _mac(key, b"board\x00" + suffix)


def load_key(home: Path, configured: str | None) -> bytes:
    """The link-signing key: XBR_SECRET_KEY if set, else home/secret.key, made on first use."""
    path = home / KEY_FILE
    if configured is not None:
        return _configured_key(configured, path)
    try:
        home.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: of two processes starting at once, one creates the key, the other reads it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return _read_key(path)
    except OSError as exc:
        raise XbrError(
            f"cannot use {path} ({exc.strerror}); fix it or set XBR_SECRET_KEY"
        ) from None


def _configured_key(value: str, path: Path) -> bytes:
    fix = f"set 32+ random characters (`openssl rand -hex 32`) or unset it to use {path}"
    if len(value) < MIN_KEY_CHARS:
        raise XbrError(f"XBR_SECRET_KEY has {len(value)} characters; {fix}")
    if any(word in value.lower() for word in PLACEHOLDERS) or len(set(value)) < 6:
        raise XbrError(f"XBR_SECRET_KEY looks like a placeholder, not a secret; {fix}")
    # The text's bytes, as for the file: copying the file into the variable keeps links valid.
    return value.encode("utf-8")


def _read_key(path: Path) -> bytes:
    raw = b""
    for _ in range(10):  # another process may have created the file but not written it yet
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_mode & 0o077:
                raise XbrError(f"key file {path} is open to other users; run `chmod 600 {path}`")
            raw = file.read().strip()
        if raw:
            break
        time.sleep(0.02)
    if len(raw) < MIN_KEY_CHARS:
        raise XbrError(f"key file {path} holds no key; delete it to make a new one")
    return raw
