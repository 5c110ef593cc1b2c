"""The engine's contracts with the outside: providers (live systems) and state backends.

The engine is typed against these small interfaces (Terraform's statemgr Reader/Writer/Locker);
`mlreg.providers` and `mlreg.state` implement them, tests pass in-memory fakes.

Provider contract (Pulumi-style):
- `read` answers the request types the provider serves, in bulk (a page is one request, never one
  request per version), and raises on a request type it does not know.
- `apply` takes one `WriteRequest` (Terraform's ApplyResourceChangeRequest: one phase of one
  change, the values its references resolved to, the apply's id) and makes live match it,
  answering a `WriteResult` (the resource's identity: e.g. the version number MLflow assigned).
  It is idempotent for the change it is given: if the object already exists in the desired shape
  (a crash after MLflow created it, an answer lost on the way), it adopts it instead of creating
  a second one. If it raises, the change may be partly done (some tags set); the next plan sees
  the live values and finishes it, never duplicating. Creates carry the apply's id, so an answer
  lost on the way can be found again.
- `apply_batch` does the same for all requests of a batch kind at once (one transaction).
- `kinds()` lists the resource types it writes (the conformance test checks every kind has one).
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from mlreg.planner.changes import EMPTY, Change
from mlreg.planner.kinds.base import MAIN, Phase
from mlreg.planner.live import Reads, Request
from mlreg.planner.recorded import StateSnapshot


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One write apply asks of a provider (Terraform's ApplyResourceChangeRequest): one `phase` of
    one `change`, `values` (what the resources `change.refs` names became: a version number MLflow
    assigned, a new role's id; filled in by apply) and `apply_id` (this apply's id, which creates
    carry)."""

    change: Change
    phase: Phase = MAIN
    values: Mapping[str, Any] = EMPTY
    apply_id: str = ""

    def after(self) -> dict[str, Any]:
        """The change's `after` with the values only apply knows filled in."""
        return self.change.filled_after(self.values)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a provider answers a write (Terraform's ApplyResourceChangeResponse): the identity of
    the resource as live has it now, which state records."""

    identity: Mapping[str, Any]


class Provider(Protocol):
    name: str

    def describe(self) -> str:
        """What it talks to, for people (passwords masked)."""

    def read(self, requests: Sequence[Request]) -> dict[type, Any]:
        """Facts for each request, keyed by the request's facts type."""

    def names(self, type_: str) -> list[str]:
        """Every live name of a kind it serves (for `mlreg import`)."""

    def kinds(self) -> set[str]:
        """The resource types it writes."""

    def apply(self, request: WriteRequest) -> WriteResult:
        """Make live match one phase of one change."""

    def apply_batch(self, requests: Sequence[WriteRequest]) -> dict[str, WriteResult]:
        """Apply all changes of a batch kind in one transaction; returns address -> result."""


class Prefetched(Protocol):
    """A read started early (before the file was validated) by a provider of the session."""

    reads: Reads

    def result(self) -> dict[type, Any]:
        """Its facts by type, once done (raises what the read raised)."""


@dataclass(frozen=True)
class LockInfo:
    id: str
    who: str
    host: str
    pid: int
    operation: str
    since: str

    @classmethod
    def new(cls, operation: str) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            who=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            operation=operation,
            since=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"held by {self.who}@{self.host} (pid {self.pid}) for `{self.operation}` since {self.since}; "
            f"lock id {self.id}"
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name, no password entry for the uid, no pwd
        return os.environ.get("USER", "unknown")


class StateReader(Protocol):
    def read(self) -> StateSnapshot: ...

    def describe(self) -> str: ...

    def endpoints(self) -> tuple[dict[str, str], bool]:
        """(what state was recorded against, whether it records any resource), read cheaply so
        that a state recorded elsewhere is refused before anything live is read."""


class StateWriter(Protocol):
    def write(self, snapshot: StateSnapshot) -> None:
        """Atomically replace state; refuse (StaleSerial) a serial lower than the stored one."""

    def stored_meta(self) -> tuple[str | None, int | None]:
        """(lineage, serial) of the stored state, or (None, None) when nothing is stored yet."""


class Locker(Protocol):
    def lock(self, operation: str, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the writer lock for a whole command; raise StateLocked naming the holder."""

    def force_unlock(self, lock_id: str) -> bool: ...


class HistoryLog(Protocol):
    def append_history(self, record: dict) -> None:
        """Add a record, or replace the one with the same id (an apply starts `running`)."""

    def history(self) -> list[dict]: ...

    def journal(self) -> list[dict]:
        """What each state write changed, in order (recorded.journal_entry): for the state at a
        past time and the history of one address."""

    def import_past(self, journal: list[dict], history: list[dict]) -> None:
        """Take in another backend's journal entries and apply records (`state push`), those it
        does not hold yet, in their order, keeping their times."""


class StateBackend(StateReader, StateWriter, Locker, HistoryLog, Protocol):
    """All four, as the local file and the PostgreSQL backend provide them."""
