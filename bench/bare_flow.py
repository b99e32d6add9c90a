"""The anchor of the decision-latency benchmark: a bare Prefect flow that only suspends.

No database, no artifacts, no tasks: each gate is `suspend_flow_run(key=f"g-{n}", timeout=None)`,
so a resume costs what Prefect itself costs (the runner notices the run, starts a process, the
flow re-executes from the top: earlier keys are answered at once by the server, the next key
suspends). `bench/decision_latency.py` serves it with `serve()` in a runner of its own, in a
subprocess, next to the `xbr up` runner and on the same Prefect server.

The flow lives in this importable module, not in `__main__`: the runner starts each flow run in
a spawned process that imports the flow by reference.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

from prefect import flow  # noqa: TID251 (bench/ is outside the domain)
from prefect.flow_runs import suspend_flow_run  # noqa: TID251

DEPLOYMENT = "bare-gates/bare-gates"


@flow(name="bare-gates")
def bare_gates(gates: int = 8) -> int:
    """Suspend at `gates` gates, one after the other, and finish."""
    for n in range(gates):
        suspend_flow_run(key=f"g-{n}", timeout=None)
    return gates


async def _serve(limit: int) -> None:
    from prefect.runner import Runner  # noqa: TID251

    runner = Runner(name="bare", pause_on_shutdown=False, limit=limit)
    await runner.aadd_flow(bare_gates, name="bare-gates", tags=["bench"])
    await runner.start()


def serve(limit: int = 8) -> None:
    """Serve the `bare-gates` deployment until SIGTERM or Ctrl-C (as `xbr up` serves its own)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(limit))
