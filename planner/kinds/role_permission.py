"""`role_permission.ROLE[RESOURCE_TYPE:PATTERN]`: one grant of a managed role, after glob
expansion (MLflow matches a pattern only as "*" or one exact name, so `planner_*` becomes one
grant per matching model, live or declared; a model registered later shows up in the next plan).

A managed role's grants are authoritative: one added by hand is drift (`drift` reports it) and
the next apply takes it away; one removed by hand is restored. MLflow's per-user roles (a
model's creator gets MANAGE on it) are not managed: their grants on resources this file manages
are noted by `drift`, and taken away only with `access: {exclusive: true}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Address, Change, DriftItem, Reason, address
from mlreg.planner.kinds.access_facts import (
    EXCLUSIVE,
    NOT_DECLARED,
    PER_USER_ROLE,
    AccessFacts,
    InRoles,
    LivePermission,
    LiveRole,
    expanded,
    role_workspace,
)
from mlreg.planner.kinds.base import DiffContext, DriftContext, created, decide
from mlreg.planner.kinds.grants import Grants
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config

TYPE = "role_permission"
ROLE = "role"


def grant_key(resource_type: str, name: str) -> str:
    """The address key of a grant: its resource type and the name it grants on."""
    return f"{resource_type}:{name}"


class RolePermissionKind(InRoles):
    type: ClassVar[str] = TYPE
    rank: ClassVar[int] = 36
    parent: ClassVar[str | None] = ROLE
    taken_out_instead: ClassVar[tuple[str, str] | None] = (
        "A grant is removed by taking it out of its role's permissions",
        "a managed role's permissions are what the file lists",
    )
    ref_field: ClassVar[str] = "id"

    def declared_addresses(self, cfg: Config) -> list[Address]:
        return [Address(TYPE, r, p.key) for r, spec in cfg.access.roles.items() for p in spec.permissions]

    def config_path(self, cfg: Config, addr: Address) -> tuple | None:
        from fnmatch import fnmatchcase

        spec = cfg.access.roles.get(addr.name)
        resource_type, _, pattern = (addr.key or "").partition(":")
        for i, p in enumerate(spec.permissions if spec else ()):
            if p.resource_type == resource_type and (
                p.resource_pattern == pattern or fnmatchcase(pattern, p.resource_pattern)
            ):
                return ("access", "roles", addr.name, "permissions", i)
        return None

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[AccessFacts]
        workspace = role_workspace(ctx.cfg)
        for role, spec in ctx.cfg.access.roles.items():
            live_role = facts.roles.get(role)
            wanted = self._wanted(ctx, facts, role, spec)
            have = {_key(ctx.grants, ctx.live, g): g for g in (live_role.permissions if live_role else ())}
            for key, (pattern, permission) in sorted(wanted.items()):
                ctx.changes.append(
                    self._grant(ctx, role, live_role, workspace, key, have.get(key), permission, pattern)
                )
            for key, grant in sorted(have.items()):
                if key not in wanted:  # added by hand: the role's grants are what the file says
                    ctx.changes.append(_take_away(live_role, key, grant, NOT_DECLARED))
        if ctx.cfg.access.exclusive:
            for live_role in facts.roles.values():
                if PER_USER_ROLE.match(live_role.name):
                    for key, grant in _on_managed(ctx, live_role):
                        ctx.changes.append(_take_away(live_role, key, grant, EXCLUSIVE))

    @staticmethod
    def _wanted(ctx: DiffContext, facts: AccessFacts, role: str, spec) -> dict[str, tuple[str, str]]:
        """Address key -> (the pattern the grant is written on, permission)."""
        wanted: dict[str, tuple[str, str]] = {}
        for p in spec.permissions:
            for name in expanded(ctx.grants, ctx.cfg, p, facts):
                pattern = name if name == "*" else ctx.grants.granted_as(p.resource_type, name, ctx.live)
                if pattern is None:
                    ctx.error(
                        f"{p.resource_type} {name!r} has no id yet, and MLflow grants on its id",
                        "apply the file once without this grant, then add it",
                        address(TYPE, role, grant_key(p.resource_type, name)),
                    )
                    continue
                wanted.setdefault(grant_key(p.resource_type, name), (pattern, p.permission))
        return wanted

    @staticmethod
    def _grant(ctx: DiffContext, role, live_role, workspace, key, grant, permission, pattern) -> Change:
        addr = address(TYPE, role, key)
        role_addr = address(ROLE, role)
        recorded = ctx.state.resources.get(addr)
        identity = {
            "role": role,
            "workspace": workspace,
            "role_id": live_role.id if live_role else None,
            "resource_type": key.partition(":")[0],
            "pattern": pattern,
            "id": grant.id if grant else None,
        }
        after = {"permission": permission}
        refs = {} if live_role else {"role_id": role_addr}
        kw = dict(depends_on=(role_addr,), refs=refs, after_unknown=tuple(refs))
        if grant is None:
            return created(addr, TYPE, after, recorded, identity=identity, **kw)
        return decide(addr, TYPE, {"permission": grant.permission}, after, recorded, identity, **kw)

    def access_note(self, change: Change) -> str | None:
        role, ident = change.identity.get("role"), change.identity
        who = "the creator (a per-user grant)" if PER_USER_ROLE.match(str(role)) else f"role {role}"
        if change.action is Action.CREATE:
            return f"{who} gains {_grant_text(ident, change.after['permission'])}"
        if change.action is Action.DELETE:
            return f"{who} loses {_grant_text(ident, change.before['permission'])}"
        if change.action is Action.UPDATE:
            before, after = change.before["permission"], change.after["permission"]
            return f"{who}: {_grant_text(ident, before)} becomes {after}"
        return None

    def drift_notes(self, ctx: DriftContext) -> list[DriftItem]:
        """Grants added by hand to managed roles, and per-user grants on managed resources."""
        state, grants = ctx.state, ctx.grants
        facts = ctx.live[AccessFacts]
        recorded = {a for a, rs in state.resources.items() if rs.type == TYPE}
        managed_roles = {rs.identity.get("name") for rs in state.resources.values() if rs.type == ROLE}
        granted_on = {grants.kind_type(t): t for t in grants.kinds}
        managed = {
            (granted_on[rs.type], rs.identity.get("name")) for rs in state.resources.values() if rs.type in granted_on
        }
        out = []
        for role in facts.roles.values():
            for g in role.permissions:
                key = _key(grants, ctx.live, g)
                addr = address(TYPE, role.name, key)
                if role.name in managed_roles and addr not in recorded:
                    out.append(DriftItem(addr, TYPE, None, live=g.permission, note="grant added outside mlreg"))
                elif PER_USER_ROLE.match(role.name) and tuple(key.split(":", 1)) in managed:
                    who = ", ".join(sorted(role.members)) or role.name
                    out.append(
                        DriftItem(
                            addr,
                            TYPE,
                            None,
                            live=g.permission,
                            user=who,
                            note=f"per-user grant: {who} can still {g.permission} {g.resource_type} {g.pattern} "
                            "(access.exclusive: true takes it away)",
                        )
                    )
        return out

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        role = live[AccessFacts].roles.get(rs.identity.get("role"))
        key = f"{rs.identity.get('resource_type', '')}:{rs.identity.get('pattern', '')}"
        found = next((g for g in (role.permissions if role else ()) if g.key == key), None)
        return ({"permission": found.permission} if found else None), None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "grant removed outside mlreg"


def _key(grants: Grants, live: LiveSnapshot, g: LivePermission) -> str:
    """The address key of a live grant: its resource type and the name of what it grants on."""
    return grant_key(g.resource_type, grants.named(g.resource_type, g.pattern, live))


def _on_managed(ctx: DiffContext, role: LiveRole) -> list[tuple[str, LivePermission]]:
    """A per-user role's grants on objects this file declares, with their address keys."""
    out = []
    for g in role.permissions:
        key = _key(ctx.grants, ctx.live, g)
        if key.split(":", 1)[1] in ctx.grants.declared(ctx.cfg, g.resource_type):
            out.append((key, g))
    return out


def _grant_text(identity, permission) -> str:
    pattern = identity.get("pattern")
    target = (
        f"every {identity.get('resource_type')}" if pattern == "*" else f"{identity.get('resource_type')} {pattern}"
    )
    return f"{permission} on {target}"


def _take_away(role: LiveRole, key: str, grant: LivePermission, reason: Reason) -> Change:
    identity = {
        "role": role.name,
        "workspace": role.workspace,
        "role_id": role.id,
        "resource_type": grant.resource_type,
        "pattern": grant.pattern,
        "id": grant.id,
    }
    return Change(
        address(TYPE, role.name, key),
        TYPE,
        Action.DELETE,
        {"permission": grant.permission},
        None,
        identity=identity,
        reason=reason,
    )


KIND = RolePermissionKind()
