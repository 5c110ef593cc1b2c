"""mlreg: registry-as-code for MLflow models and the policy versions that point at them."""

__version__ = "0.1.0"
