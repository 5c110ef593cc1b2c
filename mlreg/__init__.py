"""mlreg: registry-as-code for MLflow models, prompts, webhooks and the policy versions that point
at them. The engine is `mlreg.planner`, the live systems `mlreg.providers`, recorded state
`mlreg.state`; `mlreg.cli` wires them together."""

__version__ = "0.3.0"
