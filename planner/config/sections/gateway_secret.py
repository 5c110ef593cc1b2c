"""`gateway.secrets:`: AI Gateway secrets (provider credentials, encrypted by MLflow), by name.

Every value is accepted only as an environment reference (`${VAR}`), key by key: it is sent to
MLflow on create or rotation and never written anywhere (state keeps keyed hashes). A literal
value is a config error that does not echo it."""

from __future__ import annotations

from pydantic import Field

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register


class GatewaySecretSpec(Frozen):
    value: dict[str, str] = Field(min_length=1)
    """Key -> environment reference (`api_key: ${OPENAI_API_KEY}`); never shown or stored."""
    provider: str | None = None
    """The provider the secret is for (openai, anthropic, bedrock, …)."""
    auth_config: dict[str, str] | None = None
    """Non-secret settings (aws_region_name, …). Omitted: not managed."""


def check(ctx) -> None:
    entries = ctx.cfg.gateway.secrets if ctx.cfg is not None else (ctx.section("gateway") or {}).get("secrets") or {}
    for name in entries:
        if ctx.track_declared:
            ctx.declared.add(f"gateway_secret.{name}")


SECTION = register(
    Section(
        "gateway.secrets",
        GatewaySecretSpec,
        "AI Gateway secrets (provider credentials), by name; values only from the environment",
        check=check,
        expanded=("value",),
        secrets=("value",),
        order=58,
        noun="secret",
        protected=True,  # credentials: in a folder, only the platform team's `_*` files name them
    )
)
