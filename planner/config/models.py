"""The `models:` section: registered models, their versions (by matcher), stages, tags, aliases."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from mlreg.planner.config.base import AliasName, Frozen, Tags
from mlreg.planner.stages import Stage


class RunRef(Frozen):
    experiment: str
    name: str


class VersionRef(Frozen):
    """Exactly one matcher identifies a model version (MLflow picks the numbers)."""

    version: int | None = Field(default=None, ge=1)
    run_id: str | None = None
    run: RunRef | None = None
    source: str | None = None
    artifact_path: str = "model"

    @model_validator(mode="after")
    def _one_matcher(self):
        if (self.version is not None) + (self.run_id is not None) + (self.run is not None) + (
            self.source is not None
        ) != 1:
            given = [k for k in ("version", "run_id", "run", "source") if getattr(self, k) is not None]
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a version needs exactly one of version, run_id, run, source (found: {found})")
        return self

    @cached_property
    def key(self) -> str:
        """The stable address key: v3, run:ID/PATH, run:EXP/NAME/PATH, source:URI."""
        if self.version is not None:
            return f"v{self.version}"
        if self.run_id is not None:
            return f"run:{self.run_id}/{self.artifact_path}"
        if self.run is not None:
            return f"run:{self.run.experiment}/{self.run.name}/{self.artifact_path}"
        return f"source:{self.source}"

    def matcher(self) -> dict:
        """The matcher alone, as plain data (what apply needs to register the version)."""
        out: dict = {"artifact_path": self.artifact_path}
        if self.version is not None:
            out["version"] = self.version
        elif self.run_id is not None:
            out["run_id"] = self.run_id
        elif self.run is not None:
            out["run"] = {"experiment": self.run.experiment, "name": self.run.name}
        else:
            out["source"] = self.source
        return out


def int_to_ref(v):
    return {"version": v} if isinstance(v, int) and not isinstance(v, bool) else v


RefOrNumber = Annotated[VersionRef, BeforeValidator(int_to_ref)]


class VersionSpec(VersionRef):
    stage: Stage | None = None  # omitted: not managed; "none": no stage tag
    description: str | None = None
    tags: Tags = Field(default_factory=dict)

    @field_validator("stage", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else ("none" if v is None else v)


class ModelSpec(Frozen):
    description: str | None = None
    tags: Tags = Field(default_factory=dict)
    aliases: dict[AliasName, RefOrNumber] = Field(default_factory=dict)
    versions: list[VersionSpec] = Field(default_factory=list)
