"""The engine's vocabulary: live snapshots, addresses, actions, changes and plans. No I/O.

Live types are slotted frozen dataclasses because a registry read builds tens of thousands of
them; plan types are frozen pydantic models because plans are saved, reviewed and re-loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from planner import __version__
from planner.diagnostics import Diagnostic

# --- live state, as read by providers -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version number
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveVersion:
    name: str
    version: str
    source: str
    run_id: str | None
    description: str
    tags: dict[str, str]
    model_id: str | None = None
    user_id: str | None = None
    created: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveRun:
    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    user_id: str | None = None
    # Artifact paths at the run's root and names of MLflow 3 logged models from this run; None
    # when not read (they cost a request per run, so only runs that need checking get them).
    artifacts: tuple[str, ...] | None = None
    logged_models: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class LivePolicyVersion:
    id: str
    policy_id: str
    version: int
    model_name: str
    model_version: str
    config_defaults: Any


@dataclass(frozen=True, slots=True)
class LiveVariant:
    id: str
    policy_version_id: str


@dataclass(frozen=True)
class ReadRequest:
    """What the plan needs to see live: the providers read exactly this, in bulk."""

    model_names: frozenset[str] = frozenset()
    run_ids: frozenset[str] = frozenset()
    run_names: frozenset[tuple[str, str]] = frozenset()  # (experiment, run name)
    policy_ids: frozenset[str] = frozenset()
    # models about to be deleted (or lose versions): every policy row pointing at them is read
    referenced_models: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RegistrySnapshot:
    models: dict[str, LiveModel] = field(default_factory=dict)
    versions: dict[str, list[LiveVersion]] = field(default_factory=dict)  # model -> versions
    runs: dict[str, LiveRun] = field(default_factory=dict)  # run_id -> run
    # (experiment, run name) -> matching runs; experiments that do not exist are absent
    runs_by_name: dict[tuple[str, str], list[LiveRun]] = field(default_factory=dict)
    missing_experiments: frozenset[str] = frozenset()
    logged_model_names: dict[str, str] = field(default_factory=dict)  # logged model id -> name


@dataclass(frozen=True)
class DatabaseSnapshot:
    policy_versions: dict[tuple[str, int], LivePolicyVersion] = field(default_factory=dict)
    variants: list[LiveVariant] = field(default_factory=list)


@dataclass(frozen=True)
class LiveSnapshot:
    registry: RegistrySnapshot
    database: DatabaseSnapshot


# --- addresses -------------------------------------------------------------------------------------


class ResourceType(str, Enum):
    MODEL = "model"
    MODEL_VERSION = "model_version"
    POLICY_VERSION = "policy_version"


def model_address(name: str) -> str:
    return f"model.{name}"


def version_address(model: str, key: str) -> str:
    return f"model_version.{model}[{key}]"


def policy_address(policy: str, version: int) -> str:
    return f"policy_version.{policy}[{version}]"


_ADDRESS = re.compile(r"^(model|model_version|policy_version)\.([^\[]+?)(?:\[(.+)\])?$")


def parse_address(address: str) -> tuple[ResourceType, str, str | None] | None:
    """`model_version.m[v3]` -> (MODEL_VERSION, "m", "v3"); None if it is not an address."""
    m = _ADDRESS.match(address)
    if not m:
        return None
    rtype = ResourceType(m.group(1))
    if (rtype is ResourceType.MODEL) != (m.group(3) is None):
        return None
    return rtype, m.group(2), m.group(3)


def address_model(address: str) -> str | None:
    """The registered model an address belongs to (None for policy versions)."""
    parsed = parse_address(address)
    if parsed and parsed[0] in (ResourceType.MODEL, ResourceType.MODEL_VERSION):
        return parsed[1]
    return None


# --- changes and plans -----------------------------------------------------------------------------


class Action(str, Enum):
    """Terraform's words; the symbol is what the text plan shows."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    FORGET = "forget"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "forget": ".", "no-op": " "}[self.value]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Change(Frozen):
    """One resource's planned change.

    before: the live values of the managed attributes (None for create and for resources that
        are gone); apply refuses a saved plan when live no longer equals this.
    after:  the values apply will leave (None for delete and forget); keys listed in
        after_unknown are only known after apply (e.g. a version number MLflow assigns).
    identity: what apply needs to find or create the object (model name, version number,
        matcher, policy row id); never shown as a diff.
    refs: attribute -> address whose identity fills that attribute in during apply.
    reason: for people only; apply never reads it.
    """

    address: str
    type: ResourceType
    actions: tuple[Action, ...]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    after_unknown: tuple[str, ...] = ()
    reason: str | None = None
    depends_on: tuple[str, ...] = ()
    identity: dict[str, Any] = Field(default_factory=dict)
    refs: dict[str, str] = Field(default_factory=dict)
    # True when live already matches but state has not recorded the resource yet (adoption):
    # apply records it without writing to MLflow or the database.
    record_only: bool = False

    @property
    def action(self) -> Action:
        return self.actions[0]

    def filled_after(self, values: dict[str, Any]) -> dict[str, Any]:
        """`after` with the attributes only apply knows filled in: `values` maps the keys of
        `refs` (`model_version`, `aliases.NAME`) to what the referenced resources became."""
        after = dict(self.after or {})
        for attr, value in values.items():
            if attr.startswith("aliases."):
                after["aliases"] = {**after.get("aliases", {}), attr[len("aliases."):]: value}
            elif attr in after:
                after[attr] = value
        return after


class DriftItem(Frozen):
    address: str
    attribute: str | None  # None: the whole resource is gone
    recorded: Any = None
    live: Any = None
    last_updated: int | None = None
    user: str | None = None
    note: str | None = None


class Promotion(Frozen):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    model: str
    version: str | None
    address: str
    from_stage: str = Field(alias="from")
    to_stage: str = Field(alias="to")
    metrics: dict[str, float | None] = Field(default_factory=dict)
    run_id: str | None = None
    registered_by: str | None = None
    replaces: dict[str, Any] | None = None


class Summary(Frozen):
    create: int = 0
    update: int = 0
    delete: int = 0
    forget: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete + self.forget


class Plan(Frozen):
    format_version: str = "1"
    mlreg_version: str = __version__
    config: dict[str, str]
    state: dict[str, Any]
    resource_changes: tuple[Change, ...] = ()
    resource_drift: tuple[DriftItem, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    summary: Summary = Field(default_factory=Summary)
    applyable: bool = True

    @property
    def changes(self) -> list[Change]:
        """Changes that do something (not no-op)."""
        return [c for c in self.resource_changes if c.action is not Action.NOOP]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)
