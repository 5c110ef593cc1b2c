"""`role.NAME`: a role of MLflow's basic-auth app, in the file's workspace, managed by name. Its
description (when declared), its permissions (kinds/role_permission.py) and its members
(kinds/role_member.py) are authoritative. Roles the file does not declare, and MLflow's per-user
roles, are never touched; a role taken out of the file is forgotten, deleted only through
`removed` with `destroy: true`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Change, address
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.kinds import lockout
from mlreg.planner.kinds.access_facts import (
    AccessFacts,
    AccessRequest,
    InRoles,
    role_workspace,
)
from mlreg.planner.kinds.base import (
    Chosen,
    Diff,
    DiffContext,
    Findings,
    Importer,
    created,
    decide,
)
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "role"


class RoleImporter(Importer):
    option = "role"
    help = "Roles of the workspace to import, with their permissions and members (repeatable)."

    def requests(self, chosen: list[Chosen]):
        yield AccessRequest(workspaces=frozenset({DEFAULT_WORKSPACE}))

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        from mlreg.planner.kinds.base import dump

        facts = live[AccessFacts]
        members = sorted({m for c in chosen if c.name in facts.roles for m in facts.roles[c.name].members})
        lines = ["access:"]
        if members:
            lines.append("  users:  # members of the imported roles (passwords are never read back)")
            for m in members:
                user = facts.users.get(m)
                lines.append(f"    {dump(m)}: {dump({'admin': bool(user and user.admin)})}")
        lines.append("  roles:")
        for c in chosen:
            role = facts.roles[c.name]
            entry: dict = {}
            if role.description:
                entry["description"] = role.description
            entry["permissions"] = [
                {"resource_type": p.resource_type, "resource_pattern": p.pattern, "permission": p.permission}
                for p in sorted(role.permissions, key=lambda p: p.key)
            ]
            entry["members"] = sorted(role.members)
            lines.append(f"    {dump(c.name)}: {dump(entry)}")
        return lines


class RoleKind(InRoles):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("access", "roles")
    rank: ClassVar[int] = 35
    keyed: ClassVar[bool] = False
    ref_field: ClassVar[str] = "id"  # its permissions and members need the role's id
    importer: ClassVar[Importer] = RoleImporter()

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[AccessFacts]
        workspace = role_workspace(ctx.cfg)
        for name, spec in ctx.cfg.access.roles.items():
            addr = address(TYPE, name)
            recorded = ctx.state.resources.get(addr)
            after = {"description": spec.description} if spec.description is not None else {}
            live = facts.roles.get(name)
            identity = {"name": name, "workspace": workspace, "id": live.id if live else None}
            if live is None:
                ctx.changes.append(created(addr, TYPE, after, recorded, identity=identity))
                continue
            before = {"description": live.description} if spec.description is not None else {}
            ctx.changes.append(decide(addr, TYPE, before, after, recorded, identity))

    def judge(self, diff: Diff, live: LiveSnapshot) -> Findings:
        return Findings(tuple(lockout.judge(diff, live)))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        found = ctx.live[AccessFacts].roles.get(name)
        if found is None:
            return None
        return {"description": found.description}, {"name": name, "workspace": found.workspace, "id": found.id}

    def access_note(self, change: Change) -> str | None:
        if change.action is Action.DELETE:
            return f"role {change.identity.get('name')} is deleted: its members lose its grants"
        return None

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = live[AccessFacts].roles.get(rs.identity.get("name"))
        if found is None or found.id != rs.identity.get("id"):
            return None, None, None
        return {"description": found.description}, None, None


KIND = RoleKind()
