"""Work the flows do: evidence intake, staging, outputs (agenda, summary, report), outbox
delivery; plain functions, wrapped as Prefect tasks where a flow runs them."""
