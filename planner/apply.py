"""Execute a plan: the only caller of the providers' writes, and the only writer of state.

Changes run in dependency order (graphlib), independent ones in parallel up to `parallelism`.
A registered model is applied in two steps: its own attributes first, then its aliases once the
versions they point at exist. New policy versions go to the database in one transaction once
every version they reference exists. State is recorded after every completed step by a writer
thread that always persists the newest snapshot, so a crash loses at most the steps in flight,
and those the next plan adopts by their matchers instead of creating again.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any, Callable

from planner.model import Action, Change, Plan, ResourceType
from planner.statedata import ResourceState, StateSnapshot

POLICY_BATCH = "policy_versions#batch"


@dataclass(frozen=True)
class Step:
    id: str
    changes: tuple[Change, ...]
    phase: str = "main"  # main | aliases | batch


@dataclass
class ApplyResult:
    state: StateSnapshot
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _attributes_after(change: Change, identity: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    after = change.filled_after(filled)
    if "version" in after:
        after["version"] = identity.get("version", after["version"])
    return after


def _steps(changes: list[Change]) -> tuple[dict[str, Step], dict[str, set[str]]]:
    steps: dict[str, Step] = {}
    graph: dict[str, set[str]] = {}
    policies = [c for c in changes if c.type is ResourceType.POLICY_VERSION]
    deleting_rows = any(c.action is Action.DELETE for c in policies)
    for c in changes:
        if c in policies:
            continue
        steps[c.address] = Step(c.address, (c,))
        graph[c.address] = set()
        if c.type is ResourceType.MODEL_VERSION:
            graph[c.address] |= set(c.depends_on)
        if c.action is Action.DELETE:
            # Deletes run after the rows pointing at them are gone, versions before their model.
            if deleting_rows:
                graph[c.address].add(POLICY_BATCH)
            if c.type is ResourceType.MODEL:
                graph[c.address] |= {d.address for d in changes if d.action is Action.DELETE
                                     and d.type is ResourceType.MODEL_VERSION
                                     and d.identity.get("name") == c.identity["name"]}
        if c.type is ResourceType.MODEL and c.action in (Action.CREATE, Action.UPDATE):
            alias_step = f"{c.address}#aliases"
            steps[alias_step] = Step(alias_step, (c,), "aliases")
            graph[alias_step] = {c.address} | set(c.depends_on)
    if policies:
        steps[POLICY_BATCH] = Step(POLICY_BATCH, tuple(policies), "batch")
        graph[POLICY_BATCH] = {d for c in policies for d in c.depends_on}
    # Dependencies on resources with nothing to do are already satisfied.
    for deps in graph.values():
        deps.intersection_update(steps)
    return steps, graph


class _StateWriter:
    """Persist the newest state in the background: every completed step bumps the serial.

    Steps only touch a dict under a lock (constant time); the writer thread takes one copy per
    write, so recording n steps over a state of m resources costs O(n + writes x m), not O(n x m).
    """

    def __init__(self, backend, state: StateSnapshot):
        self.backend = backend
        state = state.with_lineage()
        self._lineage = state.lineage
        self._resources = dict(state.resources)
        self._serial = state.serial
        self.written_serial = state.serial
        self._cond = threading.Condition()
        self._closed = False
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def record(self, address: str, resource: ResourceState | None) -> None:
        with self._cond:
            if resource is None:
                self._resources.pop(address, None)
            else:
                self._resources[address] = resource
            self._serial += 1
            self._cond.notify()

    @property
    def state(self) -> StateSnapshot:
        with self._cond:
            return StateSnapshot(lineage=self._lineage, serial=self._serial, resources=dict(self._resources))

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._serial == self.written_serial and not self._closed:
                    self._cond.wait()
                if self._serial == self.written_serial and self._closed:
                    return
            snap = self.state
            try:
                self.backend.write(snap)
                self.written_serial = snap.serial
            except Exception as e:  # noqa: BLE001 - reported by close()
                self.error = e
                return

    def close(self) -> StateSnapshot:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self.error:
            raise self.error
        return self.state


def apply_plan(plan: Plan, state: StateSnapshot, registry, database, backend, parallelism: int = 8,
               progress: Callable[[str, str, Change | None, str], None] | None = None) -> ApplyResult:
    """Run `plan`'s changes against the providers; record state after each step.

    progress(event, label, change, detail) with event in start|done|fail|forget.
    """
    progress = progress or (lambda *a: None)
    result = ApplyResult(state=state)
    writer = _StateWriter(backend, state)
    identities: dict[str, dict[str, Any]] = {}

    # Forgetting and adopting touch only state.
    for c in plan.resource_changes:
        if c.action is Action.FORGET:
            writer.record(c.address, None)
            result.done.append(c.address)
            progress("forget", c.address, c, "")
        elif c.record_only:
            writer.record(c.address, ResourceState(c.type.value, c.identity, dict(c.after or {})))
        elif c.action is Action.NOOP:
            identities[c.address] = c.identity

    active = [c for c in plan.resource_changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    steps, graph = _steps(active)
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    lock = threading.Lock()

    def filled(change: Change) -> dict[str, Any]:
        out = {}
        with lock:
            for attr, ref in change.refs.items():
                ident = identities.get(ref)
                if ident is None:
                    raise RuntimeError(f"{change.address}: {ref} has no identity yet")
                out[attr] = ident.get("version")
        return out

    def run(step: Step) -> None:
        t0 = time.monotonic()
        c0 = step.changes[0]
        quiet = step.phase == "aliases" and not c0.refs and \
            (c0.before or {}).get("aliases") == (c0.after or {}).get("aliases")
        label = f"{c0.address} (aliases)" if step.phase == "aliases" else c0.address
        for c in step.changes:
            if not quiet:
                progress("start", label if step.phase != "batch" else c.address, c, "")
        if step.phase == "batch":
            resolved = {c.address: {"model_version": v} for c in step.changes for v in filled(c).values()}
            idents = database.apply_batch(list(step.changes), resolved)
            for c in step.changes:
                after = _attributes_after(c, idents[c.address], resolved.get(c.address, {}))
                writer.record(c.address, None if c.action is Action.DELETE else
                              ResourceState(c.type.value, idents[c.address], after))
                with lock:
                    identities[c.address] = idents[c.address]
                progress("done", c.address, c, f"{time.monotonic() - t0:.1f}s")
            return
        c = step.changes[0]
        refs = filled(c) if step.phase == "aliases" else {}
        ident = registry.apply(c, {**refs, "__phase__": step.phase})
        if c.action is Action.DELETE:
            writer.record(c.address, None)
            progress("done", label, c, f"{time.monotonic() - t0:.1f}s")
            return
        if c.type is ResourceType.MODEL and step.phase == "main":
            # Recorded once aliases are done too; until then only the attributes already set.
            after = {k: v for k, v in (c.after or {}).items() if k != "aliases"}
            after["aliases"] = (c.before or {}).get("aliases", {})
        else:
            after = _attributes_after(c, ident, refs)
        writer.record(c.address, ResourceState(c.type.value, ident, after))
        with lock:
            identities[c.address] = ident
        if not quiet:
            progress("done", label, c, f"{time.monotonic() - t0:.1f}s")

    failed_steps: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        running = {}
        while sorter.is_active():
            for sid in sorter.get_ready():
                if graph[sid] & failed_steps:
                    failed_steps.add(sid)
                    result.failed[sid] = "skipped: a dependency failed"
                    sorter.done(sid)
                    continue
                running[pool.submit(run, steps[sid])] = sid
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                sid = running.pop(fut)
                err = fut.exception()
                if err is None:
                    result.done.append(sid)
                else:
                    failed_steps.add(sid)
                    result.failed[sid] = str(err)
                    progress("fail", sid, None, str(err))
                sorter.done(sid)
    result.state = writer.close()
    return result
