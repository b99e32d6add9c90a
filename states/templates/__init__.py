"""Review templates: the pydantic schema, the board defaults and the shipped catalog (YAML)."""
