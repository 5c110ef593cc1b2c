"""State in a local JSON file, next to registry.yaml by default.

The file is replaced atomically (write to a temporary file, then rename). The lock is an OS
file lock (released by the kernel if the process dies) plus a holder record that names who
holds it, so a second writer can say who is in the way.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from mlreg.planner.errors import StaleSerial
from mlreg.planner.ports import LockInfo
from mlreg.planner.statedata import StateSnapshot
from mlreg.state.base import StateEncoder, locked


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalState:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.holder_path = self.path.with_name(self.path.name + ".lock.info")
        self.history_path = self.path.with_name("history.jsonl")
        self._written: tuple[str | None, int] | None = None
        self._encoder = StateEncoder()

    def describe(self) -> str:
        return f"local file {self.path}"

    def stored_meta(self) -> tuple[str | None, int | None]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None, None
        return data.get("lineage"), int(data.get("serial", 0))

    def read(self) -> StateSnapshot:
        try:
            return StateSnapshot.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return StateSnapshot.new()

    def write(self, snapshot: StateSnapshot) -> None:
        # While we hold the lock nobody else writes, so the stored serial is the one we wrote last.
        lineage, serial = self._written if self._written else self.stored_meta()
        if lineage == snapshot.lineage and serial is not None and serial >= snapshot.serial:
            raise StaleSerial(f"refusing to write serial {snapshot.serial}: stored state is at serial {serial}")
        _atomic_write(self.path, self._encoder.encode(snapshot))
        self._written = (snapshot.lineage, snapshot.serial)

    def _holder(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.holder_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flock = FileLock(str(self.lock_path))
        try:
            flock.acquire(timeout=timeout if timeout > 0 else 0.01)
        except Timeout:
            raise locked(self._holder(), self.describe()) from None
        info = LockInfo.new(operation)
        try:
            _atomic_write(self.holder_path, json.dumps(info.to_json()))
            # Whoever held the lock before us is gone: its unfinished applies were interrupted.
            for record in self.history():
                if record.get("outcome") == "running":
                    self.append_history({**record, "outcome": "interrupted"})
            yield info
        finally:
            self.holder_path.unlink(missing_ok=True)
            flock.release()

    def force_unlock(self, lock_id: str) -> bool:
        holder = self._holder()
        if holder is None or holder.id != lock_id:
            return False
        self.holder_path.unlink(missing_ok=True)
        return True

    def append_history(self, record: dict) -> None:
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.history_path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def history(self) -> list[dict]:
        try:
            lines = self.history_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        merged: dict[str, dict] = {}  # a record is appended again when its outcome is known
        for line in lines:
            if line.strip():
                record = json.loads(line)
                merged[record.get("id", str(len(merged)))] = record
        return list(merged.values())
