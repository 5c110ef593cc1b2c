"""Build a plan, purely: diff, name the second read the rules need, check the rules, order.

    draft = plan.draft(loaded, state, live)        # diff (no I/O)
    more = <read draft.reads_needed()>             # the caller's read phase (workflow.py)
    p = plan.finish(draft, more, targets)          # rules, order, targets, drift (no I/O)

The planner is given a state snapshot and live facts; it never reads or writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlreg.planner import rules
from mlreg.planner.config.schema import LoadedConfig
from mlreg.planner.diagnostics import warning
from mlreg.planner.diff import diff
from mlreg.planner.drift import detect
from mlreg.planner.kinds.base import DiffContext
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.live import LiveSnapshot, Request, merge_requests
from mlreg.planner.model import EMPTY, Action, Address, Change, Plan, Summary
from mlreg.planner.perf import no_gc_pauses
from mlreg.planner.statedata import StateSnapshot


def read_requests(loaded: LoadedConfig, state: StateSnapshot) -> dict[type, Request]:
    """Everything a plan of this file against this state needs to read live, one request per type."""
    return merge_requests(r for kind in KINDS.values() for r in kind.requests(loaded.config, state))


@dataclass
class Draft:
    loaded: LoadedConfig
    state: StateSnapshot
    ctx: DiffContext

    def reads_needed(self) -> list[Request]:
        return rules.reads_needed(self.ctx)


def draft(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot) -> Draft:
    with no_gc_pauses():
        return Draft(loaded, state, diff(loaded.config, live, state))


def finish(
    d: Draft, more: Mapping[type, Any] | None = None, targets: Iterable[str] = (), backends: Mapping[str, str] = EMPTY
) -> Plan:
    with no_gc_pauses():
        ctx = d.ctx
        if more:
            ctx.live = ctx.live.with_facts(more)
        rule_diags, promotions = rules.check(ctx)
        rule_diags += [warning(note) for note in ctx.live.notes()]
        rank = {t: k.rank for t, k in KINDS.items()}
        # Apply order by kind; within a kind the order of the file (deletions and forgets last).
        changes = sorted(ctx.changes, key=lambda c: rank[c.type])
        changes = targeted(changes, targets)
        touched = {c.address for c in changes if c.action is not Action.NOOP or c.record_only}
        return Plan(
            config_path=d.loaded.path,
            config_digest=d.loaded.digest,
            lineage=d.state.lineage,
            serial=d.state.serial,
            changes=tuple(changes),
            drift=tuple(detect(d.state, ctx.live, only=touched, notes=False)),
            promotions=tuple(promotions),
            diagnostics=tuple(ctx.diagnostics) + tuple(rule_diags),
            edges=tuple(ctx.edges),
            backends=backends,
            targets=tuple(sorted(set(targets))),
            summary=Summary.of(changes),
        )


def build_plan(loaded: LoadedConfig, state: StateSnapshot, live: LiveSnapshot, targets: Iterable[str] = ()) -> Plan:
    """Draft and finish with what `live` already holds (tests and benchmarks on plain data)."""
    return finish(draft(loaded, state, live), None, targets)


def targeted(changes: list[Change], targets: Iterable[str]) -> list[Change]:
    """Targets and everything they depend on; `model.NAME` takes the model's versions too (and
    `prompt.NAME` its versions)."""
    targets = set(targets)
    if not targets:
        return changes
    by_addr = {c.address: c for c in changes}
    wanted = set()
    for c in changes:
        parent = getattr(KINDS[c.type], "parent", None)
        if c.address in targets or (parent and f"{parent}.{Address.parse(c.address).name}" in targets):
            wanted.add(c.address)
    stack = list(wanted)
    while stack:
        c = by_addr.get(stack.pop())
        for dep in c.depends_on if c else ():
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [c for c in changes if c.address in wanted]
