"""Prefect tasks: the work the flows compose (gates, staging, the calendar, the sweeper, notices,
artifacts), each a few lines around the domain's functions, and the Prefect API calls that
create, resume and check review runs."""
