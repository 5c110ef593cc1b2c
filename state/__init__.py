"""Where recorded state lives: a local file or PostgreSQL."""
