"""`workspace`: workspaces in memory (name -> description), their reads, the case file's
workspace facts, the write and the sample."""

from __future__ import annotations

from mlreg.planner.changes import Action
from mlreg.planner.kinds.workspace import LiveWorkspace, WorkspaceFacts, WorkspaceRequest
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.workspaces = {}


def read(world, r: WorkspaceRequest) -> WorkspaceFacts:
    return WorkspaceFacts({n: LiveWorkspace(n, d) for n, d in world.workspaces.items() if n in r.names})


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.workspaces.pop(name, None)
    else:
        world.workspaces[name] = after.get("description", world.workspaces.get(name, ""))
    return {"name": name}


DOUBLE = KindDouble(
    type="workspace",
    provider="mlreg/mlflow",
    sample="workspaces:\n  team-a: {description: the team}\n",
    store=store,
    write=write,
    reads={WorkspaceRequest: read},
    facts=lambda data: {
        WorkspaceFacts: WorkspaceFacts({n: LiveWorkspace(n, d or "") for n, d in data.get("workspaces", {}).items()})
    },
    names=lambda world: sorted(world.workspaces),
)
