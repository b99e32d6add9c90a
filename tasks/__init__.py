"""Prefect tasks: evidence import and checks, findings to tickets, agendas, outbox delivery."""
