"""What a resource kind is: the one place its specifics live (Terraform's resource schema,
Alembic's op class). The engine iterates the registry of kinds and never branches on a type.

A kind says how its addresses look, what to read live, how to diff desired x live x recorded into
changes, how to delete one when the file opts in, what its live values are (for drift), in which
order it applies (rank) and in how many phases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner import diagnostics as dg
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.model import EMPTY, Action, ActionReason, Change, DriftItem
from mlreg.planner.statedata import ResourceState, StateSnapshot

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config, RemovedSpec


@dataclass(frozen=True)
class Phase:
    """One step of applying a change. `keys`: the attributes this phase writes (None: all the
    others). `after_refs`: it waits for the resources named in `change.refs` (an alias waits for
    the version it points at)."""

    name: str
    keys: frozenset[str] | None = None
    after_refs: bool = False


MAIN = Phase("main")


@dataclass(slots=True)
class Resolved:
    """A declared object joined with its live match (for kinds that refer to one another: a
    policy version points at a model version; rules read the run behind a version)."""

    address: str
    name: str  # the NAME of the address (the model a version belongs to)
    number: str | None  # what `refs` resolve to (a version number), None until apply creates it
    spec: Any = None
    live: Any = None
    run: Any = None


@dataclass
class DiffContext:
    cfg: Config
    live: LiveSnapshot
    state: StateSnapshot
    changes: list[Change] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolved: dict[str, Resolved] = field(default_factory=dict)
    # Declared objects that matched live and need nothing (the common case): only their number is
    # kept, so a converged registry of 100,000 versions builds no Resolved objects at all.
    numbers: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)  # declared, but not diffed (an error elsewhere)
    # addresses listed under removed with destroy: true (their live objects are being deleted)
    destroying: Mapping[str, RemovedSpec] = EMPTY

    def number_of(self, addr: str) -> tuple[bool, str | None]:
        """(declared and resolved, its number: None when only apply will know it)."""
        found = self.resolved.get(addr)
        if found is not None:
            return True, found.number
        number = self.numbers.get(addr)
        return number is not None, number

    def error(self, summary: str, detail: str = "", address: str | None = None) -> None:
        self.diagnostics.append(dg.error(summary, detail, address))

    def warn(self, summary: str, detail: str = "", address: str | None = None) -> None:
        self.diagnostics.append(dg.warning(summary, detail, address))


def decide(address: str, type_: str, before, after, recorded: ResourceState | None, identity: Mapping, **kw) -> Change:
    """Pick the action from before/after (compared once), marking adoptions state must record.

    A resource whose live values equal the file but not what state recorded (someone changed it
    and changed it back, or state never had it) is a no-op that apply records. A live value that
    differs from the file while the file equals what was last applied is drift being reverted.
    """
    if before is None:
        return Change(address, type_, Action.CREATE, None, after, identity=identity, **kw)
    if before == after:
        record_only = recorded is None or recorded.attributes != after or recorded.identity != identity
        return Change(address, type_, Action.NOOP, after, after, identity=identity, record_only=record_only, **kw)
    if recorded is not None and "reason" not in kw and reverts(before, after, recorded.attributes):
        kw["reason"] = ActionReason.REVERT_DRIFT
    return Change(address, type_, Action.UPDATE, before, after, identity=identity, **kw)


def reverts(before: Mapping, after: Mapping, recorded: Mapping) -> bool:
    """Does every attribute this change moves go back to its value last applied (the file did
    not change; live did)?"""
    moved = [k for k, v in after.items() if before.get(k) != v]
    return bool(moved) and all(k in recorded and recorded[k] == after[k] for k in moved)


class Kind:
    type: ClassVar[str]
    provider: ClassVar[str]  # the provider that reads and writes it: "mlreg/mlflow", "mlreg/postgres"
    rank: ClassVar[int]  # apply order: lower first (a model before its versions)
    keyed: ClassVar[bool] = True  # addresses are TYPE.NAME[KEY] (False: TYPE.NAME)
    batch: ClassVar[bool] = False  # all its changes go to the provider in one call (one transaction)
    phases: ClassVar[tuple[Phase, ...]] = (MAIN,)
    sensitive: ClassVar[tuple[str, ...]] = ()  # attributes never shown (values in state are hashes)
    needs: ClassVar[tuple[str, ...]] = ()  # kinds whose resolutions its diff reads (diffed first)
    parent: ClassVar[str | None] = None  # `--target PARENT.NAME` takes this kind's NAME resources too

    # -- read ----------------------------------------------------------------------------------
    def requests(self, cfg: Config, state: StateSnapshot) -> Iterable[Request]:
        """What a plan of `cfg` against `state` needs to read live for this kind."""
        return ()

    # -- diff -----------------------------------------------------------------------------------
    def diff(self, ctx: DiffContext) -> None:
        """For every resource the file declares: append its change (no-ops included), or report a
        diagnostic with its address, or add the address to `ctx.skipped` (its error is reported
        elsewhere). What state records and none of these names is forgotten."""
        raise NotImplementedError

    def destroy(
        self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec
    ) -> tuple[Mapping, Mapping] | None:
        """(before, identity) of the live object a `removed: destroy: true` entry deletes, or
        None when it is already gone. Kinds that cannot be deleted say so."""
        ctx.error(f"{self.type} resources cannot be deleted by mlreg", "take it out of the file to forget it", addr)
        return None

    def lineage(self, cfg: Config) -> Iterable[tuple[str, str]]:
        """Edges of the lineage picture that the file alone gives (for `mlreg graph`)."""
        return ()

    # -- drift ----------------------------------------------------------------------------------
    def live_values(self, rs: ResourceState, live: LiveSnapshot) -> tuple[Mapping | None, int | None, str | None]:
        """(live values of the recorded attributes or None if the object is gone, last updated
        in ms, user) for drift."""
        raise NotImplementedError

    def drift_notes(self, state: StateSnapshot, live: LiveSnapshot) -> list[DriftItem]:
        """Notes on unmanaged things that appeared next to managed ones (default: none)."""
        return []

    def gone_note(self, rs: ResourceState) -> str:
        return f"{self.type.replace('_', ' ')} no longer exists"

    # -- helpers for kinds -----------------------------------------------------------------------
    def number_to_delete(self, ctx: DiffContext, addr: str, name: str, key: str | None) -> str | None:
        """The version number a `removed` entry of a versioned kind means: the one state recorded,
        or N from a `vN` key; otherwise an error (which live version is meant is unknown)."""
        recorded = ctx.state.resources.get(addr)
        if recorded is not None:
            return str(recorded.identity.get("version"))
        if key and key.startswith("v") and key[1:].isdigit():
            return key[1:]
        ctx.error(
            f"{addr} is not in state, so which live version it means is unknown",
            f"name the version by number: {self.type}.{name}[vN]",
            addr,
        )
        return None

    @staticmethod
    def recreate_reason(recorded: ResourceState | None) -> dict[str, Any]:
        return {"reason": ActionReason.DELETED_OUTSIDE} if recorded else {}
