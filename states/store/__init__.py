"""Where the data lives: the SQLAlchemy models, engines and the unit of work, and migrations."""
