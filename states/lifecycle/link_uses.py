"""What xbr records of the signed links in notifications: the review and person a link meets,
its single use for a decision, and a refused visit (once per link and reason, not per request);
and the number the board page's key is signed with. The approval page works through these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from states.lifecycle import audit
from states.store.db import UnitOfWork
from states.store.models import AuditEntry, Installation, LinkUse, Person, Review

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


def record_use(uow: UnitOfWork, digest: str, review_id: int, email: str) -> bool:
    """A decision link was used: True for its first use; a second use of it that lost the
    race records nothing (False)."""
    with uow:
        uow.session.add(LinkUse(digest=digest, review_id=review_id, email=email))
        try:
            uow.commit()
        except IntegrityError:
            return False
        return True


def record_refusal(
    uow: UnitOfWork, review_id: int | None, status: str | None, actor: str, reason: str
) -> bool:
    """The audit row a refused visit leaves (who the link claimed to be, and why), unless the
    same refusal of the same person on the review is recorded already: a link opened again
    and again, or a script replaying it, adds nothing. True when a row was written."""
    with uow:
        same = select(AuditEntry.id).where(
            AuditEntry.review_id == review_id,
            AuditEntry.trigger == LINK_REFUSED,
            AuditEntry.actor == actor,
            AuditEntry.comment == reason,
        )
        if uow.session.scalar(same.limit(1)) is not None:
            return False
        audit.record(uow.session, review_id, status, status, LINK_REFUSED, actor, reason)
        uow.commit()
        return True


def board_key_generation(uow: UnitOfWork) -> int:
    """The number the board page's key is signed with now."""
    with uow:
        return int(uow.session.scalar(select(Installation.board_key_generation)) or 0)


def rotate_board_key(uow: UnitOfWork) -> int:
    """A new board key: the old address stops working at once. Returns the new number."""
    with uow:
        installation = uow.session.scalars(select(Installation).with_for_update()).one()
        installation.board_key_generation += 1
        uow.commit()
        return installation.board_key_generation
