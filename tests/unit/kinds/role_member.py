"""`role_member`: its write (a user joins or leaves a role, by the role's id) and sample; members
are read with their roles (role.py)."""

from __future__ import annotations

from mlreg.planner.changes import Action
from tests.unit.kinds import KindDouble
from tests.unit.kinds.role import role_by_id


def write(world, request) -> dict:
    change = request.change
    ident = dict(change.identity)
    role_id, role = role_by_id(world, request)
    (role["members"].discard if change.action is Action.DELETE else role["members"].add)(ident["user"])
    return {**ident, "role_id": role_id}


DOUBLE = KindDouble(
    type="role_member",
    provider="mlreg/mlflow",
    sample="access:\n  users:\n    ana: {password: '${ANA_PASSWORD}'}\n  roles:\n    writers: {members: [ana, ci]}\n",
    setup={"env": {"ANA_PASSWORD": "pw-ana-1-long-enough"}},
    write=write,
)
