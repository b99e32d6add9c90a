#!/usr/bin/env python
"""A quarter-start burst mirrored to ConnectWise: N reviews (1,000) opened at once, each
mirrored as a ticket on the BTR board with the tasks of its first phase, through the outbox,
to a local ConnectWise server in its own process that answers in 50 ms and refuses more than
10 requests a second (429, Retry-After).

    .venv/bin/python bench/psa_mirror.py [--reviews 1000] [--latency 0.05] [--limit 10]
                                         [--xbr-rate 10] [--out FILE]

The delivery runs as the notifier does (deliver_due, pass after pass, until nothing is due);
the time is from the first pass to the last. Requests are counted by the server (SIGUSR1
before and after); the rate is the requests it took (not refused) per second of delivery, and
per second from its first request to its last (the pace the PSA saw, without the outbox's own
work before the first request).
Afterwards every ticket on the server is listed (pages of 1,000) and its stamp checked: one
ticket per review, none twice. JSON goes to bench/results/psa-mirror-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BOARD = ["BTR Needed", "Scheduling", "Scheduled", "Stage", "Prep", "Deliver", "Follow up",
         "Completed", "Closed"]  # fmt: skip


class Server:
    """The local ConnectWise in its own process."""

    def __init__(self, setup: Path, latency: float, limit: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.psa_servers", "connectwise", "--latency", str(latency),
             "--rate", str(limit), "--setup", str(setup)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.info = json.loads(self.process.stdout.readline())

    def served(self) -> dict[str, Any]:
        """What it served since it was last asked, as it counts."""
        assert self.process.stdout is not None
        self.process.send_signal(signal.SIGUSR1)
        return dict(json.loads(self.process.stdout.readline()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def listed(api_url: str, path: str, headers: dict[str, str], fields: str) -> list[dict[str, Any]]:
    """Every record at `path`, page after page by the Link header, as a PSA admin lists them."""
    import httpx

    found: list[dict[str, Any]] = []
    url: str | None = f"{api_url}/{path}"
    params: dict[str, Any] = {"pageSize": 1000, "orderBy": "id asc", "fields": fields}
    with httpx.Client(headers=headers, timeout=60) as client:
        while url:
            answer = client.get(url, params=params)
            if answer.status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            answer.raise_for_status()
            found += answer.json()
            links = answer.headers.get("Link", "")
            nexts = [p.split(";")[0].strip("<> ") for p in links.split(",") if 'rel="next"' in p]
            url, params = (nexts[0], {}) if nexts else (None, {})
    return found


def measure(reviews: int, latency: float, limit: float, xbr_rate: float) -> dict[str, Any]:
    """Open the burst, mirror it, check it."""
    import base64

    from notifications.outbox import deliver_due
    from psa.connection import Connection, save
    from psa.connectwise import site_api
    from states import directory
    from states.calendar.opening import start_review
    from states.psa.companies import map_client
    from states.settings import Settings
    from states.store import db
    from states.templates.catalog import load_catalog
    from tests.conftest import staffed

    with tempfile.TemporaryDirectory() as tmp:
        names = [f"Burst client {n:04d}" for n in range(reviews)]
        setup = Path(tmp) / "setup.json"
        setup.write_text(json.dumps({
            "companies": [{"name": name, "identifier": f"B{n:04d}"}
                          for n, name in enumerate(names)],
            "boards": [{"name": "BTR", "statuses": [[s, s == "Closed"] for s in BOARD]}],
            "sources": ["BTR"],
        }))  # fmt: skip
        server = Server(setup, latency, limit)
        try:
            info = server.info
            api = site_api(info["url"], info["company_id"])
            login = f"{info['company_id']}+{info['public_key']}:{info['private_key']}"
            headers = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode(),
                       "clientId": info["client_id"]}  # fmt: skip
            home = Path(tmp) / "home"
            save(home, Connection(kind="connectwise", url=api, company_id=info["company_id"],
                                  public_key=info["public_key"], private_key=info["private_key"],
                                  client_id=info["client_id"], rate=xbr_rate))  # type: ignore[arg-type]  # fmt: skip
            engine = db.make_engine(f"sqlite:///{tmp}/xbr.db")
            db.upgrade(engine)
            catalog = load_catalog()
            uow = staffed(engine, catalog)
            companies = listed(api, "company/companies", headers, "id,name")
            by_name = {c["name"]: c["id"] for c in companies}
            opened = time.perf_counter()
            for name in names:
                directory.add_client(uow(), name, "quarterly", "qbr", "America/New_York", catalog)
                map_client(uow(), name, str(by_name[name]), name)
                start_review(uow(), name, catalog)
            opening = time.perf_counter() - opened
            settings = Settings(home=home)
            server.served()  # what it served before the burst is not counted
            started, passes, statuses = time.perf_counter(), 0, Counter[str]()
            while True:
                delivered = [d for d in deliver_due(uow(), settings) if d.kind.startswith("psa.")]
                passes += 1
                statuses.update(d.status for d in delivered)
                if not delivered:
                    break
            seconds = time.perf_counter() - started
            after = server.served()
            made = listed(api, "service/tickets", headers, "id,externalXRef")
        finally:
            server.stop()
    stamps = Counter(t.get("externalXRef") for t in made)
    requests, refused, span = after["requests"], after["refused"], after["span_s"]
    return {
        "reviews": reviews,
        "server": {"latency_s": latency, "limit_per_s": limit},
        "xbr_rate_per_s": xbr_rate,
        "opening_s": round(opening, 1),
        "mirror_s": round(seconds, 1),
        "passes": passes,
        "messages": dict(statuses),
        "requests": requests,
        "refused_429": refused,
        "taken_per_s": round((requests - refused) / seconds, 2),
        "of_limit": round((requests - refused) / seconds / limit, 3),
        "traffic_s": span,
        "taken_per_s_of_traffic": round((requests - refused) / span, 2) if span else None,
        "of_limit_in_traffic": round((requests - refused) / span / limit, 3) if span else None,
        "tickets": len(made),
        "duplicates": sum(n - 1 for n in stamps.values() if n > 1),
        "unstamped": stamps.get(None, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=float, default=10)
    parser.add_argument("--xbr-rate", type=float, default=10, help="xbr's --rate for the PSA")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {
        "benchmark": "psa-mirror",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
        **measure(args.reviews, args.latency, args.limit, args.xbr_rate),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    out = args.out or HERE / "results" / f"psa-mirror-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
