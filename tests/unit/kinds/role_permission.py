"""`role_permission`: its write (a grant of a role, by the role's id) and sample; grants are read
with their roles (role.py)."""

from __future__ import annotations

from mlreg.planner.changes import Action
from tests.unit.kinds import KindDouble
from tests.unit.kinds.role import role_by_id


def write(world, request) -> dict:
    change, after = request.change, request.after()
    ident = dict(change.identity)
    role_id, role = role_by_id(world, request)
    key = f"{ident['resource_type']}:{ident['pattern']}"
    if change.action is Action.DELETE:
        role["grants"].pop(key, None)
        return ident
    grant = role["grants"].setdefault(key, [next(world.role_ids), after["permission"]])
    grant[1] = after["permission"]
    return {**ident, "role_id": role_id, "id": grant[0]}


DOUBLE = KindDouble(
    type="role_permission",
    provider="mlreg/mlflow",
    sample=(
        "models:\n  a_model: {}\n  b_model: {}\naccess:\n  roles:\n    writers:\n      permissions:\n"
        "        - {resource_type: registered_model, resource_pattern: 'a_*', permission: EDIT}\n"
        "        - {resource_type: workspace, resource_pattern: '*', permission: USE}\n"
    ),
    write=write,
)
