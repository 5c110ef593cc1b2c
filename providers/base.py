"""The contract between the engine and the live systems.

A provider reads in bulk (a page is one request, never one request per version) and applies
one change at a time. Contracts, Pulumi-style:
- `apply` is idempotent for the change it is given: if the object already exists in the
  desired shape (e.g. a crash after MLflow created it but before state was written), it adopts
  it instead of creating a second one.
- If `apply` raises, the change may be partly done (some tags set); the next plan sees the
  live values and finishes it. It never leaves a duplicate behind.
- `apply` returns the resource's recorded identity (e.g. the version number MLflow assigned).
"""

from __future__ import annotations

from typing import Any, Protocol

from planner.errors import MlregError
from planner.model import Change, DatabaseSnapshot, LiveRun, ReadRequest, RegistrySnapshot


class BackendError(MlregError):
    """A live system failed or refused: shown to the user as one line, exit 1."""


class RegistryProvider(Protocol):
    def read(self, request: ReadRequest) -> RegistrySnapshot: ...

    def read_runs(self, run_ids: set[str]) -> dict[str, LiveRun]: ...

    def inspect_runs(self, runs: list[LiveRun]) -> dict[str, LiveRun]:
        """The same runs with `artifacts` and `logged_models` filled in."""

    def apply(self, change: Change, resolved: dict[str, Any]) -> dict[str, Any]:
        """Make live match change.after; `resolved` fills change.refs. Returns the identity."""


class DatabaseProvider(Protocol):
    def read(self, request: ReadRequest) -> DatabaseSnapshot: ...

    def apply_batch(self, changes: list[Change], resolved: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Apply policy-version changes in one transaction; returns address -> identity."""
