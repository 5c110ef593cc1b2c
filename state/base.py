"""Where recorded state lives: small pieces (Terraform's statemgr Reader/Writer/Locker)."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Protocol

from planner.errors import MlregError
from planner.statedata import STATE_FORMAT, StateSnapshot


@dataclass(frozen=True)
class LockInfo:
    id: str
    who: str
    host: str
    pid: int
    operation: str
    since: str

    @classmethod
    def new(cls, operation: str) -> "LockInfo":
        return cls(id=str(uuid.uuid4()), who=_user(), host=socket.gethostname(), pid=os.getpid(),
                   operation=operation, since=datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"held by {self.who}@{self.host} (pid {self.pid}) for `{self.operation}` since {self.since}; "
                f"lock id {self.id}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


class StateEncoder:
    """State as JSON text, one resource per line (readable, diffable), re-encoding only the
    resources that changed since the last call: apply persists state after every change, and
    re-encoding 10,000 unchanged resources each time would starve the threads doing the work."""

    def __init__(self):
        self._lines: dict[str, tuple[object, str]] = {}

    def encode(self, snapshot: StateSnapshot) -> str:
        import json

        lines = []
        cache = {}
        for address in sorted(snapshot.resources):
            rs = snapshot.resources[address]
            hit = self._lines.get(address)
            if hit is None or hit[0] is not rs:
                body = json.dumps({"attributes": rs.attributes, "identity": rs.identity, "type": rs.type},
                                  sort_keys=True)
                hit = (rs, f"  {json.dumps(address)}: {body}")
            cache[address] = hit
            lines.append(hit[1])
        self._lines = cache
        head = json.dumps({"format_version": STATE_FORMAT, "lineage": snapshot.lineage, "serial": snapshot.serial})[:-1]
        if not lines:
            return f'{head}, "resources": {{}}}}\n'
        return f'{head}, "resources": {{\n' + ",\n".join(lines) + "\n}}\n"


class StateLocked(MlregError):
    def __init__(self, holder: LockInfo | None, where: str):
        self.holder = holder
        text = holder.describe() if holder else "holder unknown"
        hint = f"; if that process is dead, run `mlreg force-unlock {holder.id}`" if holder else ""
        super().__init__(f"State is locked ({where}): {text}{hint}")


class StaleSerial(MlregError):
    """A write that would move state backwards (an older serial than the stored one)."""


class StateBackend(Protocol):
    def read(self) -> StateSnapshot: ...

    def write(self, snapshot: StateSnapshot) -> None:
        """Atomically replace state; refuse (StaleSerial) a serial lower than the stored one."""

    def lock(self, operation: str, timeout: float = 0.0):
        """Context manager holding the writer lock for a whole command; yields LockInfo."""

    def force_unlock(self, lock_id: str) -> bool: ...

    def stored_meta(self) -> tuple[str | None, int | None]:
        """(lineage, serial) of the stored state, or (None, None) when nothing is stored yet."""

    def append_history(self, record: dict) -> None:
        """Add a record, or replace the one with the same id (an apply starts `running`)."""

    def history(self) -> list[dict]: ...

    def describe(self) -> str: ...
