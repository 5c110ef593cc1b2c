"""registry.yaml as frozen pydantic models: the desired state, exactly as the user wrote it.

Loading never raises for a user mistake: `load_config` returns the config (or None) and every
diagnostic found, each pointing at file, line, column and key path.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import uuid
from pathlib import Path as FsPath
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from planner.diagnostics import Diagnostic
from planner.envexpand import expand_section
from planner.rulespec import Rules
from planner.stages import Stage
from planner.source import Source, load_yaml


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _tag_value(v):
    """Tag values are strings; YAML turns 2025-01-03 into a date and 3 into an int."""
    if isinstance(v, bool):
        raise ValueError("expected a string; quote it (YAML reads yes/no/true/false as booleans)")
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    return v


TagValue = Annotated[str, BeforeValidator(_tag_value)]
Tags = dict[str, TagValue]


class MlflowSettings(Frozen):
    tracking_uri: str = "sqlite:///mlflow.db"


class DatabaseSettings(Frozen):
    url: str = "sqlite:///mlreg.db"


class StateSettings(Frozen):
    backend: Literal["local", "postgres"] = "local"
    path: str = ".mlreg/state.json"
    url: str | None = None
    workspace: str = "default"


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
        given = [k for k in ("version", "run_id", "run", "source") if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"a version needs exactly one of version, run_id, run, source (found: {found})"
            )
        return self

    @property
    def key(self) -> str:
        """The stable address key: v3, run:ID/PATH, run:EXP/NAME/PATH, source:URI."""
        if self.version is not None:
            return f"v{self.version}"
        if self.run_id is not None:
            return f"run:{self.run_id}/{self.artifact_path}"
        if self.run is not None:
            return f"run:{self.run.experiment}/{self.run.name}/{self.artifact_path}"
        return f"source:{self.source}"

    def matcher(self) -> "VersionRef":
        return VersionRef(version=self.version, run_id=self.run_id, run=self.run, source=self.source,
                          artifact_path=self.artifact_path)


def _int_to_ref(v):
    return {"version": v} if isinstance(v, int) and not isinstance(v, bool) else v


RefOrNumber = Annotated[VersionRef, BeforeValidator(_int_to_ref)]


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
    aliases: dict[str, RefOrNumber] = Field(default_factory=dict)
    versions: list[VersionSpec] = Field(default_factory=list)


class PolicyVersionSpec(Frozen):
    model: str
    model_version: RefOrNumber
    config_defaults: dict = Field(default_factory=dict)


class PolicySpec(Frozen):
    id: uuid.UUID
    versions: dict[Annotated[int, Field(ge=1)], PolicyVersionSpec] = Field(default_factory=dict)


class RemovedSpec(Frozen):
    """Terraform's `removed` block: what happens to a resource taken out of the file.

    Without `destroy: true` it is only forgotten (the default for anything removed). With it,
    the live object is deleted: a policy-version row, a model version, a whole registered model,
    or (with `alias:`) one alias of a model. The entry sits in the pull request for review.
    """

    address: str
    alias: str | None = None
    destroy: bool = False
    reason: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        from planner.model import parse_address

        if parse_address(v) is None:
            raise ValueError("expected an address: model.NAME, model_version.NAME[KEY] or "
                             "policy_version.POLICY[VERSION]")
        return v

    @model_validator(mode="after")
    def _alias_on_models(self):
        if self.alias is not None and not self.address.startswith("model."):
            raise ValueError("`alias` goes with a model address (model.NAME)")
        return self


class Config(Frozen):
    version: Literal[1]
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    rules: Rules = Field(default_factory=Rules)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    policies: dict[str, PolicySpec] = Field(default_factory=dict)
    removed: list[RemovedSpec] = Field(default_factory=list)

    def destroyed(self) -> dict[str, RemovedSpec]:
        """Addresses whose live objects the user asked to delete (aliases excluded)."""
        return {r.address: r for r in self.removed if r.destroy and r.alias is None}

    def destroyed_aliases(self, model: str) -> set[str]:
        return {r.alias for r in self.removed if r.destroy and r.alias and r.address == f"model.{model}"}


class LoadedConfig(BaseModel):
    """A valid config plus what planning needs to know about the file it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: Config
    path: str
    digest: str
    base_dir: str
    # mlflow / database / state as written, variables unexpanded (for `mlreg import`)
    raw_backends: dict = {}


