"""Run one local PSA server as its own process, e.g. for a benchmark.

    python -m tests.psa_servers connectwise --port 0 --latency 0.05 --rate 10 --setup setup.json

prints one JSON line, `{"url": ..., "vendor": ..., <credentials>}`, once it listens, then serves
until SIGTERM or SIGINT; on SIGUSR1 it prints `{"requests", "refused", "dropped", "span_s"}`
since the last SIGUSR1.
The setup file (optional) seeds it:

    connectwise: {"companies": [{"name", "identifier"}], "boards": [{"name", "statuses":
                  [["New", false], ["Closed", true]]}], "sources": ["xbr"], "tickets": [...]}
    autotask:    {"companies": ["Acme"], "resources": ["owner@msp.example"], "statuses":
                  [[10, "Waiting"]], "queues": [[5, "Help Desk"]], "sources": [[4, "xbr"]],
                  "tickets": [...]}
    halo:        {"clients": ["Acme"], "statuses": [[3, "Waiting", false]], "tickets": [...]}

where "tickets" are bodies as the vendor's create call takes them.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tests.psa_servers.autotask import AutotaskServer
from tests.psa_servers.common import ApiError
from tests.psa_servers.connectwise import ConnectWiseServer
from tests.psa_servers.halo import HaloServer

Server = ConnectWiseServer | AutotaskServer | HaloServer


def seed_connectwise(server: ConnectWiseServer, setup: dict[str, Any]) -> None:
    """Companies, boards, sources, then tickets created as `POST /service/tickets` would."""
    for company in setup.get("companies", []):
        server.add_company(company["name"], company.get("identifier"))
    for board in setup.get("boards", []):
        server.add_board(
            board["name"], [(name, bool(closed)) for name, closed in board["statuses"]]
        )
    for source in setup.get("sources", []):
        server.add_source(source)
    for body in setup.get("tickets", []):
        server.create_ticket(body)


def seed_autotask(server: AutotaskServer, setup: dict[str, Any]) -> None:
    """Companies, resources, picklist values, then tickets created as `POST Tickets` would."""
    for name in setup.get("companies", []):
        server.add_company(name)
    for email in setup.get("resources", []):
        server.add_resource(email)
    for add, key in ((server.add_status, "statuses"), (server.add_queue, "queues"),
                     (server.add_source, "sources")):  # fmt: skip
        for value, label in setup.get(key, []):
            add(int(value), str(label))
    for body in setup.get("tickets", []):
        server.create_ticket(body)


def seed_halo(server: HaloServer, setup: dict[str, Any]) -> None:
    """Clients, statuses, then tickets created as `POST /api/Tickets` would."""
    for name in setup.get("clients", []):
        server.add_client(name)
    for status_id, name, closed in setup.get("statuses", []):
        server.add_status(int(status_id), str(name), bool(closed))
    for body in setup.get("tickets", []):
        server.create_ticket(body)


def build(vendor: str, args: argparse.Namespace) -> Server:
    """The server for `vendor`, seeded from `--setup`."""
    options = {"latency": args.latency, "rate_per_second": args.rate, "port": args.port}
    setup = json.loads(Path(args.setup).read_text()) if args.setup else {}
    if vendor == "connectwise":
        connectwise = ConnectWiseServer(**options)
        seed_connectwise(connectwise, setup)
        return connectwise
    if vendor == "autotask":
        autotask = AutotaskServer(**options)
        seed_autotask(autotask, setup)
        return autotask
    halo = HaloServer(**options)
    seed_halo(halo, setup)
    return halo


def served(server: Server, since: list[int]) -> dict[str, Any]:
    """What was served since the last report: requests answered, those refused with 429, and
    the seconds from the first of them to the last (its pace, as the PSA saw it)."""
    with server.lock:
        start = since[0]
        answers, times = server.requests[start:], server.answered_at[start:]
        since[0] = len(server.requests)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {"requests": len(answers), "refused": sum(a[2] == 429 for a in answers),
            "dropped": server.dropped, "span_s": round(span, 3)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Serve until told to stop."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.psa_servers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("vendor", choices=("connectwise", "autotask", "halo"))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--rate", type=float, default=None, help="requests per rolling second")
    parser.add_argument("--setup", help="a JSON file that seeds the server")
    args = parser.parse_args(argv)
    try:
        server = build(args.vendor, args)
    except ApiError as error:
        refusal = json.dumps(error.response.body)
        print(
            f"psa_servers: {args.setup} seeds a record {args.vendor} refuses: {refusal}",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(
            f"psa_servers: cannot start {args.vendor}: {error!r}; check --port and --setup",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # SIGUSR1: one JSON line of what was served so far (a benchmark reads it before and after)
    since = [0]
    signal.signal(signal.SIGUSR1, lambda *_: print(json.dumps(served(server, since)), flush=True))
    with server:
        print(
            json.dumps({"url": server.url, "vendor": args.vendor, **server.credentials()}),
            flush=True,
        )
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
