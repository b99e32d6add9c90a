"""What the approval page allows one client: so many refused requests a minute (then 429),
a request sent whole within a time limit (then the connection is closed), and refusals of
links this xbr never signed counted, not stored one row each."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("xbr.web")
WINDOW = 60.0  # seconds: the limit is of refusals per minute
TRACKED = 10_000  # addresses remembered at most; the least recent are forgotten first


class RefusalLimit:
    """Refused requests per client address over the last minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        """True when the address was refused `per_minute` times in the last minute."""
        with self._lock:
            recent = self._recent(address, time.monotonic())
            return recent is not None and len(recent) >= self.per_minute

    def refused(self, address: str) -> None:
        """Count one refusal of the address."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(address, now)
            if recent is None:
                recent = self._seen[address] = deque()
            recent.append(now)
            self._seen.move_to_end(address)
            while len(self._seen) > TRACKED:
                self._seen.popitem(last=False)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        recent = self._seen.get(address)
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        return recent


class UnsignedLinks:
    """Requests with links this xbr did not sign (garbage, guesses, another installation's):
    counted, and said in the log at most once a minute, instead of an audit row each."""

    def __init__(self) -> None:
        self.total = 0
        self._since_said = 0
        self._said_at = time.monotonic()
        self._lock = threading.Lock()

    def refused(self) -> None:
        with self._lock:
            self.total += 1
            self._since_said += 1
            now = time.monotonic()
            if now - self._said_at < WINDOW:
                return
            count, self._since_said, self._said_at = self._since_said, 0, now
        log.warning("approval page: refused %d requests with links xbr did not sign", count)


class SlowRequestProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol that closes a connection whose request has not arrived
    whole `seconds` after the connection opened or its previous response ended: a client that
    sends its headers or form a byte at a time holds no connection for long. A worker process
    of `xbr web` names it by its import path and sets `seconds` from its settings."""

    seconds: float = 20.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._start_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._start_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _start_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.seconds, self._too_slow)

    def _too_slow(self) -> None:
        # the request is in (their side DONE): the answer is ours to give, however long
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def slow_request_protocol(seconds: float) -> type[H11Protocol]:
    """SlowRequestProtocol closing after `seconds` (a server in a thread of its own)."""
    return type("SlowRequestProtocol", (SlowRequestProtocol,), {"seconds": seconds})
