"""A local mailbox: an SMTP server (aiosmtpd) that keeps every message it receives.

`make demo` starts one so that the messages each role gets can be read with their links;
the tests start one to receive xbr's real emails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from deploy.stack import free_port


class _Keeper:
    def __init__(self, inbox: list[EmailMessage], lock: threading.Lock) -> None:
        self.inbox, self.lock = inbox, lock

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.inbox.append(message)
        return "250 Message accepted for delivery"


class Mailbox:
    """An SMTP server on host:port; `messages` are the emails received, parsed."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port or free_port()
        self._inbox: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """The XBR_SMTP_URL that sends to this mailbox."""
        return f"mailto://{self.host}:{self.port}?from=xbr@msp.example"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._inbox)

    def start(self) -> Mailbox:
        self._controller = Controller(
            _Keeper(self._inbox, self._lock), hostname=self.host, port=self.port
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(
        self, matches: Callable[[EmailMessage], bool], timeout: float = 30
    ) -> EmailMessage:
        """The first message that matches, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if matches(message):
                    return message
            time.sleep(0.1)
        raise TimeoutError(f"no matching email within {timeout} s; got {len(self.messages)}")

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
