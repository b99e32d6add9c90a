"""What xbr records of the signed links in notifications: the review and person a link meets,
its single use for a decision, and a refused visit. The approval page works through these."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from states.lifecycle import audit
from states.store.db import UnitOfWork
from states.store.models import LinkUse, Person, Review

LINK_REFUSED = "link-refused"  # the audit trigger of a refused visit


@dataclass(frozen=True)
class Visited:
    """The review and the person a link names, as they are now."""

    status: str
    zone: str
    round: int
    person: str | None  # the person's name; None when nobody has the link's email
    used_at: datetime | None  # when the link decided, if it did


def visited(uow: UnitOfWork, review_id: int, email: str, digest: str) -> Visited | None:
    """What a link for `email` on `review_id` meets; None when the review no longer exists."""
    with uow:
        review = uow.session.get(Review, review_id)
        if review is None:
            return None
        person = uow.session.scalar(select(Person).where(Person.email == email))
        use = uow.session.get(LinkUse, digest)
        return Visited(
            review.status,
            review.client.timezone,
            review.round,
            person.name if person else None,
            use.used_at if use else None,
        )


def record_use(uow: UnitOfWork, digest: str, review_id: int, email: str) -> None:
    """A decision link was used; a second use of it that lost the race records nothing."""
    with uow, suppress(IntegrityError):
        uow.session.add(LinkUse(digest=digest, review_id=review_id, email=email))
        uow.commit()


def record_refusal(
    uow: UnitOfWork, review_id: int | None, status: str | None, actor: str, reason: str
) -> None:
    """The one audit row a refused visit leaves: who the link claimed to be, and why."""
    with uow:
        audit.record(uow.session, review_id, status, status, LINK_REFUSED, actor, reason)
        uow.commit()
