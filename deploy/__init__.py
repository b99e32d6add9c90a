"""How xbr runs: the `xbr` command line, the embedded stack and the Prefect deployments."""