# --- loading -----------------------------------------------------------------------------------

_MESSAGES = {
    "missing": "required key is missing",
    "literal_error": None,
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "bool_type": "expected true or false",
    "uuid_parsing": "expected a UUID such as 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11",
    "uuid_type": "expected a UUID such as 2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11",
    "model_type": "expected a mapping",
}


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at `loc` (for 'unknown key' errors), found by walking the models."""
    import typing

    tp = Config
    for part in loc:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = tp.model_fields.get(part)
            if f is None:
                return []
            tp = f.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return []
            tp = args[0]
            continue
    args = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) else []
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        tp = args[0]
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _diag_from_pydantic(err: dict, source: Source) -> Diagnostic:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"int", "str"})))
    etype = err["type"]
    if etype == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = f"expected one of: {', '.join(allowed)}" if allowed else ""
        return source.diag(loc, f"Unknown key {loc[-1]!r}", hint)
    msg = _MESSAGES.get(etype) or err["msg"]
    if etype == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg))
    if etype == "enum":
        msg = f"expected one of: {err['ctx']['expected']}"
    got = err.get("input")
    detail = "" if etype == "missing" or isinstance(got, (dict, list)) else f"got {got!r}"
    return source.diag(loc, msg, detail)


def load_config(path: str | FsPath, env: dict[str, str] | None = None) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    fs_path = FsPath(path)
    try:
        raw = fs_path.read_bytes()
    except OSError as e:
        return None, [Diagnostic(severity="error", summary=f"Cannot read {path}: {e.strerror}", file=str(path))]
    return parse_config(raw, str(path), str(fs_path.resolve().parent), env)


def parse_config(raw: bytes, file: str, base_dir: str, env: dict[str, str] | None = None
                 ) -> tuple[LoadedConfig | None, list[Diagnostic]]:
    """Validate a registry file. Large valid files take the fast loader; anything it is unsure of,
    and every file with a problem, goes through the exact loader that knows line numbers."""
    import os

    from planner.fastyaml import fast_load

    from planner.perf import no_gc_pauses

    env = dict(os.environ) if env is None else env
    with no_gc_pauses():
        return _parse(raw, file, base_dir, env, fast_load)


def _parse(raw: bytes, file: str, base_dir: str, env: dict[str, str], fast_load):
    text = raw.decode("utf-8", errors="replace")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    data = fast_load(text)
    if data is not None:
        cfg, diags = _validate(Source(file=file, data=data), env)
        if cfg is not None:
            return LoadedConfig(config=cfg, path=file, digest=digest, base_dir=base_dir,
                                raw_backends=_backends(data)), []
    source, diags = load_yaml(text, file)
    if source.data is None:  # a syntax error: nothing further can be checked
        return None, diags
    cfg, more = _validate(source, env)
    diags = sorted(diags + more, key=lambda d: (d.line or 0, d.column or 0))
    if diags or cfg is None:
        return None, diags
    return LoadedConfig(config=cfg, path=file, digest=digest, base_dir=base_dir,
                        raw_backends=_backends(source.data)), []


def _backends(data: dict) -> dict:
    return {k: data[k] for k in ("mlflow", "database", "state") if k in data}


def _validate(source: Source, env: dict[str, str]) -> tuple[Config | None, list[Diagnostic]]:
    data = source.data
    if not isinstance(data, dict):
        return None, [source.diag((), "The file must be a mapping with at least `version: 1`")]
    data = dict(data)
    diags = []
    for section in ("mlflow", "database", "state"):
        if isinstance(data.get(section), dict):
            data[section], errs = expand_section(data[section], (section,), env, source)
            diags.extend(errs)
    cfg = None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        diags.extend(_diag_from_pydantic(err, source) for err in e.errors())
    from planner.config_checks import reference_checks

    diags.extend(reference_checks(data, source, cfg))
    return (None if diags else cfg), diags
