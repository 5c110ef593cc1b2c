"""Users and roles of MLflow's basic-auth app (`user`, `role`, `role_permission`, `role_member`).

The whole access state of a workspace is read in a bounded number of requests, however many
models there are: the users with their roles (`users/list`, hence every role's members), the
workspace's roles with their permissions (`roles/list`), the identity mlreg runs as
(`users/current`), and, when the file has glob patterns, the names they expand over (one paged
search). Role endpoints name their workspace themselves and go without the workspace header (a workspace
that does not exist yet would make the server refuse them); listing users asks as a member of
the file's workspace.

Creates (a user, a role, a grant, a membership) are not idempotent: an answer lost on the way is
resolved by reading back, and sent again only when nothing was made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlreg.planner.changes import Action
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.access_facts import (
    PER_USER_ROLE,
    AccessFacts,
    AccessRequest,
    LivePermission,
    LiveRole,
    LiveUser,
)
from mlreg.planner.kinds.catalog import GRANTS
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow.transport import Call, Created, MlflowApiError

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow

V2, V3 = "/api/2.0/mlflow", "/api/3.0/mlflow"


def _ep(method: str, path: str, **kw) -> Call:
    return Call(method, path, capability="access", scoped=False, **kw)


# listing users is for members of the request's workspace: these carry the workspace header
USERS = Call("GET", f"{V2}/users/list", capability="access")
CURRENT = Call("GET", f"{V2}/users/current", capability="access")
CREATE_USER = _ep("POST", f"{V2}/users/create", idempotent=False)
USER_ADMIN = _ep("PATCH", f"{V2}/users/update-admin")
USER_PASSWORD = _ep("PATCH", f"{V2}/users/update-password")
ROLES = _ep("GET", f"{V3}/roles/list")
CREATE_ROLE = _ep("POST", f"{V3}/roles/create", idempotent=False)
UPDATE_ROLE = _ep("PATCH", f"{V3}/roles/update")
DELETE_ROLE = _ep("DELETE", f"{V3}/roles/delete", absent_ok=True)
ADD_GRANT = _ep("POST", f"{V3}/roles/permissions/add", idempotent=False)
UPDATE_GRANT = _ep("PATCH", f"{V3}/roles/permissions/update")
REMOVE_GRANT = _ep("DELETE", f"{V3}/roles/permissions/remove", absent_ok=True)
ASSIGN = _ep("POST", f"{V3}/roles/assign", idempotent=False)
UNASSIGN = _ep("DELETE", f"{V3}/roles/unassign", absent_ok=True)


def _call(mf: Mlflow, endpoint: Call, body: dict | None = None) -> dict:
    """A request to the basic-auth app; a server without it is one clear line."""
    if not mf.api.serves("access"):
        raise _no_auth(mf)
    try:
        return mf.api.call(endpoint, body)
    except MlflowApiError as e:
        if e.status == 404 and not e.error_code:
            raise _no_auth(mf) from None
        raise  # a refused login says itself which variables were set (rest.py)


def _no_auth(mf: Mlflow) -> BackendError:
    return BackendError(f"{mf.api.target} has no authentication: `access:` needs `mlflow server --app-name basic-auth`")


def _permission(p: dict) -> LivePermission:
    return LivePermission(int(p["id"]), p["resource_type"], p["resource_pattern"], p["permission"])


@DISPATCH.reads(AccessRequest)
def read(mf: Mlflow, request: AccessRequest) -> AccessFacts:
    workspace = next(iter(sorted(request.workspaces)), DEFAULT_WORKSPACE)
    users = _call(mf, USERS).get("users", ())
    current = _call(mf, CURRENT).get("user") or {}
    members: dict[int, set[str]] = {}
    for u in users:
        for r in u.get("roles", ()):
            members.setdefault(int(r["id"]), set()).add(u["username"])
    roles = {
        r["name"]: LiveRole(
            int(r["id"]),
            r["name"],
            r.get("workspace", workspace),
            r.get("description") or "",
            tuple(_permission(p) for p in r.get("permissions", ())),
            frozenset(members.get(int(r["id"]), ())),
        )
        for r in _call(mf, ROLES, {"workspace": workspace}).get("roles", ())
    }
    # every live name of the resource types whose globs the file uses: each kind's own lister
    names = {
        t: frozenset(DISPATCH.lister(kind.type)(mf))
        for t, kind in GRANTS.kinds.items()
        if kind.grant.expands and t in request.expand
    }
    return AccessFacts(
        workspace=workspace,
        users={u["username"]: LiveUser(int(u["id"]), u["username"], bool(u.get("is_admin"))) for u in users},
        roles=roles,
        current=current.get("username"),
        current_admin=bool(current.get("is_admin")),
        names=names,
    )


@DISPATCH.lists("role")
def role_names(mf: Mlflow) -> list[str]:
    return sorted(
        name for name in _facts(mf, mf.api.workspace or DEFAULT_WORKSPACE).roles if not PER_USER_ROLE.match(name)
    )


def _create(mf: Mlflow, endpoint: Call, body: dict, find: Callable[[], Any]) -> Created:
    """A create of the basic-auth app, sent once (`Transport.create_once`): `find()` reads back
    the id of what it made."""
    return mf.api.create_once(endpoint, body, find, send=lambda c, b: _call(mf, c, b))


def _made_id(made: Created, key: str) -> int | None:
    """The new object's id: from the create's answer (`{key: {id}}`), or what reading back found."""
    if made.answer is None:
        return made.found
    return int((made.answer.get(key) or {}).get("id", 0)) or None


def _facts(mf: Mlflow, workspace: str) -> AccessFacts:
    return read(mf, AccessRequest(workspaces=frozenset({workspace})))


@DISPATCH.writes("user")
def write_user(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name = change.identity["name"]
    after, before = dict(change.after or {}), dict(change.before or {})
    password = change.secrets.get("password")
    if change.before is None:

        def find():
            user = _facts(mf, DEFAULT_WORKSPACE).users.get(name)
            return user.id if user else None

        user_id = _made_id(_create(mf, CREATE_USER, {"username": name, "password": password}, find), "user")
        before = {"admin": False, "password": after.get("password")}
    else:
        user_id = change.identity.get("id")
    if after.get("admin") != before.get("admin"):
        _call(mf, USER_ADMIN, {"username": name, "is_admin": bool(after.get("admin"))})
    if "password" in after and after["password"] != before.get("password") and password:
        _call(mf, USER_PASSWORD, {"username": name, "password": password})
    return WriteResult({"name": name, "id": user_id})


@DISPATCH.writes("role")
def write_role(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name, workspace = change.identity["name"], change.identity["workspace"]
    if change.action is Action.DELETE:
        _call(mf, DELETE_ROLE, {"role_id": change.identity["id"]})
        return WriteResult(dict(change.identity))
    after = dict(change.after or {})
    if change.before is None:

        def find():
            role = _facts(mf, workspace).roles.get(name)
            return role.id if role else None

        made = _create(mf, CREATE_ROLE, {"name": name, "workspace": workspace, **after}, find)
        return WriteResult({"name": name, "workspace": workspace, "id": _made_id(made, "role")})
    if "description" in after and change.before.get("description") != after["description"]:
        _call(mf, UPDATE_ROLE, {"role_id": change.identity["id"], "description": after["description"]})
    return WriteResult(dict(change.identity))


@DISPATCH.writes("role_permission")
def write_grant(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    ident = dict(change.identity)
    if change.action is Action.DELETE:
        _call(mf, REMOVE_GRANT, {"role_permission_id": ident["id"]})
        return WriteResult(ident)
    role_id = ident.get("role_id") or request.values.get("role_id")
    permission = change.after["permission"]
    if change.before is None:
        key = f"{ident['resource_type']}:{ident['pattern']}"

        def find():
            role = _facts(mf, ident["workspace"]).roles.get(ident["role"])
            grant = next((g for g in (role.permissions if role else ()) if g.key == key), None)
            return grant.id if grant else None

        body = {
            "role_id": role_id,
            "resource_type": ident["resource_type"],
            "resource_pattern": ident["pattern"],
            "permission": permission,
        }
        made = _create(mf, ADD_GRANT, body, find)
        return WriteResult({**ident, "role_id": role_id, "id": _made_id(made, "role_permission")})
    _call(mf, UPDATE_GRANT, {"role_permission_id": ident["id"], "permission": permission})
    return WriteResult(ident)


@DISPATCH.writes("role_member")
def write_member(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    ident = dict(change.identity)
    role_id = ident.get("role_id") or request.values.get("role_id")
    body = {"username": ident["user"], "role_id": role_id}
    if change.action is Action.DELETE:
        _call(mf, UNASSIGN, body)
        return WriteResult(ident)

    def find():
        role = _facts(mf, ident["workspace"]).roles.get(ident["role"])
        return True if role and ident["user"] in role.members else None

    _create(mf, ASSIGN, body, find)
    return WriteResult({**ident, "role_id": role_id})
