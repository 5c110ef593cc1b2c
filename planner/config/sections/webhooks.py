"""The `webhooks:` section: MLflow 3's registry webhooks, managed by name.

`secret` is accepted only as an environment reference (`${VAR}`); its value is used to create or
update the webhook and is never written anywhere (state keeps a salted, slow hash to notice a
rotation)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import Section, register

# MLflow's entity.action names (mlflow.entities.webhook.WebhookEventStr, MLflow 3.17)
EVENTS = frozenset(
    {
        "registered_model.created",
        "model_version.created",
        "model_version_tag.set",
        "model_version_tag.deleted",
        "model_version_alias.created",
        "model_version_alias.deleted",
        "prompt.created",
        "prompt_version.created",
        "prompt_tag.set",
        "prompt_tag.deleted",
        "prompt_version_tag.set",
        "prompt_version_tag.deleted",
        "prompt_alias.created",
        "prompt_alias.deleted",
        "budget_policy.exceeded",
    }
)
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


class WebhookSpec(Frozen):
    url: str
    """Where MLflow delivers events (http:// or https://)."""
    events: list[str] = Field(min_length=1)
    """MLflow's event names, e.g. model_version.created, model_version_alias.created."""
    description: str | None = None  # omitted: not managed
    """The webhook's description. Omitted: not managed."""
    status: Literal["active", "disabled"] = "active"
    """active, or disabled (kept, nothing delivered). Quote it in YAML if it could read as a boolean."""
    secret: str | None = None  # the value of the environment reference, after expansion
    """Only as an environment reference (${VAR}); used to sign deliveries, never shown or stored."""
    # Set by the loader, never written in the file: the url was an environment reference, so it
    # is a secret (it may carry a token): shown as (sensitive value), kept in state as a hash.
    url_sensitive: SkipJsonSchema[bool] = Field(default=False, exclude=True)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _URL.match(v):
            raise ValueError("expected an http:// or https:// URL")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; MLflow's events: {', '.join(sorted(EVENTS))}")
        if len(set(v)) != len(v):
            raise ValueError("an event is listed twice")
        return v


# MLflow's rule for webhook names (mlflow.utils.validation._WEBHOOK_NAME_REGEX)
WEBHOOK_NAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


def check(ctx) -> None:
    for name in ctx.cfg.webhooks if ctx.cfg is not None else ctx.section("webhooks"):
        if not isinstance(name, str) or not WEBHOOK_NAME.match(name):
            ctx.error(
                ("webhooks", name),
                f"Webhook name {name!r} is not allowed",
                "1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
            )
        if ctx.track_declared:
            ctx.declared.add(f"webhook.{name}")


SECTION = register(
    Section(
        "webhooks",
        WebhookSpec,
        "MLflow 3 registry webhooks, managed by name",
        check=check,
        expanded=("url", "secret"),
        secrets=("secret",),
        secret_when_referenced=("url",),
        order=30,
    )
)
