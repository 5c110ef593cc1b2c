"""In-memory providers and state (Terraform's statemgr fake, SQLMesh's evaluator): the engine's
workflow and executor run against these in unit tests, with no server and no database.

`MemoryMlflow` and `MemoryPolicies` answer the provider port (planner/ports.py) for their kinds,
each by asking the kind's doubles (tests/unit/kinds/: its reads, its write, its part of the
world): nothing here knows a kind.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from mlreg.planner.config.load import parse_config
from mlreg.planner.errors import BackendUnavailable, StaleSerial, StateLocked
from mlreg.planner.ports import LockInfo, WriteRequest, WriteResult
from mlreg.planner.recorded import StateSnapshot, journal_entry
from mlreg.planner.workflow import Session
from tests.unit.kinds import doubles


class MemoryState:
    def __init__(self):
        self.snapshot = StateSnapshot.new()
        self.records: dict[str, dict] = {}
        self.holder: LockInfo | None = None
        self.writes = 0
        self.entries: list[dict] = []

    def describe(self) -> str:
        return "memory"

    def read(self) -> StateSnapshot:
        return self.snapshot

    def write(self, snap: StateSnapshot) -> None:
        if snap.lineage == self.snapshot.lineage and snap.serial <= self.snapshot.serial:
            raise StaleSerial(f"serial {snap.serial} <= {self.snapshot.serial}")
        from datetime import UTC, datetime

        self.entries.append(journal_entry(self.snapshot, snap, datetime.now(UTC).isoformat(), self.holder))
        self.snapshot = snap
        self.writes += 1

    def stored_meta(self):
        return (self.snapshot.lineage, self.snapshot.serial) if self.snapshot.lineage else (None, None)

    def endpoints(self):
        return dict(self.snapshot.endpoints), bool(self.snapshot.resources)

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0):
        if self.holder is not None:
            raise StateLocked(f"State is locked: {self.holder.describe()}", self.holder)
        self.holder = LockInfo.new(operation)
        try:
            yield self.holder
        finally:
            self.holder = None

    def force_unlock(self, lock_id: str) -> bool:
        return False

    def append_history(self, record: dict) -> None:
        self.records[record["id"]] = dict(record)

    def history(self) -> list[dict]:
        return list(self.records.values())

    def journal(self) -> list[dict]:
        return list(self.entries)

    def import_past(self, journal: list[dict], history: list[dict]) -> None:
        from mlreg.planner.recorded import missing_past

        entries, records = missing_past(self.entries, self.history(), journal, history)
        self.entries += entries
        for r in records:
            self.append_history(r)


class MemoryProvider:
    """A provider in memory: its world is what its kinds' doubles keep (tests/unit/kinds/), and it
    reads, writes and lists by asking them; `calls` records every write, `fail` maps a step
    (`ADDRESS`, `ADDRESS#phase`, `TYPE#batch`) to the exception its write raises."""

    name = ""

    def __init__(self):
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.apply_ids: set[str] = set()
        self.resolved: dict = {}
        self.doubles = {t: d for t, d in doubles().items() if d.provider == self.name}
        for d in self.doubles.values():
            if d.store is not None:
                d.store(self)

    def describe(self) -> str:
        return f"memory {self.name}"

    def read(self, requests):
        readers = {t: fn for d in self.doubles.values() for t, fn in d.reads.items()}
        return {type(r).facts: readers[type(r)](self, r) for r in requests}

    def names(self, type_: str) -> list[str]:
        return self.doubles[type_].names(self)

    def kinds(self) -> set[str]:
        return {t for t, d in self.doubles.items() if d.write is not None}

    def _write(self, step: str, request: WriteRequest) -> WriteResult:
        self.calls.append(step)
        self.apply_ids.add(request.apply_id)
        if step in self.fail:
            raise self.fail[step]
        self.resolved = request.values
        return WriteResult(self.doubles[request.change.type].write(self, request))

    def apply(self, request: WriteRequest) -> WriteResult:
        change, phase = request.change, request.phase
        return self._write(change.address if phase.name == "main" else f"{change.address}#{phase.name}", request)

    def apply_batch(self, requests) -> dict[str, WriteResult]:
        batch = f"{requests[0].change.type}#batch"
        if batch in self.fail:
            raise self.fail[batch]
        return {r.change.address: self._write(r.change.address, r) for r in requests}


class MemoryMlflow(MemoryProvider):
    name = "mlreg/mlflow"


class MemoryPolicies(MemoryProvider):
    name = "mlreg/postgres"


MemoryRegistry = MemoryMlflow  # the name the first tests used


def session(text: str, registry: MemoryMlflow, policies: MemoryPolicies, state: MemoryState, env=None) -> Session:
    loaded, diags = parse_config(("version: 1\n" + text).encode(), "registry.yaml", "/tmp", env=env or {})
    assert not diags, [d.summary for d in diags]
    return Session(loaded, {registry.name: registry, policies.name: policies}, state)


def unavailable(what: str = "MLflow at memory") -> BackendUnavailable:
    return BackendUnavailable(f"{what} did not answer for 60 s (ConnectionError: Connection refused)")


def with_state(state: MemoryState, **changes) -> MemoryState:
    state.snapshot = replace(state.snapshot, **changes)
    return state
