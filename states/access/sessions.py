"""Signed-in browsers: a session names its person, ends when it expires, when they sign out
or when it is revoked, and is read on every request of the web app."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, literal, select, union_all, update

from states.access.signins import digest
from states.directory import parse_email
from states.errors import NotFound
from states.store.db import UnitOfWork
from states.store.models import ClientRole, Person, PersonRole, WebSession

EMAIL_LINK, OPENID_CONNECT = "email link", "openid connect"


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request of the web app, as their session proves."""

    session_id: int
    person_id: int
    email: str
    name: str
    roles: frozenset[str]  # the roles they hold everywhere
    client_roles: dict[int, frozenset[str]]  # client id -> the roles they cover for it
    via: str
    seen_at: datetime | None  # their previous look at My work

    def has(self, *roles: str) -> bool:
        """Whether they hold one of `roles`, everywhere or for some client."""
        wanted = set(roles)
        return bool(self.roles & wanted) or any(r & wanted for r in self.client_roles.values())

    @property
    def staff(self) -> bool:
        """Everyone but a client's contact: the MSP's own people."""
        return bool(self.roles - {"client_contact"}) or any(
            r - {"client_contact"} for r in self.client_roles.values()
        )

    @property
    def contact_of(self) -> frozenset[int]:
        """The clients whose contact they are."""
        return frozenset(c for c, r in self.client_roles.items() if "client_contact" in r)


def open_session(
    uow: UnitOfWork, email: str, via: str, now: datetime, hours: int
) -> tuple[int, str]:
    """A new session for the person (id, secret): the secret goes into the cookie only."""
    with uow:
        person = uow.session.scalar(select(Person).where(Person.email == email))
        if person is None:
            raise NotFound(f"no person {email} in xbr; add them with `xbr person add`")
        secret = secrets.token_urlsafe(32)
        row = WebSession(
            person_id=person.id,
            secret_digest=digest(secret),
            via=via,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        uow.session.add(row)
        uow.commit()
        return row.id, secret


def signed_in(uow: UnitOfWork, session_id: int, secret: str, now: datetime) -> SignedIn | None:
    """Who holds this session, or None when it is unknown, ended, expired or not its secret.
    Read on every request: two small queries of plain columns."""
    with uow:
        found = uow.session.execute(
            select(
                WebSession.secret_digest,
                WebSession.ended_at,
                WebSession.expires_at,
                WebSession.via,
                Person.id,
                Person.email,
                Person.name,
                Person.seen_at,
            )
            .join(Person, Person.id == WebSession.person_id)
            .where(WebSession.id == session_id)
        ).one_or_none()
        if found is None:
            return None
        secret_digest, ended_at, expires_at, via, person_id, email, name, seen_at = found
        if not secrets.compare_digest(secret_digest, digest(secret)):
            return None
        if ended_at is not None or expires_at <= now:
            return None
        everywhere = select(PersonRole.role, literal(None, Integer).label("client_id")).where(
            PersonRole.person_id == person_id
        )
        for_clients = select(ClientRole.role, ClientRole.client_id).where(
            ClientRole.person_id == person_id
        )
        roles: set[str] = set()
        per_client: dict[int, set[str]] = {}
        for role, client_id in uow.session.execute(union_all(everywhere, for_clients)):
            if client_id is None:
                roles.add(role)
            else:
                per_client.setdefault(client_id, set()).add(role)
        return SignedIn(
            session_id=session_id,
            person_id=person_id,
            email=email,
            name=name,
            roles=frozenset(roles),
            client_roles={c: frozenset(r) for c, r in per_client.items()},
            via=via,
            seen_at=seen_at,
        )


def end_session(uow: UnitOfWork, session_id: int, by: str, now: datetime) -> None:
    """End one session (sign-out)."""
    with uow:
        uow.session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
            .values(ended_at=now, ended_by=by)
        )
        uow.commit()


def revoke(uow: UnitOfWork, email: str, by: str, now: datetime) -> int:
    """End every open session of the person (`xbr session revoke`); how many were open."""
    wanted = parse_email(email)
    with uow:
        person = uow.session.scalar(select(Person).where(Person.email == wanted))
        if person is None:
            raise NotFound(f"no person {wanted} in xbr; see `xbr person list`")
        ended = uow.session.execute(
            update(WebSession)
            .where(
                WebSession.person_id == person.id,
                WebSession.ended_at.is_(None),
                WebSession.expires_at > now,
            )
            .values(ended_at=now, ended_by=by)
        )
        uow.commit()
        return int(ended.rowcount)  # type: ignore[attr-defined]


def list_sessions(uow: UnitOfWork, now: datetime) -> list[dict[str, object]]:
    """The open sessions: whose, since when, until when, how they signed in."""
    with uow:
        rows = uow.session.execute(
            select(WebSession, Person.email)
            .join(Person, Person.id == WebSession.person_id)
            .where(WebSession.ended_at.is_(None), WebSession.expires_at > now)
            .order_by(WebSession.id)
        )
        return [
            {
                "id": row.id,
                "email": email,
                "via": row.via,
                "since": row.created_at.isoformat(),
                "until": row.expires_at.isoformat(),
            }
            for row, email in rows
        ]


def mark_seen(uow: UnitOfWork, person_id: int, now: datetime) -> None:
    """Remember the person's look at My work: the next one shows what changed since."""
    with uow:
        uow.session.execute(update(Person).where(Person.id == person_id).values(seen_at=now))
        uow.commit()
