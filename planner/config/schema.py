"""registry.yaml as frozen pydantic models: the desired state, exactly as the user wrote it.

`Config` is assembled here from the settings every file has (`version`, `mlflow`, `database`,
`state`, `rules`, `removed`) and the sections registered in `config/sections/` (each module
registers its section and its type), so a new kind's section needs no line here.
Loading (with line numbers for every error) is in `load.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, create_model, field_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.config.sections.registry import sections
from mlreg.planner.config.sections.removed import RemovedSpec
from mlreg.planner.config.sections.rules import Rules
from mlreg.planner.config.sections.settings import DatabaseSettings, MlflowSettings, StateSettings


class ConfigBase(Frozen):
    version: Literal[1] = Field(description="Format version of this file: 1")
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings, description="The MLflow tracking server or store")
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings, description="The database holding exp.policy_versions"
    )
    state: StateSettings = Field(default_factory=StateSettings, description="Where mlreg records what it applied")
    rules: Rules = Field(default_factory=Rules, description="Lifecycle rules checked by plan and apply")
    workspace: str | None = Field(
        default=None,
        description="The MLflow workspace every resource of this file lives in (default ${MLFLOW_WORKSPACE:-}: "
        "the server's default workspace)",
    )
    removed: list[RemovedSpec] = Field(
        default_factory=list, description="Resources taken out of the file: forget them, or delete with destroy"
    )

    @field_validator("workspace", mode="before")
    @classmethod
    def _workspace(cls, v):
        from mlreg.planner.config.sections.workspaces import NAME_HINT, WORKSPACE_NAME

        if v in (None, ""):
            return None
        if not isinstance(v, str) or not WORKSPACE_NAME.match(v):
            raise ValueError(f"expected a workspace name: {NAME_HINT}")
        return v

    def destroyed(self) -> dict[str, RemovedSpec]:
        """Addresses whose live objects the user asked to delete (single aliases excluded)."""
        return {r.address: r for r in self.removed if r.destroy and r.alias is None}

    def destroyed_aliases(self, address: str) -> set[str]:
        """Aliases of `model.NAME` / `prompt.NAME` listed under removed with destroy: true."""
        return {r.alias for r in self.removed if r.destroy and r.alias and r.address == address}


def _section_fields() -> dict[str, Any]:
    """A field per section; a section named `PARENT.CHILD` is the field CHILD of a model under
    the one top-level key PARENT (`gateway.guardrails` -> `gateway: {guardrails: ...}`)."""
    fields: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for section in sections():
        spec = section.spec
        if section.single:
            entry = (spec, Field(default_factory=spec, description=section.description))
        else:
            entry = (dict[str, spec], Field(default_factory=dict, description=section.description))
        parent, dot, child = section.name.rpartition(".")
        if dot:
            nested.setdefault(parent, {})[child] = entry
        else:
            fields[section.name] = entry
    for parent, children in nested.items():
        model = create_model(parent.title().replace("_", ""), __base__=Frozen, **children)
        fields[parent] = (model, Field(default_factory=model, description=f"The {parent} sections"))
    return fields


Config = create_model("Config", __base__=ConfigBase, __doc__="registry.yaml", **_section_fields())


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config plus what planning needs to know about the files it came from."""

    config: Config
    path: str  # the file or folder given (-f)
    digest: str  # of every file, in name order
    base_dir: str  # relative paths in the settings are taken from here
    # mlflow / database / state as written, variables unexpanded (for `mlreg import`)
    raw_backends: dict = field(default_factory=dict)
    source: Any = None  # merge.MergedSource: which file declares what, and at which line

    def where(self, path: tuple) -> tuple[str | None, int | None]:
        """(file, line) that declares a key path, e.g. ("models", "planner_model")."""
        if self.source is None:
            return self.path, None
        return self.source.where(path)

    def file_of(self, path: tuple) -> str | None:
        return self.source.file_of(path) if self.source is not None else self.path
