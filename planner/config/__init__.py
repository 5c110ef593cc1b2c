"""registry.yaml: its schema (one module per section), loading with positions, guards and checks."""
