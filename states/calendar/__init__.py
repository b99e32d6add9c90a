"""When reviews happen: business days and time zones, cadences, the account calendar's pass
over the clients, and opening a review with its tasks."""
