"""Prefect flows, one module per deployment: `business-review` (one long-running run per
review), `account-calendar` and `review-sweeper`; they only compose tasks. `wake` is what every
entry point does after a person changed a review."""
