"""`gateway.models:`: AI Gateway model definitions (a provider's model behind a secret), by name."""

from __future__ import annotations

from pydantic import Field

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register


class GatewayModelSpec(Frozen):
    secret: str = Field(min_length=1)
    """The secret (by name) the calls authenticate with: declared in gateway.secrets or live."""
    provider: str = Field(min_length=1)
    """The provider (openai, anthropic, …)."""
    model: str = Field(min_length=1)
    """The provider's model name (gpt-4o)."""


def check(ctx) -> None:
    entries = ctx.cfg.gateway.models if ctx.cfg is not None else (ctx.section("gateway") or {}).get("models") or {}
    for name in entries:
        if ctx.track_declared:
            ctx.declared.add(f"gateway_model.{name}")


SECTION = register(
    Section(
        "gateway.models",
        GatewayModelSpec,
        "AI Gateway model definitions: a provider's model behind a secret, by name",
        check=check,
        order=59,
        noun="model definition",
    )
)
