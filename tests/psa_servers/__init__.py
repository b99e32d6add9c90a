"""Local servers that speak ConnectWise Manage, Autotask and HaloPSA's documented REST protocols.

Written from `docs/psa-protocols.md` (the vendors' public references), not from our client, so
that the client's tests meet the protocol and not a mirror of themselves.
"""

from tests.psa_servers.autotask import AutotaskServer
from tests.psa_servers.connectwise import ConnectWiseServer
from tests.psa_servers.halo import HaloServer

__all__ = ["AutotaskServer", "ConnectWiseServer", "HaloServer"]
