"""State in a local JSON file, next to registry.yaml by default, with its history beside it.

The file is replaced atomically (write to a temporary file, then rename). The lock is an OS
file lock (released by the kernel if the process dies) plus a holder record that names who
holds it, so a second writer can say who is in the way. Every write also appends what changed to
`journal.jsonl` (planner/recorded.py), so state at any past time can be replayed; applies are
recorded in `history.jsonl`. None of these files is written through a symbolic link.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from mlreg.planner.errors import StaleSerial
from mlreg.planner.ports import LockInfo
from mlreg.planner.recorded import StateEncoder, StateSnapshot, journal_entry, missing_past
from mlreg.state import files
from mlreg.state.base import locked


class LocalState:
    def __init__(self, path: str | Path, base: str | Path | None = None):
        """`base`: the configuration's folder (links are refused from there down)."""
        self.path = Path(path)
        self.base = Path(base) if base is not None else self.path.parent
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.holder_path = self.path.with_name(self.path.name + ".lock.info")
        self.history_path = self.path.with_name("history.jsonl")
        self.journal_path = self.path.with_name("journal.jsonl")
        self._written: StateSnapshot | None = None  # the last snapshot this process wrote or read
        self._journal_serial: tuple | None = None  # (lineage, serial) the journal is known to end at
        self._lock_info: LockInfo | None = None
        self._encoder = StateEncoder()

    def describe(self) -> str:
        return f"local file {self.path}"

    def _load(self) -> dict | None:
        try:
            return json.loads(files.read_text(self.path, self.base))
        except FileNotFoundError:
            return None

    def endpoints(self) -> tuple[dict[str, str], bool]:
        """(what state was recorded against, whether it records any resource), cheaply: the
        encoder writes both on the first two lines."""
        try:
            f = files.open_own(self.path, self.base)
        except OSError:
            return {}, False
        with f:
            head, second = (f.readline(1 << 20).decode("utf-8"), f.readline(1 << 20).decode("utf-8"))
        try:
            data = json.loads(head.rsplit(', "resources"', 1)[0] + "}")
        except ValueError:
            data = (self._load() or {}) if head else {}
        return dict(data.get("endpoints") or {}), bool(second.strip() and not second.startswith("}"))

    def stored_meta(self) -> tuple[str | None, int | None]:
        data = self._load()
        return (data.get("lineage"), int(data.get("serial", 0))) if data else (None, None)

    def read(self) -> StateSnapshot:
        data = self._load()
        snap = StateSnapshot.from_json(data) if data else StateSnapshot.new()
        if data:
            self._written = snap
        return snap

    def write(self, snapshot: StateSnapshot) -> None:
        # While we hold the lock nobody else writes, so the stored state is the one we wrote last.
        last = self._written if self._written is not None else self.read() if self.path.exists() else None
        if last is not None and last.lineage == snapshot.lineage and last.serial >= snapshot.serial:
            raise StaleSerial(f"refusing to write serial {snapshot.serial}: stored state is at serial {last.serial}")
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        # the journal first: a crash between the two leaves a journal entry ahead of state, which
        # the next write (a full entry, see journal_entry) supersedes
        entry = journal_entry(last if self._journal_matches(last) else None, snapshot, now, self._lock_info)
        files.append(self.journal_path, json.dumps(entry, sort_keys=True) + "\n", self.base)
        self._journal_serial = (snapshot.lineage, snapshot.serial)
        files.write_atomic(self.path, self._encoder.encode(snapshot), self.base)
        self._written = snapshot

    def _journal_matches(self, last: StateSnapshot | None) -> bool:
        """Does the journal end at `last` (so a delta from it replays correctly)?"""
        if last is None:
            return False
        if self._journal_serial == (last.lineage, last.serial):
            return True
        tail = self._journal_tail()
        ok = tail is not None and (tail.get("lineage"), tail.get("serial")) == (last.lineage, last.serial)
        if ok:
            self._journal_serial = (last.lineage, last.serial)
        return ok

    def _journal_tail(self) -> dict | None:
        try:
            with files.open_own(self.journal_path, self.base) as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 1_048_576))
                lines = f.read().splitlines()
        except FileNotFoundError:
            return None
        for line in reversed(lines):
            if line.strip():
                try:
                    return json.loads(line)
                except ValueError:
                    return None
        return None

    def import_past(self, journal: list[dict], history: list[dict]) -> None:
        entries, records = missing_past(self.journal(), self.history(), journal, history)
        if entries:
            text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
            files.append(self.journal_path, text, self.base)
            self._journal_serial = None
        for record in records:
            self.append_history(record)

    def journal(self) -> list[dict]:
        try:
            text = files.read_text(self.journal_path, self.base)
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _holder_record(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(files.read_text(self.holder_path, self.base)))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0):
        files.refuse_links(self.lock_path, self.base)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        files.refuse_links(self.lock_path, self.base)
        flock = FileLock(str(self.lock_path))
        try:
            flock.acquire(timeout=timeout if timeout > 0 else 0.01)
        except Timeout:
            raise locked(self._holder_record(), self.describe()) from None
        info = LockInfo.new(operation)
        try:
            files.write_atomic(self.holder_path, json.dumps(info.to_json()), self.base)
            # Whoever held the lock before us is gone: its unfinished applies were interrupted.
            for record in self.history():
                if record.get("outcome") == "running":
                    self.append_history({**record, "outcome": "interrupted"})
            self._lock_info = info
            yield info
        finally:
            self._lock_info = None
            self.holder_path.unlink(missing_ok=True)
            flock.release()

    def force_unlock(self, lock_id: str) -> bool:
        holder = self._holder_record()
        if holder is None or holder.id != lock_id:
            return False
        self.holder_path.unlink(missing_ok=True)
        return True

    def append_history(self, record: dict) -> None:
        files.append(self.history_path, json.dumps(record, sort_keys=True) + "\n", self.base)

    def history(self) -> list[dict]:
        try:
            lines = files.read_text(self.history_path, self.base).splitlines()
        except FileNotFoundError:
            return []
        merged: dict[str, dict] = {}  # a record is appended again when its outcome is known
        for line in lines:
            if line.strip():
                record = json.loads(line)
                merged[record.get("id", str(len(merged)))] = record
        return list(merged.values())
