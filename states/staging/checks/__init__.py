"""The automatic checks: each reads evidence and rates one category of the scorecard."""
