"""Apply's state writer: state is recorded as steps complete, by a thread that always persists
the newest snapshot (so a crash loses at most the steps in flight, which the next plan adopts by
their matchers instead of creating again).
"""

from __future__ import annotations

import threading
import time

from mlreg.planner.ports import StateWriter
from mlreg.planner.recorded import ResourceState, StateSnapshot


class StateRecorder:
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
