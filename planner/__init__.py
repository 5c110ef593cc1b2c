"""The engine: config, diff, rules, plan, apply, render. No MLflow or SQL import in here."""
