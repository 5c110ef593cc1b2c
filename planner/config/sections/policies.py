"""The `policies:` section: rows of exp.policy_versions, immutable once created."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from mlreg.planner.config.base import Frozen, did_you_mean
from mlreg.planner.config.sections.models import RefOrNumber
from mlreg.planner.config.sections.registry import Section, register


class PolicyVersionSpec(Frozen):
    model: str
    """The model (declared under models) this policy version serves."""
    model_version: RefOrNumber
    """The version it points at: a number, or a matcher of a declared version ({run_id: …})."""
    config_defaults: dict = Field(default_factory=dict)
    """JSON object stored in the row's config_defaults; compared as a whole."""


class PolicySpec(Frozen):
    id: uuid.UUID
    """The policy's UUID (exp.policy_versions.policy_id)."""
    versions: dict[Annotated[int, Field(ge=1)], PolicyVersionSpec] = Field(default_factory=dict)
    """Policy version number -> what it points at. Rows are never deleted unless removed with destroy: true."""


def check(ctx) -> None:
    """Every policy version points at a declared model and a declared (or pinned) version."""
    models = ctx.section("models")
    for pname, praw in ctx.section("policies").items():
        versions = praw.get("versions") if isinstance(praw, dict) else None
        for num, pvraw in versions.items() if isinstance(versions, dict) else ():
            if ctx.track_declared:
                ctx.declared.add(f"policy_version.{pname}[{num}]")
            pv = ctx.valid(PolicyVersionSpec, pvraw, "policies", pname, "versions", num)
            if pv is None:
                continue
            path = ("policies", pname, "versions", num)
            if pv.model not in models:
                ctx.error(
                    path + ("model",),
                    f"Model {pv.model!r} is not declared under models{did_you_mean(pv.model, models)}",
                    f"declared: {', '.join(map(str, models)) or '(none)'}",
                )
            elif (
                pv.model_version.version is None
                and ("models", pv.model) not in ctx.incomplete
                and pv.model_version.key not in ctx.keys_of("models", pv.model)
            ):
                ctx.error(
                    path + ("model_version",), f"{pv.model_version.key} is not declared in models.{pv.model}.versions"
                )


SECTION = register(
    Section(
        "policies",
        PolicySpec,
        "Policies (rows of exp.policy_versions), by name: their policy id and versions",
        check=check,
        order=20,
        integer_keys=(("versions",),),
        noun="policy",
    )
)
