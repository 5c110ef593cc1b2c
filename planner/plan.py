"""Build a plan: read what the config needs, diff, check the rules, order, filter by target.

The planner is given a state *snapshot* and live *readers*; it never writes anything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from planner import rules
from planner.config import LoadedConfig
from planner.diff import diff
from planner.drift import detect
from planner.model import (
    Action,
    Change,
    LiveSnapshot,
    Plan,
    ReadRequest,
    ResourceType,
    Summary,
    address_model,
    model_address,
)
from planner.perf import no_gc_pauses
from planner.resolve import read_request
from planner.statedata import StateSnapshot

_TYPE_ORDER = {ResourceType.MODEL: 0, ResourceType.MODEL_VERSION: 1, ResourceType.POLICY_VERSION: 2}


def read_live(loaded: LoadedConfig, read_state, registry, database) -> tuple[LiveSnapshot, StateSnapshot]:
    """One bulk read of both live systems, in parallel, started before state is even read.

    The registry read for what registry.yaml names begins at once, so the server works while
    this process reads state and opens the database; models known only from state (forgotten
    ones) are topped up afterwards. `read_state` returns the state snapshot.
    """
    from concurrent.futures import ThreadPoolExecutor

    early = read_request(loaded.config, StateSnapshot())
    with ThreadPoolExecutor(max_workers=2) as pool:
        reg_f = pool.submit(registry.read, early)
        state = read_state()
        full = read_request(loaded.config, state)
        db_f = pool.submit(database.read, full)
        reg = reg_f.result()
        missing = full.model_names - early.model_names
        if missing:
            more = registry.read(ReadRequest(model_names=missing))
            reg = replace(reg, models={**reg.models, **more.models}, versions={**reg.versions, **more.versions})
        return LiveSnapshot(registry=reg, database=db_f.result()), state


def _with_runs(live: LiveSnapshot, runs: dict) -> LiveSnapshot:
    if not runs:
        return live
    return replace(live, registry=replace(live.registry, runs={**live.registry.runs, **runs}))


def _targeted(changes: list[Change], targets: Iterable[str]) -> list[Change]:
    """Targets and everything they depend on; `model.NAME` takes the model's versions too."""
    targets = set(targets)
    if not targets:
        return changes
    by_addr = {c.address: c for c in changes}
    wanted = set()
    for c in changes:
        if c.address in targets or (c.type is ResourceType.MODEL_VERSION
                                    and model_address(address_model(c.address)) in targets):
            wanted.add(c.address)
    stack = list(wanted)
    while stack:
        c = by_addr.get(stack.pop())
        for dep in c.depends_on if c else ():
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [c for c in changes if c.address in wanted]


def summarize(changes: Iterable[Change]) -> Summary:
    counts = {Action.CREATE: 0, Action.UPDATE: 0, Action.DELETE: 0, Action.FORGET: 0}
    noop = Action.NOOP
    for c in changes:
        if c.actions[0] is not noop:
            counts[c.actions[0]] += 1
    return Summary(**{a.value: n for a, n in counts.items()})


def build_plan(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot, registry=None,
               targets: Iterable[str] = ()) -> Plan:
    """`registry` (optional) reads the extra runs that gates and required logging need."""
    with no_gc_pauses():
        return _build_plan(loaded, state, live, registry, targets)


def _build_plan(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot, registry, targets) -> Plan:
    cfg = loaded.config
    result = diff(cfg, live, state)
    if registry is not None:
        live = _with_runs(live, registry.read_runs(rules.runs_needed(result, live)))
        to_inspect = [live.registry.runs[i] for i in rules.runs_to_inspect(result, live)]
        live = _with_runs(live, registry.inspect_runs(to_inspect))
    rule_diags, promotions = rules.check(cfg, result, live)
    changes = sorted(result.changes, key=lambda c: (_TYPE_ORDER[c.type], c.address))
    changes = _targeted(changes, targets)
    diagnostics = tuple(result.diagnostics) + tuple(rule_diags)
    return Plan(
        config={"path": loaded.path, "digest": loaded.digest},
        state={"lineage": state.lineage, "serial": state.serial},
        resource_changes=tuple(changes),
        resource_drift=tuple(detect(state, live, only={c.address for c in changes
                                                      if c.actions[0] is not Action.NOOP or c.record_only},
                                    unmanaged=False)),
        promotions=tuple(promotions),
        diagnostics=diagnostics,
        summary=summarize(changes),
        applyable=not any(d.is_error for d in diagnostics),
    )
