"""The connector of the connected PSA."""

from __future__ import annotations

import httpx

from psa.connection import Connection
from psa.connector import Connector


def open_connector(
    connection: Connection, transport: httpx.BaseTransport | None = None
) -> Connector:
    """ConnectWise, Autotask or HaloPSA, as `connection` says."""
    if connection.kind == "connectwise":
        from psa.connectwise import ConnectWise

        return ConnectWise(connection, transport)
    if connection.kind == "autotask":
        from psa.autotask import Autotask

        return Autotask(connection, transport)
    from psa.halo import Halo

    return Halo(connection, transport)


def unmapped(connector: Connector, connection: Connection) -> str | None:
    """What the connection names that the PSA lacks (a board, a status), as one line with the
    fix; None when the PSA has all of it."""
    wanted = list(dict.fromkeys(connection.statuses.values()))
    for board, names in ((connection.board, wanted),
                         (connection.ticket_board, [connection.closed_status])):  # fmt: skip
        if not board:
            continue
        statuses = connector.board_statuses(board)
        if statuses is None:
            return (f"{connection.name} has no board {board!r}; create it there, or name yours "
                    "with --board (--ticket-board)")  # fmt: skip
        missing = [name for name in names if name not in statuses]
        if missing:
            listed = ", ".join(repr(m) for m in missing)
            return (f"{connection.name}'s board {board!r} has no status {listed}; add them there, "
                    "or map each phase to one it has with --status PHASE=STATUS "
                    f"(it has: {', '.join(statuses[:12]) or 'none'})")  # fmt: skip
    return None
