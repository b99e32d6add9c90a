"""Talking to a PSA over HTTP: paced under its rate limit, 429s waited out as its Retry-After
says, and every failure one line that names the PSA and what to check.

A write whose answer never came (a timeout, a dropped connection) may have happened:
`Unanswered` says so, and the caller looks the object up by its stamp before writing again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from states.errors import XbrError

MAX_WAIT = 30.0  # seconds a request waits out a 429 in place; longer: the outbox backs off
THROTTLED_TRIES = 3  # with MAX_WAIT: a message keeps well within its lease (5 minutes)
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
WINDOW = 1.02  # the pacing window: a second, and a margin for the PSA's clock


class PsaError(XbrError):
    """The PSA answered with an error, or not at all: one line, tried again later."""


class Refused(PsaError):
    """The PSA refused xbr's credentials or their rights (401, 403)."""


class Unanswered(PsaError):
    """No answer came: the request may or may not have been carried out."""


class Throttled(PsaError):
    """The PSA's rate limit holds for longer than a request waits: retry after `seconds`."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class Api:
    """One PSA's HTTP API: a base URL, the headers every call carries, a pace of `rate`
    requests a second, and `fix`: what to check when the credentials are refused."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        rate: float,
        fix: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name, self.fix, self.sleep = name, fix, sleep
        self.client = httpx.Client(
            base_url=base_url, headers=headers, timeout=TIMEOUT, transport=transport
        )
        self.pace = pace_of(base_url, rate, sleep)
        self.requests = 0

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and return its successful answer; raise PsaError otherwise."""
        for _ in range(THROTTLED_TRIES):
            self.pace.wait()
            self.requests += 1
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise Unanswered(
                    f"{self.name} did not answer {method} {_path(url)} ({type(exc).__name__}); "
                    "it is tried again later"
                ) from None
            except httpx.HTTPError as exc:
                raise PsaError(f"{self.name}: {type(exc).__name__}: {exc}"[:300]) from None
            if response.status_code != 429:
                return self._checked(method, url, response)
            seconds = retry_after(response.headers.get("Retry-After"))
            if seconds > MAX_WAIT:
                break
            self.sleep(seconds)
        raise Throttled(
            f"{self.name} is rate-limiting xbr (HTTP 429, retry after {seconds:.0f} s); "
            "it is tried again then",
            seconds,
        )

    def _checked(self, method: str, url: str, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        said = said_by(response)
        if response.status_code in (401, 403):
            raise Refused(
                f"{self.name} refused xbr's credentials (HTTP {response.status_code}{said}); "
                f"{self.fix}"
            )
        raise PsaError(f"{self.name} answered {method} {_path(url)} with HTTP "
                       f"{response.status_code}{said}")  # fmt: skip

    def close(self) -> None:
        """Close the connections."""
        self.client.close()


class Pace:
    """At most `rate` requests in any second (and a margin): a burst goes out at once, the
    next waits until the first of the last `rate` is a window old."""

    def __init__(self, rate: float, sleep: Callable[[float], None]) -> None:
        self.rate = rate
        self.size = max(1, int(rate))
        self.window = WINDOW * self.size / rate if rate else 0.0
        self.sent: deque[float] = deque(maxlen=self.size)
        self.sleep = sleep
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Wait until one more request keeps the pace, and count it."""
        with self.lock:  # the deliverers of one process share the PSA's pace
            if self.window and len(self.sent) == self.size:
                ahead = self.sent[0] + self.window - time.monotonic()
                if ahead > 0:
                    self.sleep(ahead)
            self.sent.append(time.monotonic())


_PACES: dict[str, Pace] = {}
_PACES_LOCK = threading.Lock()


def pace_of(base_url: str, rate: float, sleep: Callable[[float], None]) -> Pace:
    """The pace of the PSA at `base_url` in this process: one pass's connector takes up the
    count where the last one left it, so passes in a row never go over the rate together."""
    with _PACES_LOCK:
        pace = _PACES.get(base_url)
        if pace is None or pace.rate != rate or pace.sleep is not sleep:
            pace = _PACES[base_url] = Pace(rate, sleep)
        return pace


def retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header: seconds, or an HTTP date; 1 when absent."""
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return 1.0


def said_by(response: httpx.Response) -> str:
    """What the PSA's error body says, on one short line (each PSA words it differently)."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:160]
        return f": {text}" if text else ""
    said = _message(body)
    return f": {' '.join(said.split())[:200]}" if said else ""


def _message(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "; ".join(_message(item) for item in body[:3])
    if not isinstance(body, dict):
        return ""
    for key in ("message", "Message", "error_description", "errorMessage", "error"):
        if isinstance(body.get(key), str) and body[key]:
            details = body.get("errors")
            extra = f" ({_message(details)})" if isinstance(details, list) and details else ""
            return str(body[key]) + extra
    if isinstance(body.get("errors"), list):
        return _message(body["errors"])
    return ""


def _path(url: str) -> str:
    return httpx.URL(url).path or url
