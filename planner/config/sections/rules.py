"""The `rules:` section: its types, the two sets of defaults it starts from, and how a file's
keys replace them. Enforced in kinds/lifecycle.py (stages, gates, logging) and the models check.

`defaults: seed` (the default) starts from the conventions of the MLflow guide this project
serves; `defaults: none` from none (any name, no required logging, no gates, any transition, at
most one production version per model). Each rule a file gives replaces that rule's default
whole: a list or a map given is the whole list or map, and what it leaves out is empty
(`required_run_logging: {params: [C]}` requires param C and nothing else;
`promotion_gates: {production: {}}` means no gate).
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from mlreg.planner.config.base import Frozen
from mlreg.planner.stages import Stage

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
_GATE = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")

# The rules, each replaced whole when a file gives it: key paths under `rules:`.
RULES: tuple[tuple[str, ...], ...] = (
    ("model_name_pattern",),
    ("required_run_logging",),
    ("stages", "transitions"),
    ("stages", "max_production_per_model"),
    ("promotion_gates",),
    ("production_alias",),
    ("unmanaged_versions",),
)
_STAGES = [s.value for s in Stage]

# The MLflow guide's conventions (seed §3, §4.2, §5).
SEED: dict[str, Any] = {
    "model_name_pattern": r"^[a-z][a-z0-9_]*_model$",
    "required_run_logging": {
        "params": ["learning_rate", "batch_size", "epochs", "dataset_version", "model_base", "fine_tuning_method"],
        "metrics": ["train_loss", "val_loss"],
        "tags": ["policy_id", "task", "dataset_version"],
        "artifacts": ["model"],
    },
    "stages": {
        "transitions": {"none": ["candidate"], "candidate": ["production", "archived"], "production": ["archived"]},
        "max_production_per_model": 1,
    },
    "promotion_gates": {"production": {"plan_alignment_score": ">= 0.85", "constraint_respect_score": ">= 1.0"}},
    "production_alias": None,
    "unmanaged_versions": "note",
}
SEED["stages"]["transitions"]["archived"] = []

# A clean slate for a registry adopted from elsewhere.
NONE: dict[str, Any] = {
    "model_name_pattern": "^.+$",
    "required_run_logging": {"params": [], "metrics": [], "tags": [], "artifacts": []},
    "stages": {
        "transitions": {s: [t for t in _STAGES if t != s] for s in _STAGES},
        "max_production_per_model": 1,
    },
    "promotion_gates": {},
    "production_alias": None,
    "unmanaged_versions": "note",
}
DEFAULTS = {"seed": SEED, "none": NONE}


def _gate(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f">= {v}"
    if isinstance(v, str) and _GATE.match(v):
        return v.strip()
    raise ValueError('expected a threshold such as ">= 0.85", "<= 0.5" or "== 1"')


Threshold = Annotated[str, BeforeValidator(_gate)]


def parse_threshold(text: str) -> tuple[str, float]:
    m = _GATE.match(text)
    return (m.group(1) or ">="), float(m.group(2))


def passes(value: float, threshold: str) -> bool:
    op, limit = parse_threshold(threshold)
    return _OPS[op](value, limit)


def _given(raw: Mapping, path: tuple[str, ...]) -> bool:
    node: Any = raw
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def given_rules(raw: Any) -> tuple[str, ...]:
    """The rules (dotted key paths) a file's `rules:` mapping gives, `defaults` included."""
    if not isinstance(raw, Mapping):
        return ()
    keys = [("defaults",), *RULES]
    return tuple(".".join(p) for p in keys if _given(raw, p))


def resolve(raw: Any) -> Any:
    """The file's `rules:` with every rule it does not give taken from its `defaults`."""
    if not isinstance(raw, Mapping):
        return raw
    base = DEFAULTS.get(raw.get("defaults"), SEED)
    out = dict(raw)
    for key, value in base.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif key == "stages" and isinstance(out[key], Mapping):
            out[key] = {**copy.deepcopy(value), **out[key]}
    return out


class RequiredRunLogging(Frozen):
    """What a version's source run must have logged when the version enters candidate or
    production. A list left out requires nothing."""

    params: list[str] = Field(default_factory=list)
    """Params the source run must have logged."""
    metrics: list[str] = Field(default_factory=list)
    """Metrics the source run must have logged."""
    tags: list[str] = Field(default_factory=list)
    """Tags the source run must have."""
    artifacts: list[str] = Field(default_factory=list)
    """Artifacts the source run must have."""


class StageRules(Frozen):
    transitions: dict[Stage, list[Stage]] = Field(
        default_factory=lambda: {Stage(k): [Stage(t) for t in v] for k, v in SEED["stages"]["transitions"].items()}
    )
    """Stage -> the stages a version may move to from it (a stage left out: none). Default (seed):
    none -> candidate -> production -> archived, candidate -> archived."""
    max_production_per_model: int = Field(default=1, ge=0)
    """How many versions of one model may be in production at once. Default 1."""


