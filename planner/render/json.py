"""JSON output: the Terraform-shaped documents of planfile.py, encoded once, then redacted (every
encoded form of a secret is masked) and, for plans, signed over exactly the bytes written."""

from __future__ import annotations

from mlreg.planner import planfile
from mlreg.planner.changes import DriftItem, Plan
from mlreg.planner.redact import redact


def plan_json(plan: Plan, signing_key: str | None = None) -> str:
    """Compact canonical JSON (json's C encoder; an indented dump is 10x slower on a
    10,000-version plan), signed when a key is given."""
    return planfile.sign(redact(planfile.canonical(planfile.document(plan))), signing_key) + "\n"


def drift_json(items: list[DriftItem]) -> str:
    return redact(planfile.canonical(planfile.drift_document(items))) + "\n"
