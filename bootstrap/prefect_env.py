"""The Prefect environment of an xbr process: the private server's settings, and pointing this
process at the Prefect API (PREFECT_API_URL, else the `xbr up` running on this XBR_HOME).

A leaf: it imports no prefect, so that it can run before prefect reads its settings at import.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from states.errors import XbrError
from states.settings import Settings


def stack_file(settings: Settings) -> Path:
    """Where `xbr up` writes the URLs of the stack it runs."""
    return settings.home / "stack.json"


def prefect_home(settings: Settings) -> Path:
    return settings.home / "prefect"


def server_env(settings: Settings, port: int) -> dict[str, str]:
    """Settings of a private, offline Prefect server: on SQLite under XBR_HOME, or on the
    database PREFECT_SERVER_DATABASE_CONNECTION_URL names."""
    home = prefect_home(settings)
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        # links in messages open the UI where people reach it (e.g. behind the MSP's proxy)
        "PREFECT_UI_URL": os.environ.get("PREFECT_UI_URL") or f"http://127.0.0.1:{port}",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": settings.prefect_url,
        # bounded: runs that ended XBR_RUN_RETENTION_DAYS ago go, with their logs, artifacts
        # and events. A review's run waits paused or scheduled and never ends while the review
        # is open (one that crashed has a new run), so none of them is ever among those.
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(
            settings.run_retention_days * 86400
        ),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # the server copies its UI bundle on first start: keep it out of site-packages
        "PREFECT_SERVER_UI_STATIC_DIRECTORY": str(home / "ui"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLI_PROMPT": "false",
        "DO_NOT_TRACK": "1",
    }


def use_prefect(settings: Settings) -> str:
    """Point this process at the Prefect API (PREFECT_API_URL, else the running `xbr up`).

    Must run before prefect is imported: prefect reads its settings at import time.
    """
    os.environ.setdefault("PREFECT_HOME", str(prefect_home(settings)))
    if not os.environ.get("PREFECT_API_URL"):
        path = stack_file(settings)
        if not path.exists():
            raise XbrError(
                "no Prefect server: start `xbr up` in another terminal, set PREFECT_API_URL, "
                "or add --no-flow"
            )
        stack = json.loads(path.read_text())
        os.environ["PREFECT_API_URL"] = stack["api_url"]
        os.environ.setdefault("PREFECT_UI_URL", stack["ui_url"])
    url = os.environ["PREFECT_API_URL"]
    if not healthy(url):
        raise XbrError(f"the Prefect API at {url} does not answer; is `xbr up` running?")
    return url


def healthy(api_url: str) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False
