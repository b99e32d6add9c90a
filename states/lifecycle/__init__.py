"""Where a review moves: the phase machine and its guards, deciding gates and closing tasks,
steps through phases, WIP places and their queues, the review's dates, and its flow run's record."""
