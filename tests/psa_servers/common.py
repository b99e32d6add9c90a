"""What every local PSA server shares: the HTTP plumbing, rate limit, latency, faults, log."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date or datetime (`Z` or an offset or neither, meaning UTC), in UTC."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


@dataclass
class Request:
    """One HTTP request as the server received it."""

    method: str
    target: str  # the path with its query, as sent
    headers: Message
    body: bytes
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        # .NET and IIS bind query parameters whatever their case
        self.query = {
            k.lower(): v for k, v in parse_qs(parts.query, keep_blank_values=True).items()
        }

    def arg(self, name: str) -> str | None:
        """The first value of query parameter `name` (any case), or None."""
        values = self.query.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What to answer: a status, a JSON body (None for none) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a route to answer with an error response at once."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.response = Response(status, body, headers or {})


@dataclass
class Fault:
    """An injected fault: answer `response` without performing, or (None) perform and drop."""

    method: str
    pattern: re.Pattern[str]
    times: int
    response: Response | None


class RateLimiter:
    """At most `per_second` requests admitted in any rolling second."""

    def __init__(self, per_second: float, now: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._now = now
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> int | None:
        """None when admitted, else the whole seconds (at least 1) to wait before retrying."""
        with self._lock:
            now = self._now()
            while self._admitted and self._admitted[0] <= now - 1.0:
                self._admitted.popleft()
            if len(self._admitted) >= self.per_second:
                return max(1, math.ceil(self._admitted[0] + 1.0 - now))
            self._admitted.append(now)
            return None


Route = tuple[str, re.Pattern[str], Callable[..., Response]]


def route(method: str, pattern: str, handler: Callable[..., Response]) -> Route:
    """A route: `pattern` must match the whole path (any case); its groups are the arguments."""
    return (method, re.compile(pattern, re.IGNORECASE), handler)


def dispatch(routes: list[Route], request: Request) -> Response | None:
    """The response of the route for `request`; None if no route has its path."""
    path_known = False
    for method, pattern, handler in routes:
        found = pattern.fullmatch(request.path)
        if found is None:
            continue
        path_known = True
        if method == request.method:
            return handler(request, *found.groups())
    if path_known:
        return Response(
            405, {"message": f"The requested resource does not support {request.method}"}
        )
    return None


class PsaServer:
    """A threaded HTTP server on 127.0.0.1; subclasses answer in `route` under `self.lock`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_per_second: float | None = None,
        clock: Clock = utc_now,
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.clock = clock
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, int]] = []  # (method, path with query, status)
        self.answered_at: list[float] = []  # time.monotonic() of each logged answer
        self.refused = 0  # answered 429
        self.dropped = 0  # performed, then closed without an answer
        self.errors: list[str] = []  # tracebacks of the server's own bugs (answered 500)
        self._limiter = RateLimiter(rate_per_second) if rate_per_second else None
        self._faults: list[Fault] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (picked when 0 was asked)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop_response(self, method: str, path_regex: str, times: int = 1) -> None:
        """The next `times` requests whose path matches are performed, then get no answer."""
        self._add_fault(Fault(method.upper(), re.compile(path_regex, re.IGNORECASE), times, None))

    def fail(self, method: str, path_regex: str, status: int, body: Any, times: int = 1) -> None:
        """The next `times` requests whose path matches get this answer and change nothing."""
        answer = Response(status, body)
        self._add_fault(Fault(method.upper(), re.compile(path_regex, re.IGNORECASE), times, answer))

    def route(self, request: Request) -> Response:
        """The answer to `request`; called with `self.lock` held."""
        raise NotImplementedError

    def throttled(self, retry_after: int) -> Any:
        """The vendor's body for a 429."""
        raise NotImplementedError

    def metered(self, request: Request) -> bool:
        """Whether latency and the rate limit apply to `request` (not to discovery calls)."""
        return True

    def serve(self, request: Request) -> Response | None:
        """The answer to one request, or None to close the connection without one."""
        if self.metered(request):
            refused = self._refuse_over_rate(request)
            if refused is not None:
                return refused
            if self.latency:
                time.sleep(self.latency)
        fault = self._take_fault(request)
        if fault is not None and fault.response is not None:
            return self._logged(request, fault.response)
        with self.lock:
            response = self._routed(request)
            # encoded under the lock: the body may be a live record
            response = Response(response.status, _encode(response.body), response.headers)
        self._logged(request, response)
        if fault is not None:
            with self.lock:
                self.dropped += 1
            return None
        return response

    def _refuse_over_rate(self, request: Request) -> Response | None:
        if self._limiter is None:
            return None
        wait = self._limiter.admit()
        if wait is None:
            return None
        with self.lock:
            self.refused += 1
        return self._logged(
            request, Response(429, self.throttled(wait), {"Retry-After": str(wait)})
        )

    def _routed(self, request: Request) -> Response:
        try:
            return self.route(request)
        except ApiError as error:
            return error.response
        except Exception:  # the fake's own bug: answer 500 and keep it for the test to see
            self.errors.append(traceback.format_exc())
            return Response(500, {"message": "local PSA server error; see server.errors"})

    def _logged(self, request: Request, response: Response) -> Response:
        with self.lock:
            self.requests.append((request.method, request.target, response.status))
            self.answered_at.append(time.monotonic())
        return response

    def _add_fault(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.method == request.method and fault.pattern.search(request.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _encode(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode("utf-8")


def _handler_for(psa: PsaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the vendors' servers do

        def do_GET(self) -> None:  # noqa: N802
            self._serve()

        do_POST = do_PATCH = do_PUT = do_DELETE = do_GET  # noqa: N815

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            response = psa.serve(Request(self.command, self.path, self.headers, body))
            if response is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(response)

        def _send(self, response: Response) -> None:
            payload = _encode(response.body) or b""
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
