"""`role`: MLflow's basic-auth app in memory (users, the identity applying, roles with their
grants and members), its reads and the case file's access facts (every access kind reads them),
the write and the sample."""

from __future__ import annotations

import itertools

from mlreg.planner.changes import Action
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.kinds.access_facts import AccessFacts, AccessRequest, LivePermission, LiveRole, LiveUser
from mlreg.planner.kinds.catalog import GRANTS
from tests.unit.kinds import KindDouble, doubles


def store(world) -> None:
    world.users = {"ci": {"id": 1, "admin": False}}  # the identity applying, by default
    world.current = "ci"
    world.roles = {}  # name -> {id, description, grants: {key: [id, permission]}, members}
    world.role_ids = itertools.count(1)


def role_by_id(world, request) -> tuple[int, dict]:
    """The role a grant or a membership is of: its id known, or what apply filled in."""
    role_id = request.change.identity.get("role_id") or request.values.get("role_id")
    return role_id, next(r for r in world.roles.values() if r["id"] == role_id)


def read(world, r: AccessRequest) -> AccessFacts:
    roles = {
        name: LiveRole(
            role["id"],
            name,
            DEFAULT_WORKSPACE,
            role["description"],
            tuple(LivePermission(g[0], *key.split(":", 1), g[1]) for key, g in role["grants"].items()),
            frozenset(role["members"]),
        )
        for name, role in world.roles.items()
    }
    return AccessFacts(
        workspace=DEFAULT_WORKSPACE,
        users={n: LiveUser(u["id"], n, u["admin"]) for n, u in world.users.items()},
        roles=roles,
        current=world.current,
        current_admin=world.users.get(world.current, {}).get("admin", False),
        # the live names of what roles grant on, each from its kind's double (kinds/grants.py)
        names={t: frozenset(doubles()[k.type].names(world)) for t, k in GRANTS.kinds.items() if k.grant.expands},
    )


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.roles.pop(name, None)
        return dict(change.identity)
    role = world.roles.setdefault(name, {"id": next(world.role_ids), "description": "", "grants": {}, "members": set()})
    if "description" in after:
        role["description"] = after["description"]
    return {**change.identity, "id": role["id"]}


def facts(data: dict) -> dict:
    """users: {name: {id, admin}}; roles: {name: {id, description, permissions: [[id, type,
    pattern, permission]], members: [names]}}; current: {name, admin}; names: {type: [names]}."""
    roles = {
        n: LiveRole(
            r["id"],
            n,
            DEFAULT_WORKSPACE,
            r.get("description", ""),
            tuple(LivePermission(*p) for p in r.get("permissions", [])),
            frozenset(r.get("members", [])),
        )
        for n, r in data.get("roles", {}).items()
    }
    current = data.get("current") or {}
    listed = enumerate(data.get("users", {}).items())
    users = {n: LiveUser(u.get("id", i + 1), n, u.get("admin", False)) for i, (n, u) in listed}
    access = AccessFacts(
        workspace=DEFAULT_WORKSPACE,
        users=users,
        roles=roles,
        current=current.get("name"),
        current_admin=current.get("admin", False),
        names={t: frozenset(v) for t, v in data.get("names", {}).items()},
    )
    return {AccessFacts: access}


DOUBLE = KindDouble(
    type="role",
    provider="mlreg/mlflow",
    sample="access:\n  roles:\n    writers: {description: who writes}\n",
    store=store,
    write=write,
    reads={AccessRequest: read},
    facts=facts,
    names=lambda world: sorted(world.roles),
)
