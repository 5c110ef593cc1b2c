"""The `workspaces:` section (MLflow servers started with `--enable-workspaces`): workspaces this
file creates and whose description it keeps, and MLflow's rule for workspace names, also used by
the `workspace:` setting (the workspace every resource of the file lives in)."""

from __future__ import annotations

import re

from pydantic import Field

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.config.sections.registry import Section, register

# MLflow's rule (mlflow.utils.workspace_utils.WorkspaceNameValidator): lowercase letters, digits,
# inner hyphens
WORKSPACE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_HINT = "lowercase letters, digits and inner hyphens (MLflow's rule), e.g. planning or team-a"


class WorkspaceSpec(Frozen):
    description: str | None = Field(default=None, description="Omitted: not managed")


def check(ctx) -> None:
    names = ctx.cfg.workspaces if ctx.cfg is not None else ctx.section("workspaces")
    for name in names:
        if not isinstance(name, str) or not WORKSPACE_NAME.match(name) or name == DEFAULT_WORKSPACE:
            ctx.error(("workspaces", name), f"Workspace name {name!r} is not allowed", NAME_HINT)
        if ctx.track_declared:
            ctx.declared.add(f"workspace.{name}")


SECTION = register(
    Section(
        "workspaces",
        WorkspaceSpec,
        "MLflow workspaces this file creates (mlflow server --enable-workspaces)",
        check=check,
        order=-10,
        protected=True,
    )
)
