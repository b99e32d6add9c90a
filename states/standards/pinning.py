"""Which standards a review assesses, kept with the review.

A review assesses its template's standards and its client's own, as they were when it opened
(or when the client's list changed while it had not yet left staging). Each standard is kept
once, by the digest of its content, in `standard_versions`; the review keeps the digests. An
MSP editing a standard's YAML later changes the questions of the reviews opened after, never
the answers and scores of the ones before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from states.standards.catalog import load_standards
from states.standards.schema import Standard
from states.store.models import Client, Review, StandardVersion
from states.templates.schema import Template


@lru_cache(maxsize=1)
def shipped_standards() -> dict[str, Standard]:
    """The standards that come with xbr, for callers that were given no others."""
    return load_standards()


def names_assessed(template: Template, client: Client) -> list[str]:
    """The template's standards first, then the client's own, each once."""
    return list(dict.fromkeys([*template.standards, *(client.standards or [])]))


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def pin(
    session: Session, review: Review, template: Template, known: Mapping[str, Standard] | None
) -> None:
    """Keep on `review` the standards it assesses, from `known` (the shipped ones when None);
    one whose file was removed is left out (`not_installed` names it)."""
    known = shipped_standards() if known is None else known
    wanted = names_assessed(template, review.client)
    review.standards = [_kept(session, known[name]) for name in wanted if name in known]


# Until staging's gate: a change of the client's standards applies to its open reviews there.
BEFORE_ASSESSED = ("needed", "scheduling", "scheduled", "staging")


def repin_open_reviews(
    session: Session, client: Client, known: Mapping[str, Standard]
) -> list[int]:
    """After the client's own standards changed: its reviews not past staging assess the new
    list (answers already given stay with their items); returns the reviews changed."""
    changed = []
    reviews = session.scalars(
        select(Review).where(Review.client_id == client.id, Review.status.in_(BEFORE_ASSESSED))
    )
    for review in reviews:
        before = list(review.standards or [])
        pin(session, review, Template.model_validate(review.template_snapshot), known)
        if review.standards != before:
            changed.append(review.id)
    return changed


def not_installed(
    template: Template, client: Client, known: Mapping[str, Standard] | None
) -> list[str]:
    """The standards the client's reviews should assess that this installation lacks."""
    known = shipped_standards() if known is None else known
    return [name for name in names_assessed(template, client) if name not in known]


def _kept(session: Session, standard: Standard) -> str:
    """The standard's digest, its version stored unless the database holds it already."""
    made: dict[int, tuple[Standard, dict[str, Any]]] = session.info.setdefault("kept", {})
    known = made.get(id(standard))
    if known is None or known[0] is not standard:  # a pass opening many dumps each once
        data = standard.model_dump(mode="json")
        values = {"digest": _digest(data), "name": standard.name, "data": data}
        known = made[id(standard)] = (standard, values)
    values = known[1]
    digest = str(values["digest"])
    if session.get(StandardVersion, digest) is None:
        _store(session, values)
    return digest


def _store(session: Session, values: dict[str, Any]) -> None:
    """Insert a version once. On PostgreSQL in a transaction of its own: a version is content,
    harmless to keep even if the review that wanted it is rolled back, and two openings that
    both store it never wait on each other's other locks (which could deadlock them)."""
    bind = session.get_bind()
    postgres = bind.dialect.name == "postgresql"
    insert = (postgresql.insert if postgres else sqlite.insert)(StandardVersion)
    statement = insert.values(values).on_conflict_do_nothing()
    if not postgres or not isinstance(bind, Engine):
        # SQLite: one writer at a time, no deadlock; the insert joins the transaction
        session.execute(statement)
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(statement)


def pinned(session: Session, review: Review) -> list[Standard]:
    """The standards the review assesses, in order."""
    digests: Sequence[str] = review.standards or []
    if not digests:
        return []
    missing = [d for d in digests if d not in _parsed]
    if missing:
        rows = session.execute(
            select(StandardVersion.digest, StandardVersion.data).where(
                StandardVersion.digest.in_(missing)
            )
        )
        for digest, data in rows:
            _parsed[digest] = Standard.model_validate(data)
    return [_parsed[d] for d in digests if d in _parsed]


# A kept version never changes (its key is its content): parsed once per process.
_parsed: dict[str, Standard] = {}
