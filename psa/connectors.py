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
