"""Execute a plan: the only caller of the providers' writes. It records state as each change
completes (state's other writers are the `state` commands and import's adoption, each under the
state lock as apply is).

Changes run in dependency order (graphlib), independent ones in parallel up to `parallelism`.
A change runs in its kind's phases (a model's attributes, later its aliases once the versions they
point at exist); a batch kind's changes go to its provider in one call (policy rows: one
transaction). State is recorded after every completed step by a writer thread that always
persists the newest snapshot, so a crash loses at most the steps in flight, and those the next
plan adopts by their matchers instead of creating again. When a live system stops answering
(`BackendUnavailable`) no further step starts; what completed is recorded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

from mlreg.planner.changes import Action, Change, Plan
from mlreg.planner.errors import BackendUnavailable
from mlreg.planner.kinds.base import MAIN, Kind, Phase
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.ports import Provider, StateWriter
from mlreg.planner.recorded import ResourceState, StateSnapshot


@dataclass(frozen=True)
class Event:
    """What apply reports as it goes. `what`: start | done | fail | skip | forget | move.
    `change` is None for a step that failed or was skipped as a whole (a batch); `identity`: what
    the live system answered for a completed step (a version number MLflow assigned)."""

    what: str
    address: str
    phase: Phase = MAIN
    change: Change | None = None
    detail: str = ""
    identity: Mapping[str, Any] | None = None


Progress = Callable[[Event], None]


@dataclass(frozen=True)
class Step:
    id: str  # the change's address, `ADDRESS#phase` for a later phase, `TYPE#batch` for a batch
    kind: Kind
    phase: Phase
    changes: tuple[Change, ...]
    last: bool  # the change's last phase: state then records all of `after`


@dataclass
class ApplyResult:
    state: StateSnapshot
    done: list[str] = field(default_factory=list)  # addresses fully applied (or forgotten, or adopted)
    written: list[str] = field(default_factory=list)  # addresses whose live writes all completed
    failed: dict[str, str] = field(default_factory=dict)  # step id -> error
    not_started: list[str] = field(default_factory=list)
    stopped: str | None = None  # why apply stopped early (a live system stopped answering)
    executed: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("adopt", "create", "update", "delete", "forget", "move"), 0)
    )


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


def _recorded_attributes(step: Step, change: Change, identity: Mapping[str, Any], filled: Mapping[str, Any]) -> dict:
    after = change.filled_after(filled)
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


class _StateWriter:
    """Persist the newest state in the background: every completed step bumps the serial.

    Steps only touch a dict under a lock (constant time); the writer thread takes one copy per
    write, so recording n steps over a state of m resources costs O(n + writes x m), not O(n x m).
    Writes are at least `interval` seconds apart (a burst of completed steps is one write): writing
    a 10,000-resource state after every one of 1,000 tag changes would take the interpreter away
    from the threads doing the work. A crash loses at most the last interval's records, which the
    next plan adopts by their matchers; `close()` always writes the final state.
    """

    def __init__(self, backend: StateWriter, state: StateSnapshot, interval: float = 0.25):
        self.backend = backend
        state = state.with_lineage()
        self._lineage = state.lineage
        self._endpoints = dict(state.endpoints)
        self._secret_key = state.secret_key
        self._resources = dict(state.resources)
        self._serial = state.serial
        self.written_serial = state.serial
        self._interval = interval
        self._cond = threading.Condition()
        self._closed = False
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def record(self, address: str, resource: ResourceState | None, moved_from: str | None = None) -> None:
        """Record one resource (None: drop it); `moved_from`: the address it was recorded under
        until now, dropped in the same write, so no state or journal entry holds it twice."""
        with self._cond:
            if moved_from is not None:
                self._resources.pop(moved_from, None)
            if resource is None:
                self._resources.pop(address, None)
            else:
                self._resources[address] = resource
            self._serial += 1
            self._cond.notify()

    @property
    def state(self) -> StateSnapshot:
        with self._cond:
            return StateSnapshot(
                lineage=self._lineage,
                serial=self._serial,
                resources=dict(self._resources),
                endpoints=self._endpoints,
                secret_key=self._secret_key,
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._serial == self.written_serial and not self._closed:
                    self._cond.wait()
                if self._serial == self.written_serial and self._closed:
                    return
            snap = self.state
            started = time.monotonic()
            try:
                self.backend.write(snap)
                self.written_serial = snap.serial
            except Exception as e:
                self.error = e
                return
            with self._cond:  # let a burst of steps complete before the next write
                self._cond.wait_for(
                    lambda: self._closed, timeout=max(0.0, self._interval - (time.monotonic() - started))
                )

    def close(self) -> StateSnapshot:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self.error:
            raise self.error
        return self.state


def _record_state_only(
    plan: Plan, writer: _StateWriter, result: ApplyResult, identities: dict, progress: Progress
) -> None:
    """What touches only state: forgetting, adopting, and moves (the same object under its new
    address); the identities of unchanged resources, for the changes that refer to them."""
    for c in plan.changes:
        if c.action is Action.FORGET:
            writer.record(c.address, None)
            result.done.append(c.address)
            result.executed["forget"] += 1
            progress(Event("forget", c.address, MAIN, c))
        elif c.record_only:
            writer.record(c.address, ResourceState(c.type, dict(c.identity), dict(c.after or {})), c.moved_from)
            result.done.append(c.address)
            result.executed["move" if c.moved_from else "adopt"] += 1
            if c.moved_from:
                progress(Event("move", c.address, MAIN, c))
        elif c.action is Action.NOOP:
            identities[c.address] = c.identity


def apply_plan(
    plan: Plan,
    state: StateSnapshot,
    providers: Mapping[str, Provider],
    backend: StateWriter,
    apply_id: str,
    parallelism: int = 8,
    progress: Progress | None = None,
) -> ApplyResult:
    """Run `plan`'s changes against the providers; record state after each step.

    `apply_id` names this apply to the providers (creates carry it); `progress` sees an `Event`
    as each step starts, completes, fails or is skipped.
    """
    progress = progress or (lambda event: None)
    result = ApplyResult(state=state)
    writer = _StateWriter(backend, state)
    identities: dict[str, Mapping[str, Any]] = {}
    lock = threading.Lock()

    _record_state_only(plan, writer, result, identities, progress)

    active = [c for c in plan.changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    steps, graph = plan_steps(active)

    def provider(kind: Kind) -> Provider:
        found = providers.get(kind.provider)
        if found is None:
            raise KeyError(f"no provider {kind.provider!r} for {kind.type}")
        return found

    def filled(change: Change) -> dict[str, Any]:
        out = {}
        with lock:
            for attr, ref in change.refs.items():
                ident = identities.get(ref)
                if ident is None:
                    raise RuntimeError(f"{change.address}: {ref} has no identity yet")
                out[attr] = ident.get(KINDS[ref.split(".", 1)[0]].ref_field)
        return out

    def finished(step: Step, change: Change, identity: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        if change.action is Action.DELETE:
            writer.record(change.address, None)
        else:
            writer.record(
                change.address,
                ResourceState(change.type, dict(identity), _recorded_attributes(step, change, identity, values)),
                change.moved_from,
            )
        with lock:
            identities[change.address] = identity
            if step.last:
                result.done.append(change.address)
                result.written.append(change.address)
                result.executed[change.action.value] += 1

    def run(step: Step) -> None:
        t0 = time.monotonic()
        for c in step.changes:
            progress(Event("start", c.address, step.phase, c))
        if step.kind.batch:
            values = {c.address: filled(c) for c in step.changes}
            idents = provider(step.kind).apply_batch(list(step.changes), values, apply_id)
            for c in step.changes:
                finished(step, c, idents[c.address], values[c.address])
                progress(Event("done", c.address, step.phase, c, f"{time.monotonic() - t0:.1f}s", idents[c.address]))
            return
        change = step.changes[0]
        # references are filled in the phase that waits for them (a model's aliases), or in the
        # only phase of a kind that has no such phase (a grant needs its new role's id)
        waits = step.phase.after_refs or not any(p.after_refs for p in step.kind.phases)
        values = filled(change) if waits and change.refs else {}
        identity = provider(step.kind).apply(change, step.phase, values, apply_id)
        finished(step, change, identity, values)
        progress(Event("done", change.address, step.phase, change, f"{time.monotonic() - t0:.1f}s", identity))

    sorter = TopologicalSorter(graph)
    sorter.prepare()
    failed_steps: set[str] = set()
    ready: deque[str] = deque()
    width = max(1, parallelism)
    with ThreadPoolExecutor(max_workers=width) as pool:
        running: dict = {}
        while sorter.is_active():
            ready.extend(sorter.get_ready())
            # Never queue more than can run: a step not started yet can still be held back.
            while ready and len(running) < width:
                sid = ready.popleft()
                step = steps[sid]
                if result.stopped:
                    result.not_started.append(step.id)
                    failed_steps.add(sid)
                    sorter.done(sid)
                elif graph[sid] & failed_steps:
                    failed_steps.add(sid)
                    result.failed[step.id] = "skipped: a step it depends on failed"
                    progress(Event("skip", _subject(step), step.phase, None, "a step it depends on failed"))
                    sorter.done(sid)
                else:
                    running[pool.submit(run, step)] = sid
            if not running:
                continue
            done_now, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done_now:
                sid = running.pop(fut)
                err = fut.exception()
                if err is not None:
                    failed_steps.add(sid)
                    result.failed[sid] = str(err)
                    progress(Event("fail", _subject(steps[sid]), steps[sid].phase, None, str(err)))
                    if isinstance(err, BackendUnavailable) and not result.stopped:
                        result.stopped = str(err)
                sorter.done(sid)
    result.state = writer.close()
    return result


def _subject(step: Step) -> str:
    """What a step is about, for people: its change's address, or its kind for a batch."""
    return step.id if step.kind.batch else step.changes[0].address
