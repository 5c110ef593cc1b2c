"""Apply's steps: which phases of a change run, and in which order the steps may run (a
dependency graph for graphlib). Pure: changes in, steps and their dependencies out.

A change runs in its kind's phases (a model's attributes, later its aliases once the versions they
point at exist); a batch kind's changes are one step (policy rows: one transaction); a kind that
holds the others (a workspace) is made first and deleted last; deletes run children first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.base import MAIN, Kind, Phase
from mlreg.planner.kinds.catalog import KINDS


@dataclass(frozen=True)
class Step:
    id: str  # the change's address, `ADDRESS#phase` for a later phase, `TYPE#batch` for a batch
    kind: Kind
    phase: Phase
    changes: tuple[Change, ...]
    last: bool  # the change's last phase: state then records all of `after`


def _phase_moves(change: Change, phase: Phase) -> bool:
    """Does this phase of the change write anything?"""
    if phase.keys is None:
        return True
    before, after = change.before or {}, change.after or {}
    return any(before.get(k) != after.get(k) for k in phase.keys) or any(
        a.split(".", 1)[0] in phase.keys for a in change.refs
    )


def active_phases(kind: Kind, change: Change) -> tuple[Phase, ...]:
    if change.action is Action.DELETE or len(kind.phases) == 1:
        return (MAIN,)
    phases = [p for p in kind.phases if p.keys is not None and _phase_moves(change, p)]
    owned = {k for p in kind.phases if p.keys for k in p.keys}
    before, after = change.before or {}, change.after or {}
    rest_moves = change.before is None or any(before.get(k) != v for k, v in after.items() if k not in owned)
    if rest_moves or not phases:
        phases.insert(0, kind.phases[0])
    return tuple(phases)


def plan_steps(changes: list[Change]) -> tuple[dict[str, Step], dict[str, set[str]]]:
    """Steps and their dependencies (step id -> ids it waits for)."""
    steps: dict[str, Step] = {}
    graph: dict[str, set[str]] = {}
    main_of: dict[str, str] = {}  # address -> id of the step that creates or updates it first
    batches: dict[str, list[Change]] = {}
    for c in changes:
        kind = KINDS[c.type]
        if kind.batch:
            batches.setdefault(c.type, []).append(c)
            main_of[c.address] = f"{c.type}#batch"
            continue
        phases = active_phases(kind, c)
        # Resources named by refs are waited for by the phase that needs them (an alias phase),
        # not by the change's first phase (the versions need their model first).
        later_refs = set(c.refs.values()) if any(p.after_refs for p in kind.phases) else set()
        prev = None
        for i, phase in enumerate(phases):
            first = phase is kind.phases[0]
            sid = c.address if first else f"{c.address}#{phase.name}"
            steps[sid] = Step(sid, kind, phase, (c,), last=i == len(phases) - 1)
            deps = {prev} if prev else set(c.depends_on) - later_refs
            if phase.after_refs:
                deps |= set(c.refs.values())
            graph[sid] = deps
            prev = sid
            if first:  # others wait for the step that creates or updates the resource itself
                main_of[c.address] = sid
    for type_, members in batches.items():
        sid = f"{type_}#batch"
        steps[sid] = Step(sid, KINDS[type_], MAIN, tuple(members), last=True)
        graph[sid] = {d for c in members for d in c.depends_on}
    # A kind that holds the others (a workspace) is made before anything else (and deleted last,
    # by the rule below).
    barrier = {
        sid for sid, s in steps.items() if s.kind.first and all(c.action is not Action.DELETE for c in s.changes)
    }
    for sid, s in steps.items():
        if not s.kind.first:
            graph[sid] |= barrier
    # Deletes run children first: a delete waits for every delete of a kind applied after it.
    deleting = {sid: s for sid, s in steps.items() if any(c.action is Action.DELETE for c in s.changes)}
    for sid, s in deleting.items():
        graph[sid] |= {other for other, o in deleting.items() if o.kind.rank > s.kind.rank}
    for sid, deps in graph.items():
        graph[sid] = {main_of.get(d, d) for d in deps} & steps.keys() - {sid}
    return steps, graph


def recorded_attributes(step: Step, change: Change, identity: Mapping[str, Any], values: Mapping[str, Any]) -> dict:
    """What state records for a step that completed: `after` with the reference `values` filled
    in and the number live assigned; a later phase's attributes as live had them until it runs."""
    after = change.filled_after(values)
    if "version" in after:
        after["version"] = identity.get("version", after["version"])
    if not step.last:  # later phases have not run: keep what live had for their attributes
        phases = active_phases(step.kind, change)
        for phase in phases[phases.index(step.phase) + 1 :]:
            for k in phase.keys or ():
                if change.before and k in change.before:
                    after[k] = change.before[k]
                else:
                    after.pop(k, None)
    return after
