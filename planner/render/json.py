"""JSON output: the Terraform-shaped documents of planfile.py, through `redact`."""

from __future__ import annotations

import json

from mlreg.planner import planfile
from mlreg.planner.model import DriftItem, Plan
from mlreg.planner.redact import redact


def plan_json(plan: Plan, signing_key: str | None = None) -> str:
    """Compact JSON: json's C encoder (an indented dump is 10x slower on a 10,000-version plan).
    Redaction happens before signing, so the signature covers exactly the bytes written."""
    doc = json.loads(redact(json.dumps(planfile.document(plan))))
    return json.dumps(planfile.sign(doc, signing_key)) + "\n"


def drift_json(items: list[DriftItem]) -> str:
    return redact(json.dumps(planfile.drift_document(items), indent=2) + "\n")
