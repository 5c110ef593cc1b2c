"""`gateway.guardrails:`: MLflow AI Gateway guardrails, each a registered scorer version run before
or after a call, managed by name. Endpoints attach them by name (`gateway.endpoints.NAME.guardrails`,
in execution order)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register


class ScorerRef(Frozen):
    experiment: str = Field(min_length=1)
    """The experiment (by name) the scorer is registered in."""
    name: str = Field(min_length=1)
    """The registered scorer's name."""
    version: int = Field(ge=1)
    """The scorer version the guardrail runs (MLflow pins one)."""


class GuardrailSpec(Frozen):
    scorer: ScorerRef
    """An existing registered scorer: {experiment, name, version}. A missing one is a plan error."""
    stage: Literal["before", "after"]
    """Run on the request (before) or on the response (after)."""
    action: Literal["validation", "sanitization"]
    """validation (block what fails) or sanitization (rewrite it)."""


def check(ctx) -> None:
    for name in _entries(ctx):
        if ctx.track_declared:
            ctx.declared.add(f"gateway_guardrail.{name}")


def _entries(ctx) -> dict:
    if ctx.cfg is not None:
        return ctx.cfg.gateway.guardrails
    return (ctx.section("gateway") or {}).get("guardrails") or {}


SECTION = register(
    Section(
        "gateway.guardrails",
        GuardrailSpec,
        "AI Gateway guardrails: a registered scorer run before or after a call, by name",
        check=check,
        order=62,
        noun="guardrail",
    )
)
