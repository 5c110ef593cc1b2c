"""`gateway.budgets:`: MLflow AI Gateway budget policies (USD per window, alerting or rejecting).
MLflow's budgets have no name: the file's name is kept in state (and written as the budget's
`created_by`, `mlreg:NAME`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register

TARGETED = ("endpoint", "user")  # the scopes whose budgets carry a target (endpoint name, user name)
EVERY = re.compile(r"^\s*([1-9][0-9]{0,8})\s+(minute|hour|day|week|month)s?\s*$")


def window(text: str) -> tuple[int, str]:
    """`1 month` -> (1, "months"); `2 weeks` -> (2, "weeks") (MLflow's duration unit, lower-case)."""
    m = EVERY.match(text)
    if m is None:
        raise ValueError("expected N minutes|hours|days|weeks|months (e.g. `1 month`)")
    return int(m.group(1)), m.group(2) + "s"


class BudgetSpec(Frozen):
    amount_usd: float = Field(gt=0)
    """The limit in US dollars per window."""
    every: str
    """The window: N minutes|hours|days|weeks|months (`1 month`)."""
    scope: Literal["global", "workspace", "endpoint", "user"]
    """What the spend is counted over."""
    target: str | None = None
    """The endpoint (by name) for scope endpoint, the user for scope user; none otherwise."""
    action: Literal["alert", "reject"]
    """alert (notify) or reject (refuse calls) once the amount is spent."""

    @field_validator("every")
    @classmethod
    def _every(cls, v: str) -> str:
        n, unit = window(v)
        return f"{n} {unit[:-1] if n == 1 else unit}"

    @model_validator(mode="after")
    def _target(self):
        if self.scope in TARGETED and not self.target:
            raise ValueError(f"scope {self.scope} needs a target (the {self.scope}'s name)")
        if self.scope not in TARGETED and self.target is not None:
            raise ValueError(f"scope {self.scope} takes no target")
        return self


def check(ctx) -> None:
    """Every budget on an endpoint names one the file declares (or one that exists live, which
    plan checks)."""
    for name in _entries(ctx):
        if ctx.track_declared:
            ctx.declared.add(f"gateway_budget.{name}")


def _entries(ctx) -> dict:
    if ctx.cfg is not None:
        return ctx.cfg.gateway.budgets
    return (ctx.section("gateway") or {}).get("budgets") or {}


SECTION = register(
    Section(
        "gateway.budgets",
        BudgetSpec,
        "AI Gateway budget policies (USD per window), named in the file",
        check=check,
        order=64,
        noun="budget",
    )
)
