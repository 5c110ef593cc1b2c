"""`role_permission.ROLE[RESOURCE_TYPE:PATTERN]`: one grant of a managed role, after glob
expansion (MLflow matches a pattern only as "*" or one exact name, so `planner_*` becomes one
grant per matching model, live or declared; a model registered later shows up in the next plan).

A managed role's grants are authoritative: one added by hand is drift (`drift` reports it) and
the next apply takes it away; one removed by hand is restored. MLflow's per-user roles (a
model's creator gets MANAGE on it) are not managed: their grants on resources this file manages
are noted by `drift`, and taken away only with `access: {exclusive: true}`.
"""

from __future__ import annotations

from typing import ClassVar

from mlreg.planner.changes import Action, ActionReason, Address, Change, DriftItem, address
from mlreg.planner.kinds.access_facts import (
    PER_USER_ROLE,
    AccessFacts,
    InRoles,
    LivePermission,
    LiveRole,
    expanded,
    role_workspace,
)
from mlreg.planner.kinds.base import Config, DiffContext, created, decide
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState, StateSnapshot

TYPE = "role_permission"
ROLE = "role"
# what each resource type is called in the file, for per-user grants on managed resources
MANAGED_BY = {"registered_model": "model", "prompt": "prompt"}


def grant_key(resource_type: str, pattern: str) -> str:
    return f"{resource_type}:{pattern}"


class RolePermissionKind(InRoles):
    type: ClassVar[str] = TYPE
    rank: ClassVar[int] = 36
    parent: ClassVar[str | None] = ROLE
    taken_out_instead: ClassVar[tuple[str, str] | None] = (
        "A grant is removed by taking it out of its role's permissions",
        "a managed role's permissions are what the file lists",
    )
    ref_field: ClassVar[str] = "id"

    def declared_addresses(self, cfg: Config) -> list[str]:
        return [address(TYPE, r, p.key) for r, spec in cfg.access.roles.items() for p in spec.permissions]

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
            role_addr = address(ROLE, role)
            wanted: dict[str, tuple[str, str, str]] = {}  # key -> (type, exact pattern, permission)
            for p in spec.permissions:
                for pattern in expanded(ctx.cfg, p, facts):
                    wanted.setdefault(grant_key(p.resource_type, pattern), (p.resource_type, pattern, p.permission))
            have = {g.key: g for g in (live_role.permissions if live_role else ())}
            for key, (resource_type, pattern, permission) in sorted(wanted.items()):
                addr = address(TYPE, role, key)
                recorded = ctx.state.resources.get(addr)
                grant = have.get(key)
                identity = {
                    "role": role,
                    "workspace": workspace,
                    "role_id": live_role.id if live_role else None,
                    "resource_type": resource_type,
                    "pattern": pattern,
                    "id": grant.id if grant else None,
                }
                after = {"permission": permission}
                refs = {} if live_role else {"role_id": role_addr}
                kw = dict(depends_on=(role_addr,), refs=refs, after_unknown=tuple(refs))
                if grant is None:
                    ctx.changes.append(created(addr, TYPE, after, recorded, identity=identity, **kw))
                else:
                    ctx.changes.append(
                        decide(addr, TYPE, {"permission": grant.permission}, after, recorded, identity, **kw)
                    )
            for key, grant in sorted(have.items()):
                if key not in wanted:  # added by hand: the role's grants are what the file says
                    ctx.changes.append(_take_away(live_role, grant, ActionReason.NOT_DECLARED))
        if ctx.cfg.access.exclusive:
            for live_role in facts.roles.values():
                if PER_USER_ROLE.match(live_role.name):
                    for grant in _on_managed(ctx.cfg, live_role):
                        ctx.changes.append(_take_away(live_role, grant, ActionReason.EXCLUSIVE))

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

    def drift_notes(self, state: StateSnapshot, live: LiveSnapshot, cfg: Config | None = None) -> list[DriftItem]:
        """Grants added by hand to managed roles, and per-user grants on managed resources."""
        facts = live[AccessFacts]
        recorded = {a for a, rs in state.resources.items() if rs.type == TYPE}
        managed_roles = {rs.identity.get("name") for rs in state.resources.values() if rs.type == ROLE}
        managed = {
            (t, rs.identity.get("name"))
            for rs in state.resources.values()
            for t, kind in MANAGED_BY.items()
            if rs.type == kind
        }
        out = []
        for role in facts.roles.values():
            for g in role.permissions:
                addr = address(TYPE, role.name, g.key)
                if role.name in managed_roles and addr not in recorded:
                    out.append(DriftItem(addr, TYPE, None, live=g.permission, note="grant added outside mlreg"))
                elif PER_USER_ROLE.match(role.name) and (g.resource_type, g.pattern) in managed:
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
        key = grant_key(rs.identity.get("resource_type", ""), rs.identity.get("pattern", ""))
        found = next((g for g in (role.permissions if role else ()) if g.key == key), None)
        return ({"permission": found.permission} if found else None), None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "grant removed outside mlreg"


def _on_managed(cfg: Config, role: LiveRole) -> list[LivePermission]:
    names = {"registered_model": set(cfg.models), "prompt": set(cfg.prompts)}
    return [g for g in role.permissions if g.pattern in names.get(g.resource_type, ())]


def _grant_text(identity, permission) -> str:
    pattern = identity.get("pattern")
    target = (
        f"every {identity.get('resource_type')}" if pattern == "*" else f"{identity.get('resource_type')} {pattern}"
    )
    return f"{permission} on {target}"


def _take_away(role: LiveRole, grant: LivePermission, reason: ActionReason) -> Change:
    identity = {
        "role": role.name,
        "workspace": role.workspace,
        "role_id": role.id,
        "resource_type": grant.resource_type,
        "pattern": grant.pattern,
        "id": grant.id,
    }
    return Change(
        address(TYPE, role.name, grant.key),
        TYPE,
        Action.DELETE,
        {"permission": grant.permission},
        None,
        identity=identity,
        reason=reason,
    )


KIND = RolePermissionKind()
