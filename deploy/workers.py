"""xbr on a Prefect server of its own or a team's, with workers instead of `xbr up`'s runner.

`xbr deploy` creates the work pool, deploys the three deployments of deploy/prefect.yaml and
installs the automation that marks a run crashed when its worker dies with it; the sweeper
then gives that review a new run, which any worker picks up. `xbr worker` starts one worker.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from states.errors import InvalidInput, XbrError
from states.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PREFECT_FILE = ROOT / "deploy" / "prefect.yaml"
POOL = "xbr"
AUTOMATION = "xbr: crash runs whose worker died"
# Prefect's shortest heartbeat interval: a live run says so every 30 s
HEARTBEAT_SECONDS = 30
# the events that show a run is alive, or no longer running; none for this long: it died
ALIVE = {"prefect.flow-run.heartbeat", "prefect.flow-run.Pending", "prefect.flow-run.Running"}
# a run waiting at a gate is Suspended, or Refused after a refused decision (tasks/gate_pause.py)
SETTLED = {"Suspended", "Refused", "Paused", "Completed", "Failed", "Cancelled", "Cancelling",
           "Crashed"}  # fmt: skip


def worker_env(settings: Settings) -> dict[str, str]:
    """What a worker's runs need besides xbr's own settings: heartbeats, so a run whose worker
    died is noticed, a quick poll, and the results folder (share it between machines)."""
    return {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_LOCAL_STORAGE_PATH": str(settings.home / "results"),
    }


def start_worker(settings: Settings, pool: str, name: str | None) -> None:
    """Become `prefect worker start` on the pool (this process is replaced by it). How many
    runs execute at once is the pool's limit (`xbr deploy --concurrency`), not the worker's:
    Prefect 3.8's worker limit crashes the worker when a run suspends and is resumed before
    its process has exited ("this borrower is already holding one of this CapacityLimiter's
    tokens")."""
    env = {**worker_env(settings), **os.environ}  # what the environment sets wins
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool]
    if name:
        argv += ["--name", name]
    os.execve(sys.executable, argv, env)


@dataclass(frozen=True)
class Deployed:
    """What `xbr deploy` made or brought up to date."""

    prefect_file: str
    deployments: list[str]
    pool_concurrency: int | None  # None: another prefect.yaml's pool, left as it is
    automation: str
    crash_after_s: int


def deploy(crash_after: timedelta, concurrency: int, prefect_file: Path = PREFECT_FILE) -> Deployed:
    """The work pool (at most `concurrency` runs executing at once, over all its workers), the
    deployments and the automation, each created or brought up to date; run again after an
    upgrade. Another `prefect_file` (e.g. for a Kubernetes pool) names a pool of its own,
    which must exist."""
    names = deployment_names(prefect_file)
    if prefect_file == PREFECT_FILE:
        _ensure_pool(POOL, concurrency)
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all",
         "--prefect-file", str(prefect_file)],
        cwd=ROOT, env={**os.environ, "XBR_CHECKOUT": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise XbrError(f"prefect deploy failed: {last[0]}; run it by hand to see why")
    automation = _ensure_crash_automation(crash_after)
    return Deployed(
        prefect_file=str(prefect_file),
        deployments=names,
        pool_concurrency=concurrency if prefect_file == PREFECT_FILE else None,
        automation=automation,
        crash_after_s=int(crash_after.total_seconds()),
    )


def deployment_names(prefect_file: Path) -> list[str]:
    """The deployments a prefect.yaml defines; one line naming the file when it cannot."""
    import yaml

    try:
        spec = yaml.safe_load(prefect_file.read_text())
        return [str(d["name"]) for d in spec["deployments"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"--prefect-file {prefect_file}: not a prefect.yaml with deployments ({exc}); "
            "give a copy of deploy/prefect.yaml"
        ) from None


def _ensure_pool(name: str, concurrency: int) -> None:
    """The process pool, with its limit of runs executing at once (a suspended run does not
    count: it has no process)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(name=name, type="process", concurrency_limit=concurrency)
            )
        except ObjectAlreadyExists:  # made by an earlier `xbr deploy`: its limit is updated
            client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=concurrency))


def _ensure_crash_automation(crash_after: timedelta) -> str:
    """A run of xbr that was running and sent no heartbeat for `crash_after` becomes Crashed.
    Suspending at a gate, or ending, is expected too: a run waiting for people is not dead."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    wanted = Automation(
        name=AUTOMATION,
        description="Marks a review, sweeper or calendar run crashed when its worker stopped "
        "sending heartbeats; the sweeper then gives the review a new run.",
        trigger=EventTrigger(
            after=ALIVE,
            expect=ALIVE | {f"prefect.flow-run.{state}" for state in SETTLED},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.xbr"}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=crash_after,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                force=False,
                message=f"no heartbeat for {int(crash_after.total_seconds())} s: its worker died",
            )
        ],
    )
    return asyncio.run(_create_or_update(wanted))


async def _create_or_update(wanted: Any) -> str:
    from prefect.automations import Automation

    try:
        existing = await Automation.aread(name=wanted.name)
    except ValueError:  # none by that name yet
        return str((await wanted.acreate()).id)
    wanted.id = existing.id
    await wanted.aupdate()
    return str(existing.id)
