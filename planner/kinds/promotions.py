"""A promotion, as the review shows it: a model version entering candidate or production, with
its source run's gate metrics and the production version it replaces. The model-version kind
contributes them (`Findings.highlights`) under the `promotions` topic; the renderers and the JSON
plan's binding `promotions` key show them without knowing what they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlreg.planner.changes import EMPTY, Topic

PROMOTIONS = Topic("promotions", "Promotions", ("Model", "Version", "From → To", "Gate metrics", "Replaces"))


def fmt_metric(v) -> str:
    return "missing" if v is None else f"{v:g}"


@dataclass(frozen=True, slots=True)
class Promotion:
    model: str
    version: str | None
    address: str
    from_stage: str
    to_stage: str
    metrics: Mapping[str, float | None] = EMPTY
    run_id: str | None = None
    registered_by: str | None = None
    replaces: Mapping[str, Any] | None = None

    topic = PROMOTIONS

    def lines(self) -> list[str]:
        version = self.version or "(known after apply)"
        who = f", registered by {self.registered_by}" if self.registered_by else ""
        out = [f"{self.model} version {version}: {self.from_stage} -> {self.to_stage} (run {self.run_id}{who})"]
        for metric, v in self.metrics.items():
            old = ""
            if self.replaces:
                was = fmt_metric(self.replaces["metrics"].get(metric))
                old = f"   (replaces version {self.replaces['version']}: {was})"
            out.append(f"{metric} = {fmt_metric(v)}{old}")
        return out

    def cells(self) -> list[str]:
        metrics = ", ".join(f"{k}={fmt_metric(v)}" for k, v in self.metrics.items())
        replaces = ""
        if self.replaces:
            replaces = f"v{self.replaces['version']}: " + ", ".join(
                f"{k}={fmt_metric(v)}" for k, v in self.replaces["metrics"].items()
            )
        version = self.version or "(known after apply)"
        return [self.model, version, f"{self.from_stage} → {self.to_stage}", metrics, replaces]

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "address": self.address,
            "from": self.from_stage,
            "to": self.to_stage,
            "metrics": dict(self.metrics),
            "run_id": self.run_id,
            "registered_by": self.registered_by,
            "replaces": dict(self.replaces) if self.replaces else None,
        }
