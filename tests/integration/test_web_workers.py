"""`xbr web` as an MSP runs it: the app answered by XBR_WEB_WORKERS processes, each built from
the environment, the notifier sending beside them, and Ctrl-C stopping it all."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from deploy.mailbox import Mailbox
from deploy.stack import free_port
from states.calendar.opening import start_review
from states.store.models import OutboxMessage
from states.templates.schema import Template
from tests.conftest import UowFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def web(
    sqlite_url: str, sqlite_uow: UowFactory, tmp_path: Path, mailbox: Mailbox
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`xbr web --workers 2` on a staffed SQLite database; (its address, its process)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XBR_", "PREFECT_"))}
    env |= {"XBR_HOME": str(tmp_path / "home"), "XBR_DATABASE_URL": sqlite_url,
            "XBR_SMTP_URL": mailbox.url, "XBR_WEB_REQUEST_SECONDS": "2"}  # fmt: skip
    log = (tmp_path / "web.log").open("wb")
    command = [sys.executable, "-m", "deploy.cli", "web", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base):
            assert server.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, "xbr web did not answer within 60 s"
            time.sleep(0.2)
        yield base, server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        log.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _workers(server: subprocess.Popen[bytes]) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-P", str(server.pid)], capture_output=True,
                           text=True).stdout.splitlines()  # fmt: skip
    return [line for line in found if "spawn_main" in line]


def test_two_worker_processes_answer_and_the_notifier_sends_each_notice_once(
    web: tuple[str, subprocess.Popen[bytes]],
    sqlite_uow: UowFactory,
    catalog: dict[str, Template],
    mailbox: Mailbox,
) -> None:
    base, server = web
    assert len(_workers(server)) == 2
    signin = httpx.get(f"{base}/", timeout=10)  # the app itself, not only the health check
    assert signin.status_code in (200, 303)
    review_id = start_review(sqlite_uow(), "Client qbr", catalog, actor="cli")
    with sqlite_uow() as work:
        planned = work.session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.review_id == review_id)
        ).all()
    people = [r for r in planned if r and "@" in r and not r.startswith("role:")]
    assert people
    deadline = time.monotonic() + 20
    while len(mailbox.messages) < len(people) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # a second notifier or a second send would show by now
    assert sorted(m["To"].addresses[0].addr_spec for m in mailbox.messages) == sorted(people)


def test_a_worker_cuts_off_a_slow_client_and_ctrl_c_stops_every_process(
    web: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, server = web
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        began = time.monotonic()
        while time.monotonic() - began < 8:
            try:
                slow.sendall(b"X-Drip: 1\r\n")  # a header line a second, never the end
                if slow.recv(1024, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    break
            except BlockingIOError:  # nothing to read yet: still open
                pass
            except OSError:
                break
            time.sleep(1)
        assert time.monotonic() - began < 6, "the worker still waits for the slow request"
    workers = _workers(server)
    server.send_signal(signal.SIGINT)
    assert server.wait(30) == 0
    for line in workers:
        pid = int(line.split()[0])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_end_when_xbr_web_is_killed_outright(
    web: tuple[str, subprocess.Popen[bytes]],
) -> None:
    _, server = web
    workers = [int(line.split()[0]) for line in _workers(server)]
    assert len(workers) == 2
    server.kill()  # no chance to stop them itself
    server.wait(10)
    deadline = time.monotonic() + 15
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(workers), "a worker outlived xbr web and still holds its port"


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state != "Z":  # a zombie has ended; only its parent's wait is missing
            alive.append(pid)
    return alive


def test_a_burst_of_connections_is_spread_over_the_workers(
    web: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, server = web
    port = int(base.rsplit(":", 1)[1])
    workers = [int(line.split()[0]) for line in _workers(server)]
    clients = [httpx.Client(base_url=base, timeout=10) for _ in range(40)]
    try:
        for client in clients:  # one after another, as people open the page
            assert client.get("/healthz").status_code == 200
        held = {pid: len(_sockets(pid, port, ESTABLISHED)) for pid in workers}
    finally:
        for client in clients:
            client.close()
    assert sum(held.values()) == 40, held
    assert min(held.values()) >= 8, held
    # each worker listens on a socket of its own, which the kernel spreads connections over
    # (on one shared socket, the worker that woke first takes them: in a burst, nearly all)
    listening = [_sockets(pid, port, LISTEN) for pid in workers]
    assert all(len(own) == 1 for own in listening), listening
    assert len(set.union(*listening)) == len(workers), listening


ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def _sockets(pid: int, port: int, state: str) -> set[int]:
    """Inodes of the process's TCP sockets on local `port` in `state`."""
    mine = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                mine.add(int(target[8:-1]))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(int(fields[9]))
    return mine & found


def test_xbr_web_says_so_when_its_port_is_taken(sqlite_uow: UowFactory, sqlite_url: str,
                                               tmp_path: Path) -> None:  # fmt: skip
    with socket.socket() as taken:  # as another xbr web's workers hold it
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XBR_", "PREFECT_"))}
        env |= {"XBR_HOME": str(tmp_path / "home"), "XBR_DATABASE_URL": sqlite_url,
                "XBR_WEB_HOST": "127.0.0.1"}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "deploy.cli", "web", "--port", str(port), "--workers", "2"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stdout + done.stderr
    assert "--port" in done.stdout + done.stderr
