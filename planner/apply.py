"""Execute a plan: the only caller of the providers' writes. It records state as each change
completes (state's other writers are the `state` commands and import's adoption, each under the
state lock as apply is).

Changes run in dependency order (steps.py: graphlib), independent ones in parallel up to
`parallelism`, each write one `WriteRequest` to its kind's provider. State is recorded after every
completed step (recording.py), so a crash loses at most the steps in flight, and those the next
plan adopts by their matchers instead of creating again. When a live system stops answering
(`BackendUnavailable`) no further step starts; what completed is recorded.

Three parts: `_record_state_only` (forgets, adoptions and moves: state alone), `_Writes` (one
step's writes, on a pool thread; what the steps share lives there, under its lock) and `_Schedule`
(which step starts when; it runs on the calling thread only).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

from mlreg.planner.changes import Action, Address, Change, Plan
from mlreg.planner.errors import BackendUnavailable
from mlreg.planner.kinds.base import MAIN, Kind, Phase
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.ports import Provider, StateWriter, WriteRequest, WriteResult
from mlreg.planner.recorded import ResourceState, StateSnapshot
from mlreg.planner.recording import StateRecorder
from mlreg.planner.steps import Step, plan_steps, recorded_attributes


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


def _record_state_only(
    plan: Plan, writer: StateRecorder, result: ApplyResult, identities: dict, progress: Progress
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


class _Writes:
    """One apply's writes, a step at a time (`run`, called on the pool's threads). What the steps
    share (the identities of what completed, and what the result says was done, written and
    executed) is changed only here, under `lock`; the state recorder has a lock of its own."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        recorder: StateRecorder,
        result: ApplyResult,
        identities: dict[str, Mapping[str, Any]],
        apply_id: str,
        progress: Progress,
    ):
        self.providers = providers
        self.recorder = recorder
        self.result = result
        self.identities = identities
        self.apply_id = apply_id
        self.progress = progress
        self.lock = threading.Lock()

    def provider(self, kind: Kind) -> Provider:
        found = self.providers.get(kind.provider)
        if found is None:
            raise KeyError(f"no provider {kind.provider!r} for {kind.type}")
        return found

    def request(self, step: Step, change: Change, refs_now: bool = True) -> WriteRequest:
        """The write of one change's step, with what its references became (`refs_now`: they are
        filled in this phase)."""
        values = {}
        if refs_now and change.refs:
            with self.lock:
                for attr, ref in change.refs.items():
                    ident = self.identities.get(ref)
                    if ident is None:
                        raise RuntimeError(f"{change.address}: {ref} has no identity yet")
                    values[attr] = ident.get(KINDS[Address.parse(ref).type].ref_field)
        return WriteRequest(change, step.phase, values, self.apply_id)

    def run(self, step: Step) -> None:
        t0 = time.monotonic()
        for c in step.changes:
            self.progress(Event("start", c.address, step.phase, c))
        if step.kind.batch:
            requests = [self.request(step, c) for c in step.changes]
            results = self.provider(step.kind).apply_batch(requests)
            done = [(r, results[r.change.address]) for r in requests]
        else:
            change = step.changes[0]
            # references are filled in the phase that waits for them (a model's aliases), or in the
            # only phase of a kind that has no such phase (a grant needs its new role's id)
            waits = step.phase.after_refs or not any(p.after_refs for p in step.kind.phases)
            request = self.request(step, change, refs_now=waits)
            done = [(request, self.provider(step.kind).apply(request))]
        for request, result in done:
            self.finished(step, request, result)
            c = request.change
            self.progress(Event("done", c.address, step.phase, c, f"{time.monotonic() - t0:.1f}s", result.identity))

    def finished(self, step: Step, request: WriteRequest, result: WriteResult) -> None:
        change, identity = request.change, result.identity
        if change.action is Action.DELETE:
            self.recorder.record(change.address, None)
        else:
            attributes = recorded_attributes(step, change, identity, request.values)
            self.recorder.record(
                change.address, ResourceState(change.type, dict(identity), attributes), change.moved_from
            )
        with self.lock:
            self.identities[change.address] = identity
            if step.last:
                self.result.done.append(change.address)
                self.result.written.append(change.address)
                self.result.executed[change.action.value] += 1


class _Schedule:
    """Which step starts when: in dependency order, at most `width` at once, none after a live
    system stopped answering, none whose dependency failed. Runs on the calling thread only."""

    def __init__(self, steps: dict[str, Step], graph: dict[str, set[str]], result: ApplyResult, progress: Progress):
        self.steps, self.graph, self.result, self.progress = steps, graph, result, progress
        self.sorter = TopologicalSorter(graph)
        self.sorter.prepare()
        self.failed: set[str] = set()
        self.ready: deque[str] = deque()
        self.running: dict[Future, str] = {}

    def run(self, writes: _Writes, width: int) -> None:
        with ThreadPoolExecutor(max_workers=width) as pool:
            while self.sorter.is_active():
                self.ready.extend(self.sorter.get_ready())
                # Never queue more than can run: a step not started yet can still be held back.
                while self.ready and len(self.running) < width:
                    self.start(pool, writes, self.ready.popleft())
                if self.running:
                    self.collect()

    def start(self, pool: ThreadPoolExecutor, writes: _Writes, sid: str) -> None:
        step = self.steps[sid]
        if self.result.stopped:
            self.result.not_started.append(step.id)
            self.failed.add(sid)
            self.sorter.done(sid)
        elif self.graph[sid] & self.failed:
            self.failed.add(sid)
            self.result.failed[step.id] = "skipped: a step it depends on failed"
            self.progress(Event("skip", _subject(step), step.phase, None, "a step it depends on failed"))
            self.sorter.done(sid)
        else:
            self.running[pool.submit(writes.run, step)] = sid

    def collect(self) -> None:
        """Wait for a running step to end; a failure fails what depends on it, and a live system
        that stopped answering stops the apply."""
        done_now, _ = wait(self.running, return_when=FIRST_COMPLETED)
        for fut in done_now:
            sid = self.running.pop(fut)
            err = fut.exception()
            if err is not None:
                step = self.steps[sid]
                self.failed.add(sid)
                self.result.failed[sid] = str(err)
                self.progress(Event("fail", _subject(step), step.phase, None, str(err)))
                if isinstance(err, BackendUnavailable) and not self.result.stopped:
                    self.result.stopped = str(err)
            self.sorter.done(sid)


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
    recorder = StateRecorder(backend, state)
    identities: dict[str, Mapping[str, Any]] = {}
    _record_state_only(plan, recorder, result, identities, progress)
    active = [c for c in plan.changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    steps, graph = plan_steps(active)
    writes = _Writes(providers, recorder, result, identities, apply_id, progress)
    _Schedule(steps, graph, result, progress).run(writes, max(1, parallelism))
    result.state = recorder.close()
    return result


def _subject(step: Step) -> str:
    """What a step is about, for people: its change's address, or its kind for a batch."""
    return step.id if step.kind.batch else step.changes[0].address
