"""The `policies:` section: rows of exp.policy_versions, immutable once created."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.models import RefOrNumber


class PolicyVersionSpec(Frozen):
    model: str
    model_version: RefOrNumber
    config_defaults: dict = Field(default_factory=dict)


class PolicySpec(Frozen):
    id: uuid.UUID
    versions: dict[Annotated[int, Field(ge=1)], PolicyVersionSpec] = Field(default_factory=dict)