class Rules(Frozen):
    defaults: Literal["seed", "none"] = "seed"
    """What the rules not given here start from: seed (the MLflow guide's conventions) or none
    (any name, no required logging, no gates, any transition, one production version per model).
    A rule given here replaces its default whole."""
    model_name_pattern: str = SEED["model_name_pattern"]
    """Regular expression every model name must match. Default (seed): ^[a-z][a-z0-9_]*_model$."""
    required_run_logging: RequiredRunLogging = Field(
        default_factory=lambda: RequiredRunLogging(**SEED["required_run_logging"])
    )
    """What a version's source run must have logged when it enters candidate or production."""
    stages: StageRules = Field(default_factory=StageRules)
    """Allowed stage transitions and production limits."""
    promotion_gates: dict[Stage, dict[str, Threshold]] = Field(
        default_factory=lambda: copy.deepcopy(SEED["promotion_gates"])
    )
    """Stage -> metric thresholds (">= 0.85") the source run must meet to enter it. Default
    (seed): production needs plan_alignment_score >= 0.85 and constraint_respect_score >= 1.0."""
    production_alias: str | None = None
    """An alias mlreg keeps on the production version (e.g. production). Omitted: none."""
    unmanaged_versions: Literal["note", "fail"] = "note"
    """Versions that appear on a managed model without being declared (registered by a training
    pipeline): a note in plan and drift (note), or drift that `drift --detailed-exitcode` exits 2
    for (fail)."""

    _given: tuple[str, ...] = PrivateAttr(default=())

    @staticmethod
    def passes(value: float, threshold: str) -> bool:
        """Does a metric's value meet a gate's threshold (">= 0.85")?"""
        return passes(value, threshold)

    @model_validator(mode="wrap")
    @classmethod
    def _from_defaults(cls, data, handler):
        given = given_rules(data)
        made = handler(resolve(data) if isinstance(data, Mapping) else data)
        if isinstance(data, Mapping):
            made._given = given
        return made

    @field_validator("model_name_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regular expression: {e}") from None
        return v

    @property
    def given(self) -> tuple[str, ...]:
        """The rules (dotted key paths) the file gives; the others are defaults."""
        return self._given

    def value_of(self, key: str) -> Any:
        """A rule's value as YAML writes it (`stages.transitions`, `promotion_gates`, …)."""
        node: Any = self.model_dump(mode="json")
        for part in key.split("."):
            node = node[part]
        return node


def _flow(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).removesuffix("\n...\n").strip()


def rules_lines(rules: Rules, origins: Mapping[str, str] | None = None) -> list[str]:
    """The effective rules as a `rules:` block of YAML that loads back to the same rules, every
    rule written out; with `origins` (rule key -> where it comes from), each rule's line ends
    with it as a comment (`mlreg rules`)."""
    data = rules.model_dump(mode="json")
    rows: list[tuple[str, str | None]] = [("rules:", None)]
    opened: set[str] = set()
    for path in (("defaults",), *RULES):
        depth = len(path)
        if depth == 2 and path[0] not in opened:
            opened.add(path[0])
            rows.append((f"  {path[0]}:", None))
        value = data[path[0]] if depth == 1 else data[path[0]][path[1]]
        pad = "  " * depth
        key = ".".join(path)
        if isinstance(value, dict) and value:  # a map of lists or maps: one line per entry
            rows.append((f"{pad}{path[-1]}:", key))
            rows += [(f"{pad}  {_flow(k)}: {_flow(v)}", None) for k, v in value.items()]
        elif key == "model_name_pattern":  # a regular expression reads best quoted
            quoted = "'" + value.replace("'", "''") + "'"
            rows.append((f"{pad}{path[-1]}: {quoted}", key))
        else:
            rows.append((f"{pad}{path[-1]}: {_flow(value)}", key))
    if not origins:
        return [text for text, _ in rows]
    width = max(len(text) for text, key in rows if key)
    return [f"{text.ljust(width)}   # {origins[key]}" if key in origins else text for text, key in rows]


def origins(rules: Rules, where) -> dict[str, str]:
    """Rule key -> where it comes from: `file:line` for a rule the file gives (`where(path)`
    answers (file, line) for a key path of the file), else `default (seed)` / `default (none)`."""
    out = {}
    for path in (("defaults",), *RULES):
        key = ".".join(path)
        if key in rules.given:
            file, line = where(("rules", *path))
            out[key] = f"{file}:{line}" if line else str(file)
        else:
            out[key] = "default" if key == "defaults" else f"default ({rules.defaults})"
    return out
