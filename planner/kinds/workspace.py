"""`workspace.NAME`: an MLflow workspace (`mlflow server --enable-workspaces`) this file creates
and whose description it keeps (`workspaces:`). Removal forgets; deletion only through `removed`
with `destroy: true`.

The file's own `workspace:` (where every one of its resources lives) must exist, or be declared
here: apply then creates it before anything inside it (its changes run first: `first`). A
`workspace:` on a server without workspaces is one clear error line (the provider's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import address
from mlreg.planner.kinds.base import (
    Chosen,
    Diff,
    DiffContext,
    Findings,
    Importer,
    Kind,
    created,
    decide,
    dump,
)
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "workspace"
SECTION = "workspaces"  # config/sections/: its types and checks


@dataclass(frozen=True, slots=True)
class LiveWorkspace:
    name: str
    description: str


@dataclass(frozen=True)
class WorkspaceFacts:
    workspaces: dict[str, LiveWorkspace] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class WorkspaceRequest(Request):
    provider = PROVIDER
    facts = WorkspaceFacts

    names: frozenset[str] = frozenset()
    # the workspace the file lives in: a server without workspaces is then an error
    required: frozenset[str] = frozenset()


class WorkspaceImporter(Importer):
    option = "workspace"
    help = "Workspaces to import, with their description (repeatable)."
    by_names = WorkspaceRequest

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        found = live[WorkspaceFacts].workspaces
        lines = ["workspaces:"]
        for c in chosen:
            w = found.get(c.name)
            lines.append(f"  {dump(c.name)}: {dump({'description': w.description} if w and w.description else {})}")
        return lines


class WorkspaceKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("workspaces",)
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = -10
    keyed: ClassVar[bool] = False
    first: ClassVar[bool] = True  # everything else runs inside it: its changes are applied first
    section: ClassVar[str] = SECTION
    importer: ClassVar[Importer] = WorkspaceImporter()

    def declared_requests(self, cfg: Config) -> Iterable[WorkspaceRequest]:
        names = set(cfg.workspaces) | self.destroyed_names(cfg)
        required = {cfg.workspace} if cfg.workspace else set()
        if names or required:
            yield WorkspaceRequest(names=frozenset(names | required), required=frozenset(required))

    def recorded_requests(self, resources) -> Iterable[WorkspaceRequest]:
        names = self.recorded_names(resources)
        if names:
            yield WorkspaceRequest(names=frozenset(names))

    def diff(self, ctx: DiffContext) -> None:
        live = ctx.live[WorkspaceFacts].workspaces
        for name, spec in ctx.cfg.workspaces.items():
            addr = address(TYPE, name)
            recorded = ctx.state.resources.get(addr)
            after = {"description": spec.description} if spec.description is not None else {}
            found = live.get(name)
            if found is None:
                ctx.changes.append(created(addr, TYPE, after, recorded, identity={"name": name}))
                continue
            before = {"description": found.description} if spec.description is not None else {}
            ctx.changes.append(decide(addr, TYPE, before, after, recorded, {"name": name}))

    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        name = diff.cfg.workspace
        if name and name not in live[WorkspaceFacts].workspaces and name not in diff.cfg.workspaces:
            return Findings(
                (
                    dg.error(
                        f"Workspace {name!r} does not exist",
                        "declare it under workspaces: to have apply create it, or fix `workspace:`",
                        address(TYPE, name),
                    ),
                )
            )
        return Findings()

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        found = ctx.live[WorkspaceFacts].workspaces.get(name)
        if found is None:
            return None
        return {"description": found.description}, {"name": name}

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = live[WorkspaceFacts].workspaces.get(rs.identity.get("name"))
        return ({"description": found.description} if found else None), None, None


KIND = WorkspaceKind()
