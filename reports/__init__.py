"""What a review produces for people to read: the agenda, the client summary, the HTML report,
the flow run's checklist and the week's metrics, rendered from read models (no Prefect)."""
