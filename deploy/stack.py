"""The embedded stack (`xbr up`): a private Prefect server under XBR_HOME and a runner serving
the `business-review` and `review-sweeper` deployments, in the foreground until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from bootstrap import Root, private_home
from bootstrap.prefect_env import healthy, prefect_home, server_env, stack_file
from deploy.notifier import start_in_thread as notifier_thread
from states.errors import XbrError
from states.settings import Settings

# the account calendar's daily pass, in the MSP's time zone; empty: no schedule (`xbr calendar run`)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_free(port: int) -> None:
    """Refuse, in one line, a port that something else listens on."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise XbrError(
                f"port {port} for the Prefect server is taken (another Prefect or `xbr up`?); "
                "stop what uses it, or set XBR_PREFECT_PORT to a free port"
            ) from None


@contextmanager
def prefect_server(settings: Settings, port: int) -> Iterator[dict[str, str]]:
    """A private Prefect server for as long as the block runs; yields its client settings."""
    env = server_env(settings, port)
    prefect_home(settings).mkdir(parents=True, exist_ok=True)
    log = (prefect_home(settings) / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not healthy(env["PREFECT_API_URL"]):
            if process.poll() is not None or time.monotonic() > deadline:
                raise XbrError(
                    f"the Prefect server did not start; see {prefect_home(settings)}/server.log"
                )
            time.sleep(0.3)
        yield {**env, "XBR_SERVER_PID": str(process.pid)}
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            process.kill()
        log.close()


async def _serve(settings: Settings, limit: int, ready: Callable[[], None]) -> None:
    from prefect.runner import Runner
    from prefect.schedules import Cron, Interval

    from flows.account_calendar import account_calendar
    from flows.business_review import business_review
    from flows.review_sweeper import review_sweeper

    runner = Runner(name="xbr", pause_on_shutdown=False, limit=limit)
    await runner.aadd_flow(business_review, name="business-review", tags=["xbr"])
    await runner.aadd_flow(
        review_sweeper,
        name="review-sweeper",
        tags=["xbr"],
        # a fixed anchor keeps the grid when the runner restarts; the slug lets it re-register
        schedules=[
            Interval(
                timedelta(minutes=settings.sweep_minutes),
                anchor_date=datetime(2026, 1, 1, tzinfo=UTC),
                slug="sweep",
            )
        ],
    )
    await runner.aadd_flow(
        account_calendar,
        name="account-calendar",
        tags=["xbr"],
        schedules=[Cron(settings.calendar_cron, timezone=settings.timezone, slug="daily")]
        if settings.calendar_cron
        else [],
    )
    await asyncio.to_thread(_recover)  # sync Prefect calls: off the event loop
    ready()
    # Runner.start() installs a SIGTERM handler of its own that does not stop it (3.8):
    # put ours back once it has.
    handler = signal.getsignal(signal.SIGTERM)
    asyncio.get_running_loop().call_later(1, signal.signal, signal.SIGTERM, handler)
    await runner.start()


def _recover() -> None:
    """Runs interrupted by a stopped runner get new runs; reviews whose date came wake."""
    from deploy.render import console, safe
    from tasks.flow_runs import crash_orphaned_runs
    from tasks.sweeping import reattach_lost_runs, wake_due_reviews

    try:
        crash_orphaned_runs()
        reattach_lost_runs.fn()
        wake_due_reviews.fn()
    except Exception as exc:  # the sweeper retries every few minutes: start anyway
        console.print(f"[yellow]recovery at start-up failed, the sweeper retries: {safe(exc)}")


def running_pid(settings: Settings) -> int | None:
    """The process of the `xbr up` running on this XBR_HOME, if one is."""
    path = stack_file(settings)
    if not path.exists():
        return None
    pid = json.loads(path.read_text()).get("pid")
    return int(pid) if _alive(pid) else None


def _alive(pid: object) -> bool:
    try:
        os.kill(int(str(pid)), 0)
    except (OSError, ValueError):
        return False
    return True


def _stop_stale_server(settings: Settings, force: bool = False) -> None:
    """A previous `xbr up` killed hard leaves its server behind: stop it before starting anew.

    With `force`, this process is the one going down and stops its own server.
    """
    path = stack_file(settings)
    if not path.exists():
        return
    stack = json.loads(path.read_text())
    if not force and _alive(stack.get("pid")):
        raise XbrError(f"xbr is already up (process {stack['pid']}): {stack['ui_url']}")
    if stack.get("server_pid") and _alive(stack["server_pid"]):
        os.killpg(int(stack["server_pid"]), signal.SIGTERM)
        for _ in range(50):
            if not _alive(stack["server_pid"]):
                break
            time.sleep(0.2)
    path.unlink()


def _stop_on_sigterm(cleanup: Callable[[], None]) -> None:
    """SIGTERM stops like Ctrl-C; if the runner does not let go in time, exit hard.

    Exiting hard loses nothing: a run interrupted between two gates is marked crashed and
    replaced at the next start-up.
    """

    def handler(signum: int, frame: object) -> None:
        def force() -> None:
            cleanup()
            os._exit(0)

        timer = threading.Timer(20, force)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def up(root: Root, port: int | None, limit: int = 8) -> None:
    """Run the stack in the foreground; Ctrl-C or SIGTERM stops all of it."""
    settings = root.settings
    from deploy.render import console, say, warn
    from notifications.channels import unset_warning

    private_home(settings)
    _stop_stale_server(settings)
    external = os.environ.get("PREFECT_API_URL")
    # a fixed port (XBR_PREFECT_PORT): the run links in older emails keep working
    port = port or settings.prefect_port
    if not external:
        require_free(port)
    _stop_on_sigterm(lambda: _stop_stale_server(settings, force=True))
    # the runner polls every second, so a resumed review continues within a few seconds
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")
    os.environ.setdefault("PREFECT_HOME", str(prefect_home(settings)))
    with _maybe_server(settings, external, port) as env:
        server_pid = env.pop("XBR_SERVER_PID", None)
        os.environ.update(env)
        stack = {
            "api_url": env["PREFECT_API_URL"],
            "ui_url": env["PREFECT_UI_URL"],
            "page_url": settings.page_url,
        }

        def ready() -> None:
            # written once the deployments exist: commands that find it can start reviews
            stack_file(settings).write_text(
                json.dumps({**stack, "pid": os.getpid(), "server_pid": server_pid})
            )
            say(f"xbr is up: Prefect UI at {stack['ui_url']} (Ctrl-C stops it)")
            if unset := unset_warning(settings):
                warn(unset)

        page = _start_page(root)
        notifier = notifier_thread(settings, root.uow)
        try:
            asyncio.run(_serve(settings, limit, ready))
        except KeyboardInterrupt:
            console.print("stopping xbr")
        finally:
            notifier.set()
            if page is not None:
                page[0].should_exit = True
                page[1].join(5)
            with suppress(FileNotFoundError):
                stack_file(settings).unlink()


def _start_page(root: Root) -> tuple[Any, threading.Thread] | None:
    """The approval page beside the runner; reviews go on without it if its port is taken."""
    from deploy import board_page, web
    from deploy.render import console, safe, say

    try:
        root.migrated_uow()  # refuse an unmigrated database once, before listening
        page = web.start_in_thread(root.settings, root.uow)
    except XbrError as exc:
        console.print(f"[yellow]approval page not started: {safe(exc)}[/yellow]")
        return None
    say(f"web app at {root.settings.page_url}/ (sign in with your email; approval links too)")
    say(
        f"board at {board_page.board_address(root.settings)} (signed in, or its key: "
        "`xbr board key`)",
        soft_wrap=True,
    )
    return page


@contextmanager
def _maybe_server(settings: Settings, external: str | None, port: int) -> Iterator[dict[str, str]]:
    if external:
        ui = os.environ.get("PREFECT_UI_URL", external.removesuffix("/api"))
        yield {"PREFECT_API_URL": external, "PREFECT_UI_URL": ui}
        return
    with prefect_server(settings, port) as env:
        yield env
