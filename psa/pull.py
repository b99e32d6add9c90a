"""The periodic pull from the PSA (each sweep): only the tickets changed since the last pull
(with a small overlap for clocks and late writes), never a full scan. A follow-up ticket closed
there is closed in xbr; a review's ticket moved to another status there is a note for the
review's accountable person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from psa.connection import Connection
from psa.connector import Connector, RemoteTicket
from states.psa import from_psa, links
from states.store.db import UnitOfWork
from states.store.models import utcnow

OVERLAP = timedelta(minutes=2)
FIRST_LOOK = timedelta(days=1)  # how far back the first pull looks when nothing is linked
CHUNK = 500  # remote tickets matched against xbr's links per query


@dataclass
class Pulled:
    """What one pull read and did."""

    read: int = 0
    closed: list[int] = field(default_factory=list)  # xbr's follow-up tickets closed
    noted: list[int] = field(default_factory=list)  # reviews whose accountable person was told


def pull(uow: UnitOfWork, connection: Connection, connector: Connector) -> Pulled:
    """Read the PSA's changed tickets and act on those xbr mirrors."""
    since = links.pulled_until(uow, connection.kind) or utcnow() - FIRST_LOOK
    done, newest = Pulled(), since
    changes = connector.changed_tickets(since - OVERLAP)
    while chunk := list(islice(changes, CHUNK)):
        done.read += len(chunk)
        newest = max([newest, *(t.updated_at for t in chunk)])
        _act(uow, connection, chunk, done)
    links.pulled(uow, connection.kind, newest)
    return done


def _act(uow: UnitOfWork, connection: Connection, chunk: list[RemoteTicket], done: Pulled) -> None:
    remote = {t.id: t for t in chunk}
    now = utcnow()
    for link in links.by_remote(uow, connection.kind, ("review", "ticket"), list(remote)):
        ticket = remote[link.remote_id or ""]
        if link.object == "ticket" and ticket.closed and not link.state.get("closed"):
            if from_psa.close_ticket(uow, link, connection.name, ticket.by, now):
                done.closed.append(link.local_id)
        elif link.object == "review" and _moved_there(link.state, ticket):
            from_psa.note_status(uow, link, connection.name, ticket.status, ticket.by, now)
            done.noted.append(link.local_id)


def _moved_there(state: dict[str, object], ticket: RemoteTicket) -> bool:
    """The ticket shows a status xbr did not give it, and that was not noted already."""
    return bool(ticket.status) and ticket.status not in (state.get("status"), state.get("seen"))
