"""`user`: its write (the password kept only to show it was sent) and sample; users are read
with the rest of the access app (role.py)."""

from __future__ import annotations

from tests.unit.kinds import KindDouble


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    user = world.users.setdefault(name, {"id": len(world.users) + 1, "admin": False})
    user["admin"] = after.get("admin", False)
    if change.secrets.get("password"):
        user["password"] = change.secrets["password"]
    return {"name": name, "id": user["id"]}


DOUBLE = KindDouble(
    type="user",
    provider="mlreg/mlflow",
    sample="access:\n  users:\n    ana: {password: '${ANA_PASSWORD}', admin: true}\n",
    setup={"env": {"ANA_PASSWORD": "pw-ana-1-long-enough"}},
    write=write,
    names=lambda world: sorted(world.users),
)
