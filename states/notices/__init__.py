"""Who hears what, and when: notices planned into the outbox with the change that causes them."""
