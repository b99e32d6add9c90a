"""The objects mirrored in the PSA as xbr keeps them: one link per object with its stamp, the
PSA's id once known and what the PSA was last told. Each change is its own short transaction:
a create is marked as sent before it goes, so a crash after it leaves the mark to look it up by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from states.store.db import UnitOfWork
from states.store.models import Installation, PsaLink, PsaPull, utcnow


@dataclass(frozen=True)
class Link:
    """One mirrored object: its stamp, the PSA's id (None until known), whether a create may
    have been sent, and what the PSA was last told."""

    id: int
    object: str
    local_id: int
    stamp: str
    remote_id: str | None
    create_sent: bool
    state: dict[str, Any]
    parent_remote_id: str | None = None


def installation_tag(uow: UnitOfWork) -> str:
    """The first 8 characters of this installation's id: two installations mirroring into one
    PSA never share a stamp."""
    with uow.reading():
        found = uow.session.scalar(select(Installation.id).limit(1))
    return (found or "xbr").replace("-", "")[:8]


def link(
    uow: UnitOfWork, psa: str, tag: str, obj: str, local_id: int, review_id: int | None,
    parent: str | None = None,
) -> Link:  # fmt: skip
    """The object's link, made (with its stamp) the first time it is asked for."""
    stamp = f"xbr-{tag}-{obj}-{local_id}"
    for _ in range(2):  # of two deliverers making it at once, the second reads the first's
        with uow:
            row = uow.session.scalar(
                select(PsaLink).where(
                    PsaLink.psa == psa, PsaLink.object == obj, PsaLink.local_id == local_id
                )
            )
            if row is None:
                row = PsaLink(psa=psa, object=obj, local_id=local_id, review_id=review_id,
                              stamp=stamp, state={}, parent_remote_id=parent)  # fmt: skip
                uow.session.add(row)
                try:
                    uow.commit()
                except IntegrityError:
                    continue
            return _view(row)
    raise RuntimeError(f"the link of {obj} {local_id} could not be made")


def links_of(uow: UnitOfWork, psa: str, obj: str, local_ids: Iterable[int]) -> dict[int, Link]:
    """The links of these objects that exist, by local id."""
    ids = list(local_ids)
    if not ids:
        return {}
    with uow.reading():
        rows = uow.session.scalars(
            select(PsaLink).where(
                PsaLink.psa == psa, PsaLink.object == obj, PsaLink.local_id.in_(ids)
            )
        )
        return {row.local_id: _view(row) for row in rows}


def by_remote(
    uow: UnitOfWork, psa: str, objects: tuple[str, ...], remote_ids: list[str]
) -> list[Link]:
    """The links of the PSA's objects with these ids."""
    with uow.reading():
        rows = uow.session.scalars(
            select(PsaLink).where(
                PsaLink.psa == psa, PsaLink.object.in_(objects), PsaLink.remote_id.in_(remote_ids)
            )
        )
        return [_view(row) for row in rows]


def mark_create_sent(uow: UnitOfWork, link_id: int) -> None:
    """Before a create goes: from now on, a retry looks the object up first."""
    _set(uow, link_id, create_sent_at=utcnow())


def created(uow: UnitOfWork, link_id: int, remote_id: str, state: dict[str, Any]) -> None:
    """The PSA's id of the object, and what it was created with."""
    _set(uow, link_id, remote_id=remote_id, state=state)


def told(uow: UnitOfWork, link_id: int, state: dict[str, Any]) -> None:
    """What the PSA was told (or seen saying) last."""
    _set(uow, link_id, state=state)


def _set(uow: UnitOfWork, link_id: int, **values: Any) -> None:
    with uow:
        uow.session.execute(
            update(PsaLink).where(PsaLink.id == link_id).values(updated_at=utcnow(), **values)
        )
        uow.commit()


def pulled_until(uow: UnitOfWork, psa: str) -> datetime | None:
    """How far the last pull from the PSA got; else when its first object was linked."""
    with uow.reading():
        found = uow.session.get(PsaPull, psa)
        if found is not None:
            return found.pulled_until
        return uow.session.scalar(
            select(PsaLink.created_at).where(PsaLink.psa == psa).order_by(PsaLink.id).limit(1)
        )


def pulled(uow: UnitOfWork, psa: str, until: datetime) -> None:
    """Keep how far the pull got (never backwards)."""
    with uow:
        row = uow.session.get(PsaPull, psa)
        if row is None:
            uow.session.add(PsaPull(psa=psa, pulled_until=until, pulled_at=utcnow()))
        else:
            row.pulled_until, row.pulled_at = max(row.pulled_until, until), utcnow()
        uow.commit()


def _view(row: PsaLink) -> Link:
    return Link(row.id, row.object, row.local_id, row.stamp, row.remote_id,
                row.create_sent_at is not None, dict(row.state or {}),
                row.parent_remote_id)  # fmt: skip
