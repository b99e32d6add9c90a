"""`xbr web`'s worker processes, each listening on a socket of its own.

uvicorn's supervisor gives every worker one shared listening socket. All of them wait on it,
and Linux hands a new connection to whichever wakes first: the worker that ran last. In a
burst, nearly every connection lands on one worker while the others idle. Here each worker
gets its own socket on the same address (SO_REUSEPORT), and the kernel spreads new
connections over the sockets by their addresses, so each worker takes its share of a burst.
"""

from __future__ import annotations

import logging
import socket
from contextlib import suppress

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from states.errors import InvalidInput

log = logging.getLogger("uvicorn.error")


def listening_sockets(config: Config) -> list[socket.socket]:
    """One socket per worker, all bound to the config's host and port (SO_REUSEPORT), once
    the port is known to be free: another `xbr web` of the same user could otherwise join
    the group and take a share of the connections."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    address = (config.host, config.port)
    with _socket(family, reuse_port=False) as probe:
        _bind(probe, address)
    sockets: list[socket.socket] = []
    try:
        for _ in range(config.workers):
            sockets.append(_socket(family, reuse_port=True))
            _bind(sockets[-1], address)
            sockets[-1].set_inheritable(True)
    except BaseException:
        for made in sockets:
            made.close()
        raise
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", *address)
    return sockets


def _socket(family: socket.AddressFamily, reuse_port: bool) -> socket.socket:
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _bind(sock: socket.socket, address: tuple[str, int]) -> None:
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"xbr web cannot listen on {address[0]}:{address[1]} ({exc.strerror}); stop "
            "what uses that port, or give another with --port or XBR_WEB_PORT"
        ) from None


class SpreadWorkers(Multiprocess):
    """uvicorn's supervisor (signals, health checks, restarts), a worker per socket: a worker
    that dies is replaced on its own socket, whose waiting connections it then serves."""

    def _process(self, slot: int) -> Process:
        return Process(self.config, [self.sockets[slot]])

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            process = self._process(slot)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._process(slot)
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: its socket gets a new worker
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app cannot start: neither would another
                log.error("Child process [%s] failed to start, stopping.", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("Child process [%s] died", process.pid)
            self.processes[slot] = self._process(slot)
            self.processes[slot].start()


def run_workers(config: Config) -> None:
    """Serve `config` (an import string, `config.workers` processes) until Ctrl-C."""
    with suppress(KeyboardInterrupt):
        SpreadWorkers(config, listening_sockets(config)).run()
