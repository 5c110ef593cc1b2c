"""The catalog of resource kinds: the one table the engine, the renderers, the config loader and
the CLI iterate. Nothing else lists the kinds.

Adding a kind: its module here, its section (config/sections/, which registers itself), its
provider module (which registers its reader and writer), its cases (engine cases, and its fakes
and conformance sample in tests/unit/kinds/), and one line below (`_kind("its_module")`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import TopologicalSorter
from importlib import import_module
from typing import TYPE_CHECKING

from mlreg.planner.changes import Topic
from mlreg.planner.kinds import (
    model,
    model_version,
    policy_version,
    prompt,
    role,
    role_member,
    role_permission,
    user,
    webhook,
    workspace,
)
from mlreg.planner.kinds.base import Kind
from mlreg.planner.kinds.grants import Grants
from mlreg.planner.live import Reads

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config


def _kind(module: str) -> Kind:
    """The kind of a module of this package by its name: one line per kind below."""
    return import_module(f"{__package__}.{module}").KIND


_ALL = (
    model.KIND,
    model_version.KIND,
    policy_version.KIND,
    prompt.PROMPT_KIND,
    prompt.VERSION_KIND,
    webhook.KIND,
    workspace.KIND,
    user.KIND,
    role.KIND,
    role_permission.KIND,
    role_member.KIND,
    _kind("gateway_secret"),
    _kind("gateway_model"),
    _kind("gateway_endpoint"),
    _kind("gateway_guardrail"),
    _kind("gateway_budget"),
)
# In apply order (rank): a model before its versions, versions before the rows pointing at them.
KINDS: dict[str, Kind] = {k.type: k for k in sorted(_ALL, key=lambda k: k.rank)}
# What roles can grant on, derived from the kinds' own `grant` (kinds/grants.py).
GRANTS = Grants.of(KINDS.values())


def kind_of(type_: str) -> Kind:
    found = KINDS.get(type_)
    if found is None:
        raise KeyError(f"unknown resource type {type_!r} (written by a newer mlreg?)")
    return found


def diff_order() -> list[Kind]:
    """Kinds in the order their diffs run: a kind after those whose resolutions it reads."""
    order = TopologicalSorter({t: set(k.needs) for t, k in KINDS.items()}).static_order()
    return [KINDS[t] for t in order]


def topics() -> list[Topic]:
    """The review's sections the kinds contribute to (promotions), in catalog order."""
    return list(dict.fromkeys(t for kind in KINDS.values() for t in kind.topics))


def importable() -> list[Kind]:
    """Kinds `mlreg import` writes, each with its own option."""
    return [k for k in KINDS.values() if k.importer is not None]


def named_reads(names: Mapping[str, frozenset[str]]) -> Reads:
    """What to read for names glanced in sections (section name -> names) before validation."""
    return Reads.of(
        r for kind in KINDS.values() if kind.section in names for r in kind.named_requests(names[kind.section])
    )


def declared_counts(cfg: Config) -> list[tuple[str, int]]:
    """How many resources of each kind the file declares, for people (`3 models, 1 model version`)."""
    out = []
    for kind in KINDS.values():
        n = kind.count(cfg)
        if n:
            noun = kind.type.replace("_", " ")
            out.append((noun if n == 1 else f"{noun}s", n))
    return out


def lineage(cfg: Config) -> Iterable[tuple[str, str]]:
    """Every lineage edge the file gives (policy version -> model version -> run or source)."""
    for kind in KINDS.values():
        yield from kind.lineage(cfg)
