"""Sign-in links: asked for with an email address, sent to that person only, used once within
LINK_MINUTES. The link's secret is never stored, only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from states.errors import XbrError
from states.store.db import UnitOfWork
from states.store.models import Person, SigninRequest

LINK_MINUTES = 15
# links asked for one person within LINK_MINUTES before more are quietly not sent: a stranger
# typing someone's address cannot fill their inbox
PER_PERSON = 5
ASK_AGAIN = "ask for a new sign-in link on the sign-in page"


class SigninRefused(XbrError):
    """A sign-in link that cannot be used: damaged, forged, expired or used."""


@dataclass(frozen=True)
class SigninLink:
    """What the emailed link carries: the request's id and its secret."""

    request_id: int
    secret: str
    email: str
    name: str
    expires_at: datetime


def digest(secret: str) -> str:
    """SHA-256 hex of a link's secret, as the database keeps it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def request_signin(uow: UnitOfWork, email: str, now: datetime) -> SigninLink | None:
    """A new sign-in link for the person with this address; None when there is no such person
    or they asked for PER_PERSON links in the last LINK_MINUTES (the page says the same either
    way, so it never tells who is in xbr)."""
    with uow:
        person = uow.session.scalar(select(Person).where(Person.email == email.strip().lower()))
        if person is None:
            return None
        recent = uow.session.scalar(
            select(func.count())
            .select_from(SigninRequest)
            .where(
                SigninRequest.person_id == person.id,
                SigninRequest.created_at > now - timedelta(minutes=LINK_MINUTES),
            )
        )
        if (recent or 0) >= PER_PERSON:
            return None
        secret = secrets.token_urlsafe(32)
        expires = now + timedelta(minutes=LINK_MINUTES)
        row = SigninRequest(
            person_id=person.id, secret_digest=digest(secret), created_at=now, expires_at=expires
        )
        uow.session.add(row)
        uow.commit()
        return SigninLink(row.id, secret, person.email, person.name, expires)


def use_signin(uow: UnitOfWork, request_id: int, secret: str, now: datetime) -> str:
    """The email of the person a sign-in link is for, once: the link is used up in the same
    statement that checks it, so of two tabs opening it one signs in. SigninRefused otherwise."""
    with uow:
        used = uow.session.execute(
            update(SigninRequest)
            .where(
                SigninRequest.id == request_id,
                SigninRequest.secret_digest == digest(secret),
                SigninRequest.used_at.is_(None),
                SigninRequest.expires_at > now,
            )
            .values(used_at=now)
        )
        if used.rowcount == 1:  # type: ignore[attr-defined]
            email = uow.session.scalar(
                select(Person.email)
                .join(SigninRequest, SigninRequest.person_id == Person.id)
                .where(SigninRequest.id == request_id)
            )
            uow.commit()
            assert email is not None
            return email
        row = uow.session.get(SigninRequest, request_id)
    if row is None or not secrets.compare_digest(row.secret_digest, digest(secret)):
        raise SigninRefused(f"this sign-in link is damaged or not this xbr's; {ASK_AGAIN}")
    if row.used_at is not None:
        raise SigninRefused(
            f"this sign-in link was used already, at {row.used_at:%H:%M} UTC; {ASK_AGAIN}"
        )
    raise SigninRefused(
        f"this sign-in link expired at {row.expires_at:%H:%M} UTC "
        f"({LINK_MINUTES} minutes after it was sent); {ASK_AGAIN}"
    )
