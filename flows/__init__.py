"""Prefect flows: one long-running `business_review` run per review, and the sweeper."""
