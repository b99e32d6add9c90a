"""The daily digest: a person who asked for it gets one email at 08:00 in their time zone with
every notice held for them since the last one.

A notice to a digest person is held when it is claimed for delivery (not sent); the digest
pass plans, in one transaction per pass, one `notice.digest` message per person whose 08:00
came since their last digest, listing the held notices, which are then digested. That message
is delivered like any notice: once, whatever dies when. What cannot wait is never held.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from states.calendar.business_days import zone
from states.directory import person_by_email
from states.errors import InvalidInput
from states.store.db import UnitOfWork
from states.store.models import OutboxMessage, Person

NOTIFY = ("immediate", "digest")
HELD, DIGESTED = "held", "digested"
DIGEST = "notice.digest"
DIGEST_HOUR = time(8)
# sent at once whatever the setting: decisions, what is late, a calendar's invitation
URGENT = frozenset({"approval", "overdue", "escalation", "invite", "digest"})


def holds(notify: str | None, kind: str) -> bool:
    """Whether a notice of `kind` waits for the digest of a person who hears as `notify` says
    (None: no person, e.g. a role)."""
    return notify == "digest" and kind not in URGENT


def last_digest_time(now: datetime, time_zone: str) -> datetime:
    """The latest 08:00 in `time_zone` at or before `now`."""
    tz = zone(time_zone)
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), DIGEST_HOUR, tzinfo=tz)
    if today > local:
        today = datetime.combine(local.date() - timedelta(days=1), DIGEST_HOUR, tzinfo=tz)
    return today


def plan_digests(uow: UnitOfWork, now: datetime, default_zone: str) -> int:
    """One digest for each person with held notices whose 08:00 (in their zone, else
    `default_zone`) came since their last digest and since the oldest of those notices (at once
    for someone back on `immediate`); returns how many were planned."""
    with uow:
        session = uow.session
        held = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == HELD).order_by(OutboxMessage.id)
        ).all()
        by_person: dict[str, list[OutboxMessage]] = {}
        for row in held:
            by_person.setdefault(row.recipient or "", []).append(row)
        people = session.scalars(select(Person).where(Person.email.in_(by_person))).all()
        planned = 0
        for person in people:
            rows = by_person[person.email]
            since = person.digest_sent_at or min(r.created_at for r in rows)
            at = last_digest_time(now, person.timezone or default_zone)
            if person.notify == "digest" and at <= since:
                continue
            ids = [r.id for r in rows]
            taken = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == HELD)
                .values(status=DIGESTED)
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) != len(ids):
                return 0  # another pass took some of them and sends them; nothing is committed
            session.add(
                OutboxMessage(
                    dedupe_key=f"digest:{person.email}:{now:%Y%m%dT%H%M%S.%f}"[:200],
                    kind=DIGEST,
                    recipient=person.email,
                    payload={"kind": "digest", "notices": ids, "since": since.isoformat()},
                )
            )
            person.digest_sent_at = now
            planned += 1
        try:
            uow.commit()
        except IntegrityError:  # another sweeper planned them at the same moment
            return 0
        return planned


def parse_notify(text: str) -> str:
    """`immediate` or `digest`, or one clear error."""
    if text not in NOTIFY:
        raise InvalidInput(f"unknown --notify {text!r}; use immediate or digest")
    return text


def check_rhythm(notify: str | None, time_zone: str | None) -> None:
    """Refuse an unknown --notify value or time zone, naming it and the fix."""
    if notify is not None:
        parse_notify(notify)
    if time_zone is not None:
        zone(time_zone)


def set_rhythm(
    uow: UnitOfWork, email: str, notify: str | None = None, time_zone: str | None = None
) -> Person:
    """How a person wants their notices: each at once, or a daily digest at 08:00 in
    `time_zone` (their own; the MSP's XBR_TIMEZONE when they have none). Checked first."""
    check_rhythm(notify, time_zone)
    with uow:
        person = person_by_email(uow.session, email)
        if notify is not None:
            person.notify = notify
        if time_zone is not None:
            person.timezone = time_zone
        uow.commit()
        return person
