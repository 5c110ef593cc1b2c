"""`gateway.endpoints:`: AI Gateway endpoints (the names applications call), by name: their routes
(traffic split in percent), fallbacks in order, usage tracking, tags and guardrails in order."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register

# MLflow's rule for endpoint names (the REST handler's check)
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")


class RouteSpec(Frozen):
    model: str = Field(min_length=1)
    """A model definition (by name): declared in gateway.models or live."""
    weight: float = Field(gt=0, le=100)
    """Its share of traffic in percent; the routes' weights sum to 100."""


class GatewayEndpointSpec(Frozen):
    routes: list[RouteSpec] = Field(min_length=1)
    """The traffic split: [{model, weight}], weights summing to 100."""
    fallback: list[str] = Field(default_factory=list)
    """Model definitions tried in this order when a route fails."""
    usage_tracking: bool = True
    """Trace usage to an experiment MLflow makes (gateway/NAME). Default true, as MLflow's."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags; the declared keys are managed."""
    guardrails: list[str] | None = None
    """Guardrails (by name, gateway.guardrails) in execution order. Omitted: not managed."""

    @model_validator(mode="after")
    def _split(self):
        total = sum(r.weight for r in self.routes)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"the routes' weights sum to {total:g}, expected 100")
        models = [r.model for r in self.routes]
        if len(set(models)) != len(models):
            raise ValueError("a model is routed to twice")
        if len(set(self.fallback)) != len(self.fallback):
            raise ValueError("a fallback model is listed twice")
        return self

    @field_validator("guardrails")
    @classmethod
    def _guardrails(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError("a guardrail is listed twice")
        return v


def check(ctx) -> None:
    entries = (
        ctx.cfg.gateway.endpoints if ctx.cfg is not None else (ctx.section("gateway") or {}).get("endpoints") or {}
    )
    for name in entries:
        if not isinstance(name, str) or not ENDPOINT_NAME.match(name):
            ctx.error(
                ("gateway", "endpoints", name),
                f"Endpoint name {name!r} is not allowed",
                "letters, digits, '_', '.' or '-' (MLflow's rule)",
            )
        if ctx.track_declared:
            ctx.declared.add(f"gateway_endpoint.{name}")


SECTION = register(
    Section(
        "gateway.endpoints",
        GatewayEndpointSpec,
        "AI Gateway endpoints: routes (traffic split), fallback, usage tracking, tags, guardrails, by name",
        check=check,
        order=64,
        noun="endpoint",
    )
)
