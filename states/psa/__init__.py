"""What xbr mirrors in the MSP's PSA, planned in the outbox in the transaction of the change."""
