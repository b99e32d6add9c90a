"""Read models for people and scripts: the review in full, lists, the board, the scorecard and
the report's data, lean metrics."""
