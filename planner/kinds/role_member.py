"""`role_member.ROLE[USER]`: a user's membership of a managed role. The set of members is
authoritative: one added by hand is drift, taken away by the next apply; one removed by hand is
restored. A member must be a live user or declared under `access.users` (created first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Address, Change, DriftItem, address
from mlreg.planner.kinds.access_facts import (
    NOT_DECLARED,
    AccessFacts,
    InRoles,
    LiveRole,
    role_workspace,
)
from mlreg.planner.kinds.base import DiffContext, DriftContext, created, decide
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config

TYPE = "role_member"
ROLE, USER = "role", "user"


class RoleMemberKind(InRoles):
    type: ClassVar[str] = TYPE
    rank: ClassVar[int] = 37
    parent: ClassVar[str | None] = ROLE
    taken_out_instead: ClassVar[tuple[str, str] | None] = (
        "A member is removed by taking it out of its role's members",
        "a managed role's members are what the file lists",
    )

    def declared_addresses(self, cfg: Config) -> list[Address]:
        return [Address(TYPE, r, m) for r, spec in cfg.access.roles.items() for m in spec.members]

    def config_path(self, cfg: Config, addr: Address) -> tuple | None:
        spec = cfg.access.roles.get(addr.name)
        members = list(spec.members) if spec else []
        return ("access", "roles", addr.name, "members", members.index(addr.key)) if addr.key in members else None

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[AccessFacts]
        workspace = role_workspace(ctx.cfg)
        declared_users = ctx.cfg.access.users
        for role, spec in ctx.cfg.access.roles.items():
            live_role = facts.roles.get(role)
            role_addr = address(ROLE, role)
            have = live_role.members if live_role else frozenset()
            for user in spec.members:
                addr = address(TYPE, role, user)
                if user not in facts.users and user not in declared_users:
                    ctx.error(
                        f"Member {user!r} of role {role!r} is not a user",
                        "declare it under access.users (with a password to create it), or create it in MLflow",
                        addr,
                    )
                    continue
                recorded = ctx.state.resources.get(addr)
                identity = {
                    "role": role,
                    "workspace": workspace,
                    "role_id": live_role.id if live_role else None,
                    "user": user,
                }
                refs = {} if live_role else {"role_id": role_addr}
                depends = (role_addr,) + ((address(USER, user),) if user in declared_users else ())
                kw = dict(depends_on=depends, refs=refs, after_unknown=tuple(refs))
                if user not in have:
                    ctx.changes.append(created(addr, TYPE, {"user": user}, recorded, identity=identity, **kw))
                else:
                    ctx.changes.append(decide(addr, TYPE, {"user": user}, {"user": user}, recorded, identity, **kw))
            for user in sorted(have - set(spec.members)):  # added by hand: the members are what the file says
                ctx.changes.append(_unassign(live_role, user))

    def access_note(self, change: Change) -> str | None:
        user, role = change.identity.get("user"), change.identity.get("role")
        if change.action is Action.CREATE:
            return f"user {user} joins role {role} (and gains its grants)"
        if change.action is Action.DELETE:
            return f"user {user} leaves role {role} (and loses its grants)"
        return None

    def drift_notes(self, ctx: DriftContext) -> list[DriftItem]:
        state = ctx.state
        facts = ctx.live[AccessFacts]
        recorded = {a for a, rs in state.resources.items() if rs.type == TYPE}
        managed_roles = {rs.identity.get("name") for rs in state.resources.values() if rs.type == ROLE}
        return [
            DriftItem(address(TYPE, r.name, u), TYPE, None, live=u, user=u, note="member added outside mlreg")
            for r in facts.roles.values()
            if r.name in managed_roles
            for u in sorted(r.members)
            if address(TYPE, r.name, u) not in recorded
        ]

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        role = live[AccessFacts].roles.get(rs.identity.get("role"))
        user = rs.identity.get("user")
        return ({"user": user} if role and user in role.members else None), None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "member removed outside mlreg"


def _unassign(role: LiveRole, user: str) -> Change:
    return Change(
        address(TYPE, role.name, user),
        TYPE,
        Action.DELETE,
        {"user": user},
        None,
        identity={"role": role.name, "workspace": role.workspace, "role_id": role.id, "user": user},
        reason=NOT_DECLARED,
    )


KIND = RoleMemberKind()
