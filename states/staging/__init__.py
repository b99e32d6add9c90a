"""What staging reads and concludes: evidence rows and their file readers, the checks, the
assessment's findings and scores, follow-up tickets and the client's feedback."""
