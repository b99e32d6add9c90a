"""The notifier: sends the outbox's due notices every few seconds, beside the runner.

It runs in `xbr up` and `xbr web`, so a notice goes out within seconds of the change that
planned it, whoever made the change, and the review's run never waits for a mail server
before it suspends. The sweeper's retried task sends whatever is left (after a failure's
backoff, or when no notifier runs); claims keep two senders from sending one notice twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from states.settings import Settings
from states.store.db import UnitOfWork

EVERY_SECONDS = 2.0
log = logging.getLogger("xbr.notifier")


def start_in_thread(
    settings: Settings, uow: Callable[[], UnitOfWork], every: float = EVERY_SECONDS
) -> threading.Event:
    """Start sending in a daemon thread; set the returned event to stop it."""
    from notifications.outbox import deliver_due

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                deliver_due(uow(), settings)
            except Exception as exc:  # a bad config or a busy database: say so, try again
                log.warning("notices not sent: %s", exc)
            stop.wait(every)

    threading.Thread(target=loop, name="xbr-notifier", daemon=True).start()
    return stop
