"""The sections of registry.yaml: one module per section, its types and its cross-reference check."""
