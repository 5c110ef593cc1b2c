"""Each kind's test doubles, one module per kind (the module has the kind's name): its in-memory
reads and writes (which the shared fake providers in tests/unit/fakes.py dispatch to), how a
case file's `live:` data becomes its facts (engine_support.live_from) and its conformance sample
(the smallest file that plans one of its changes; tests/unit/test_conformance.py). Modules are
found by name, so a new kind adds its module here and edits no shared test module.

Facts two kinds read together (a model and its versions read `RegistryFacts`) are built and
read by one of them: the module that owns the facts says so with `reads` and `facts`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class KindDouble:
    """`type`/`provider`: the kind and the provider that writes it. `sample`: registry.yaml text
    (after `version: 1`) that plans at least one change of it; `setup`: what must hold first
    (`runs`: run ids the world logs; `env`: environment variables the file references).
    `store(world)`: make its part of the in-memory world. `write(world, request) -> identity`: apply
    one `WriteRequest` (for a batch kind, each request of the batch in turn). `reads`: request
    type -> `(world, request) -> facts`. `facts(data)`: a case file's `live:` data -> {facts type:
    facts}. `names(world)`: its live names (`mlreg import`)."""

    type: str
    provider: str
    sample: str
    setup: Mapping[str, Any] = field(default_factory=dict)
    store: Callable[[Any], None] | None = None
    write: Callable[[Any, Any], Mapping[str, Any]] | None = None
    reads: Mapping[type, Callable[[Any, Any], Any]] = field(default_factory=dict)
    facts: Callable[[dict], Mapping[type, Any]] | None = None
    names: Callable[[Any], list[str]] | None = None


@cache
def doubles() -> dict[str, KindDouble]:
    """Every kind's doubles, by kind type."""
    out = {}
    for module in pkgutil.iter_modules(__path__):
        double = importlib.import_module(f"{__name__}.{module.name}").DOUBLE
        out[double.type] = double
    return out
