"""SQLite's writers wait in line for each other, threads and processes alike.

SQLite lets one writer in at a time; the others retry from its busy handler, which sleeps
between tries, longer and longer (up to 100 ms). A writer the lock is freed for often sleeps
on while another writer, awake, takes it again. Here a writer first takes its place in line (a
semaphore among the process's threads, then a lock on a file beside the database among
processes) and starts its transaction only then, the moment the one before ends.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # not on Linux or macOS: the processes meet SQLite's busy handler instead
    fcntl = None  # type: ignore[assignment]

WAIT_SECONDS = 60.0  # as SQLite's busy timeout: then the writer goes on to SQLite's own wait
_LONGEST_NAP = 0.002  # between looks at another process's lock: its handover takes this at most


class WriterLine:
    """The line of the writers of one SQLite database file (None: a database in memory)."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Semaphore()
        self._path = Path(f"{database}-writers") if database and database != ":memory:" else None
        self._held: IO[bytes] | None = None

    def enter(self) -> bool:
        """Wait for this writer's turn; False when it did not come within WAIT_SECONDS (the
        writer then waits as SQLite makes it, and must not leave)."""
        deadline = time.monotonic() + WAIT_SECONDS
        if not self._threads.acquire(timeout=WAIT_SECONDS):
            return False
        if fcntl is None or self._path is None:
            return True
        try:
            held = self._path.open("ab")
        except OSError:  # a folder it cannot write in: the processes meet the busy handler
            return True
        nap = 0.0002
        while True:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    held.close()
                    self._threads.release()
                    return False
                time.sleep(nap)
                nap = min(nap * 2, _LONGEST_NAP)
                continue
            self._held = held
            return True

    def leave(self) -> None:
        """Give the turn to the next writer."""
        held, self._held = self._held, None
        if held is not None:
            with suppress(OSError):
                held.close()  # closing drops the lock
        self._threads.release()
