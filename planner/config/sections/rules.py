"""The `rules:` section: its types and defaults (the MLflow guide's lifecycle). Enforced in planner/rules.py."""

from __future__ import annotations

import operator
import re
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.stages import Stage

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
_GATE = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


def _gate(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f">= {v}"
    if isinstance(v, str) and _GATE.match(v):
        return v.strip()
    raise ValueError('expected a threshold such as ">= 0.85", "<= 0.5" or "== 1"')


Threshold = Annotated[str, BeforeValidator(_gate)]


def parse_threshold(text: str) -> tuple[str, float]:
    m = _GATE.match(text)
    return (m.group(1) or ">="), float(m.group(2))


def passes(value: float, threshold: str) -> bool:
    op, limit = parse_threshold(threshold)
    return _OPS[op](value, limit)


class RequiredRunLogging(Frozen):
    params: list[str] = Field(
        default_factory=lambda: [
            "learning_rate",
            "batch_size",
            "epochs",
            "dataset_version",
            "model_base",
            "fine_tuning_method",
        ]
    )
    """Params every source run must have logged."""
    metrics: list[str] = Field(default_factory=lambda: ["train_loss", "val_loss"])
    """Metrics every source run must have logged."""
    tags: list[str] = Field(default_factory=lambda: ["policy_id", "task", "dataset_version"])
    """Tags every source run must have."""
    artifacts: list[str] = Field(default_factory=lambda: ["model"])
    """Artifacts every source run must have."""


def _default_transitions() -> dict[Stage, list[Stage]]:
    return {
        Stage.NONE: [Stage.CANDIDATE],
        Stage.CANDIDATE: [Stage.PRODUCTION, Stage.ARCHIVED],
        Stage.PRODUCTION: [Stage.ARCHIVED],
        Stage.ARCHIVED: [],
    }


class StageRules(Frozen):
    transitions: dict[Stage, list[Stage]] = Field(default_factory=_default_transitions)
    """Stage -> the stages a version may move to from it."""
    max_production_per_model: int = Field(default=1, ge=0)
    """How many versions of one model may be in production at once."""


def _default_gates() -> dict[Stage, dict[str, str]]:
    return {Stage.PRODUCTION: {"plan_alignment_score": ">= 0.85", "constraint_respect_score": ">= 1.0"}}


class Rules(Frozen):
    model_name_pattern: str = r"^[a-z][a-z0-9_]*_model$"
    """Regular expression every model name must match."""
    required_run_logging: RequiredRunLogging = Field(default_factory=RequiredRunLogging)
    """What a version's source run must have logged to be registered."""
    stages: StageRules = Field(default_factory=StageRules)
    """Allowed stage transitions and production limits."""
    promotion_gates: dict[Stage, dict[str, Threshold]] = Field(default_factory=_default_gates)
    """Stage -> metric thresholds (">= 0.85") the source run must meet to enter it."""
    production_alias: str | None = None
    """An alias mlreg keeps on the production version (e.g. production). Omitted: none."""

    @field_validator("model_name_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regular expression: {e}") from None
        return v
