"""registry.yaml as frozen pydantic models: the desired state, exactly as the user wrote it.

Each section has its own module (settings, models, policies, ...); this one assembles them.
Loading (with line numbers for every error) is in `load.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.models import ModelSpec
from mlreg.planner.config.policies import PolicySpec
from mlreg.planner.config.prompts import PromptSpec
from mlreg.planner.config.rules import Rules
from mlreg.planner.config.settings import DatabaseSettings, MlflowSettings, StateSettings
from mlreg.planner.config.webhooks import WebhookSpec
from mlreg.planner.model import Address


class RemovedSpec(Frozen):
    """Terraform's `removed` block: what happens to a resource taken out of the file.

    Without `destroy: true` it is only forgotten (the default for anything removed). With it, the
    live object is deleted. The entry sits in the pull request for review.
    """

    address: str
    alias: str | None = None
    destroy: bool = False
    reason: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        if Address.parse(v) is None:
            raise ValueError(
                "expected an address such as model.NAME, model_version.NAME[KEY] or policy_version.POLICY[VERSION]"
            )
        return v

    @model_validator(mode="after")
    def _alias_on_models(self):
        if self.alias is not None and not self.address.startswith(("model.", "prompt.")):
            raise ValueError("`alias` goes with a model or prompt address (model.NAME, prompt.NAME)")
        return self


class Config(Frozen):
    version: Literal[1]
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    rules: Rules = Field(default_factory=Rules)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    policies: dict[str, PolicySpec] = Field(default_factory=dict)
    prompts: dict[str, PromptSpec] = Field(default_factory=dict)
    webhooks: dict[str, WebhookSpec] = Field(default_factory=dict)
    removed: list[RemovedSpec] = Field(default_factory=list)

    def destroyed(self) -> dict[str, RemovedSpec]:
        """Addresses whose live objects the user asked to delete (single aliases excluded)."""
        return {r.address: r for r in self.removed if r.destroy and r.alias is None}

    def destroyed_aliases(self, address: str) -> set[str]:
        """Aliases of `model.NAME` / `prompt.NAME` listed under removed with destroy: true."""
        return {r.alias for r in self.removed if r.destroy and r.alias and r.address == address}


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config plus what planning needs to know about the file it came from."""

    config: Config
    path: str
    digest: str
    base_dir: str
    # mlflow / database / state as written, variables unexpanded (for `mlreg import`)
    raw_backends: dict = field(default_factory=dict)
