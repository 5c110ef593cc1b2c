"""Workspaces (`workspace`), on servers started with `--enable-workspaces`: listed in one request,
created, described and deleted by name. These endpoints are server-wide: they are sent without
the file's workspace header (a workspace that does not exist yet would make the server refuse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.workspace import LiveWorkspace, WorkspaceFacts, WorkspaceRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow.transport import Call, MlflowApiError

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow

API = "/api/3.0/mlflow/workspaces"
LIST = Call("GET", API, capability="workspaces", scoped=False)
CREATE = Call("POST", API, capability="workspaces", scoped=False, idempotent=False)
UPDATE = Call("PATCH", f"{API}/{{name}}", capability="workspaces", scoped=False)
DELETE = Call("DELETE", f"{API}/{{name}}", capability="workspaces", scoped=False, absent_ok=True)


def _no_workspaces(mf: Mlflow) -> BackendError:
    return BackendError(
        f"{mf.api.target} has no workspaces: registry.yaml names one (`workspace:` or `workspaces:`), which needs "
        "`mlflow server --enable-workspaces`"
    )


def _list(mf: Mlflow) -> dict[str, LiveWorkspace]:
    if not mf.api.serves("workspaces"):
        raise _no_workspaces(mf)
    try:
        found = mf.api.call(LIST).get("workspaces", ())
    except MlflowApiError as e:
        if e.error_code == "FEATURE_DISABLED":
            raise _no_workspaces(mf) from None
        raise
    return {w["name"]: LiveWorkspace(w["name"], w.get("description", "")) for w in found}


@DISPATCH.reads(WorkspaceRequest)
def read(mf: Mlflow, request: WorkspaceRequest) -> WorkspaceFacts:
    if not request.names:
        return WorkspaceFacts()
    return WorkspaceFacts({n: w for n, w in _list(mf).items() if n in request.names})


@DISPATCH.lists("workspace")
def names(mf: Mlflow) -> list[str]:
    return sorted(_list(mf))


@DISPATCH.writes("workspace")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name = change.identity["name"]
    done = WriteResult({"name": name})
    if change.action is Action.DELETE:
        mf.api.call(DELETE, {"name": name})
        return done
    after = dict(change.after or {})
    if change.before is None:
        body = {"name": name, **({"description": after["description"]} if "description" in after else {})}
        made = mf.api.create_once(CREATE, body, lambda: name if name in _list(mf) else None, exists_ok=True)
        if made.answer is not None:
            return done
        # made by an earlier attempt, or by someone: converge it below
    if "description" in after and (change.before or {}).get("description") != after["description"]:
        mf.api.call(UPDATE, {"name": name, "description": after["description"]})
    return done
