"""The notifier: sends the outbox's due notices, beside the runner.

It runs in `xbr up` and `xbr web`, so a notice goes out within a moment of the change that
planned it, whoever made the change (a page, a signed link, the command line, a flow run),
and the review's run never waits for a mail server before it suspends. It looks four times a
second (a query on an index when nothing is due) and at a lower CPU priority than the pages,
so a burst of decisions is answered first and mailed right after. The sweeper's retried task
sends whatever is left (after a failure's backoff, or when no notifier runs); claims keep two
senders from sending one notice twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import suppress

from states.settings import Settings
from states.store.db import UnitOfWork
from states.store.models import utcnow

EVERY_SECONDS = 0.25
NICENESS = 10  # of the sending thread, on Linux: pages and decisions go first
# A burst of changes (people deciding at once) is answered first and mailed when it pauses:
# sending waits while the newest due notice is younger than QUIET_SECONDS, at most HOLD_SECONDS.
QUIET_SECONDS = 0.2
HOLD_SECONDS = 0.75
log = logging.getLogger("xbr.notifier")


def start_in_thread(
    settings: Settings, uow: Callable[[], UnitOfWork], every: float = EVERY_SECONDS
) -> threading.Event:
    """Start sending in a daemon thread; set the returned event to stop it."""
    from notifications.outbox import deliver_due, newest_due

    stop = threading.Event()

    def loop() -> None:
        _lower_priority()
        held = 0.0
        while not stop.is_set():
            try:
                now = utcnow()
                newest = newest_due(uow(), now)
                if newest is not None and (
                    (now - newest).total_seconds() >= QUIET_SECONDS or held >= HOLD_SECONDS
                ):
                    deliver_due(uow(), settings)
                    held = 0.0
                elif newest is not None:
                    held += every
            except Exception as exc:  # a bad config or a busy database: say so, try again
                log.warning("notices not sent: %s", exc)
            stop.wait(every)

    threading.Thread(target=loop, name="xbr-notifier", daemon=True).start()
    return stop


def _lower_priority() -> None:
    """Give this thread a lower CPU priority (Linux sets it per thread); elsewhere, or when
    refused, it sends at the same priority as before."""
    with suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
