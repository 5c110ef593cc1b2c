"""The `models:` section: registered models, their versions (by matcher), stages, tags, aliases."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from mlreg.planner.config.base import AliasName, Frozen, Printable, Tags
from mlreg.planner.config.defaults import DEFAULT_ARTIFACT_PATH
from mlreg.planner.config.sections.registry import Section, register
from mlreg.planner.stages import STAGE_TAG, Stage


class RunRef(Frozen):
    experiment: Printable
    """The experiment's name."""
    name: Printable
    """The run's name (must be unique in the experiment)."""


class VersionRef(Frozen):
    """Exactly one matcher identifies a model version (MLflow picks the numbers)."""

    version: int | None = Field(default=None, ge=1)
    """An existing version, by number."""
    run_id: Printable | None = None
    """The version registered from this run's artifact (run_id + artifact_path)."""
    run: RunRef | None = None
    """The version registered from the run of this experiment and run name."""
    source: Printable | None = None
    """The version registered from this artifact URI."""
    artifact_path: Printable = DEFAULT_ARTIFACT_PATH
    """With run_id or run: the artifact path of the model in the run."""

    @model_validator(mode="after")
    def _one_matcher(self):
        if (self.version is not None) + (self.run_id is not None) + (self.run is not None) + (
            self.source is not None
        ) != 1:
            given = [k for k in ("version", "run_id", "run", "source") if getattr(self, k) is not None]
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a version needs exactly one of version, run_id, run, source (found: {found})")
        return self

    @property
    def key(self) -> str:
        """The stable address key: v3, run:ID/PATH, run:EXP/NAME/PATH, source:URI. (Computed on
        each use: cheaper than Python 3.11's cached_property, which takes a lock per instance.)"""
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
    """The stage tag: none, candidate, production or archived. Omitted: not managed."""
    description: str | None = None
    """The version's description. Omitted: not managed."""
    tags: Tags = Field(default_factory=dict)
    """Tags of the version (only these keys are managed; `stage` is set with stage:)."""

    @field_validator("stage", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else ("none" if v is None else v)


class ModelSpec(Frozen):
    description: str | None = None
    """The registered model's description. Omitted: not managed."""
    tags: Tags = Field(default_factory=dict)
    """Tags of the registered model (only these keys are managed)."""
    aliases: dict[AliasName, RefOrNumber] = Field(default_factory=dict)
    """Alias -> the version it points at (a number or a matcher of a declared version)."""
    versions: list[VersionSpec] = Field(default_factory=list)
    """The model's versions, each found by one matcher (version, run_id, run or source)."""


def check(ctx) -> None:
    """Naming rule, the stage tag kept out of `tags`, duplicate matchers, aliases pointing at
    undeclared versions."""

    pattern = re.compile(ctx.rules.model_name_pattern) if ctx.rules else None
    # Validated: read the objects (100,000 versions: no re-validation); else the raw pieces.
    models = ctx.cfg.models if ctx.cfg is not None else ctx.section("models")
    for name, model in models.items():
        if pattern is not None and isinstance(name, str) and not pattern.search(name):
            ctx.error(
                ("models", name),
                f"Model name {name!r} does not match rules.model_name_pattern {ctx.rules.model_name_pattern!r}",
                "the naming convention: e.g. planner_model, meal_ranker_model",
            )
        if ctx.cfg is not None:
            versions = list(enumerate(model.versions))
            aliases = dict(model.aliases)
        else:
            raw = model if isinstance(model, dict) else {}
            listed = raw.get("versions") if isinstance(raw.get("versions"), list) else []
            # An entry that fails to parse (a bad stage, a misspelt key) still names its version by
            # its matcher: known, so that nothing else is reported about it a second time.
            versions = [(i, v) for i, rv in enumerate(listed) if (v := _matcher_of(ctx, rv)) is not None]
            if len(versions) < len(listed):
                ctx.incomplete.add(("models", name))  # an entry without a readable matcher: no reference errors
            raw_aliases = raw.get("aliases") if isinstance(raw.get("aliases"), dict) else {}
            aliases = {a: ctx.valid(VersionRef, int_to_ref(r)) for a, r in raw_aliases.items()}
        seen = _versions_checked(ctx, name, versions)
        ctx.declared_keys.setdefault("models", {})[name] = set(seen)
        if ctx.track_declared:
            ctx.declared.add(f"model.{name}")
            ctx.declared.update(f"model_version.{name}[{k}]" for k in seen)
        for alias, ref in aliases.items():
            if (
                ref is not None
                and ref.version is None
                and ref.key not in seen
                and ("models", name) not in ctx.incomplete
            ):
                ctx.error(
                    ("models", name, "aliases", alias),
                    f"Alias {alias!r} points at {ref.key}, which is not declared in models.{name}.versions",
                )


def _versions_checked(ctx, name: str, versions: list[tuple[int, VersionRef]]) -> dict[str, int]:
    """Each version's key -> its index; a key declared twice and the stage tag under `tags:` are
    errors. (Looked at one by one only when something is wrong: 100,000 versions.)"""
    seen = {v.key: i for i, v in versions}
    if len(seen) == len(versions) and not any(STAGE_TAG in getattr(v, "tags", ()) for _, v in versions):
        return seen
    seen = {}
    for i, v in versions:
        if STAGE_TAG in getattr(v, "tags", {}):
            ctx.error(
                ("models", name, "versions", i, "tags", STAGE_TAG),
                "The stage tag is managed by `stage:`, not `tags:`",
            )
        key = v.key
        if key in seen:
            ctx.error(("models", name, "versions", i), f"Version {key} is declared twice (also versions[{seen[key]}])")
        seen[key] = i
    return seen


_MATCHERS = ("version", "run_id", "run", "source", "artifact_path")


def _matcher_of(ctx, raw):
    """The version entry, validated; or, when it fails, its matcher alone (None if that fails too)."""
    whole = ctx.valid(VersionSpec, raw)
    if whole is not None or not isinstance(raw, dict):
        return whole
    return ctx.valid(VersionRef, {k: v for k, v in raw.items() if k in _MATCHERS})


def _aliases(entry: dict) -> set[str]:
    aliases = entry.get("aliases")
    return set(aliases) if isinstance(aliases, dict) else set()


SECTION = register(
    Section(
        "models",
        ModelSpec,
        "Registered models (by name): description, tags, aliases and versions",
        check=check,
        order=0,
        streamed=True,
        aliases=_aliases,
    )
)
