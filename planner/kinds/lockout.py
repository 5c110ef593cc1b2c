"""mlreg never locks itself out: a plan that would take from the identity running it a permission
it needs to apply this file again is an error naming the change. An admin holds every permission;
a plan that demotes the admin applying it (`admin: false` on its own `user.NAME`) is always such an
error, since the file that says so declares users, and only an admin may manage users.

What applying the file needs: what each kind roles grant on declares (`Grant.needs`: EDIT on
every registered model and prompt the file declares), and, when it manages roles, MANAGE on the
workspace (MLflow's workspace administration, which role changes need). A need the identity has
now and would not have after the plan is the error; a need it lacks already is MLflow's to refuse.
"""

from __future__ import annotations

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import Action, Change
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.kinds.access_facts import AccessFacts
from mlreg.planner.kinds.base import Diff
from mlreg.planner.live import LiveSnapshot

_PRIORITY = {"READ": 1, "USE": 2, "EDIT": 3, "MANAGE": 4}
_MEMBER, _GRANT, _USER = "role_member", "role_permission", "user"


def _demotion(diff: Diff, me: str) -> Change | None:
    """The change that takes admin from the identity applying the plan, if any."""
    for c in diff.changes:
        mine = c.type == _USER and c.identity.get("name") == me and c.action is Action.UPDATE
        if mine and (c.before or {}).get("admin") is True and (c.after or {}).get("admin") is False:
            return c
    return None


def judge(diff: Diff, live: LiveSnapshot) -> list[Diagnostic]:
    facts = live[AccessFacts]
    cfg = diff.cfg
    me = facts.current
    if not me or not (cfg.access.roles or cfg.access.users):
        return []
    if facts.current_admin:
        demoted = _demotion(diff, me)
        if demoted is None:
            return []
        return [
            dg.error(
                f"This plan would take admin from {me}, the identity applying it",
                "only an admin may manage the users this file declares, so the next apply would be refused; "
                "demote it from another admin identity, or keep `admin: true`",
                demoted.address,
            )
        ]
    members = {name: set(r.members) for name, r in facts.roles.items()}
    grants = {name: {g.key: g.permission for g in r.permissions} for name, r in facts.roles.items()}
    mine_now = {name for name, m in members.items() if me in m}
    now = _snapshot(grants, mine_now)
    lossy: list[Change] = []
    for c in diff.changes:
        role, key = c.identity.get("role"), f"{c.identity.get('resource_type')}:{c.identity.get('pattern')}"
        if c.type == _MEMBER and c.identity.get("user") == me:
            (
                members.setdefault(role, set()).discard
                if c.action is Action.DELETE
                else members.setdefault(role, set()).add
            )(me)
            lossy.append(c)
        elif c.type == _GRANT and c.action in (Action.CREATE, Action.UPDATE, Action.DELETE):
            if c.action is Action.DELETE:
                grants.setdefault(role, {}).pop(key, None)
            else:
                grants.setdefault(role, {})[key] = c.after["permission"]
            lossy.append(c)
    after = _snapshot(grants, {name for name, m in members.items() if me in m})
    needs = diff.grants.needs(cfg, live)
    if cfg.access.roles:
        needs.append(("workspace", "*", "MANAGE"))
    out = []
    for resource_type, name, level in needs:
        if _grants(now, resource_type, name, level) and not _grants(after, resource_type, name, level):
            culprits = [
                c.address for c in lossy if c.type == _MEMBER or c.identity.get("resource_type") == resource_type
            ]
            out.append(
                dg.error(
                    f"This plan would take from {me}, the identity applying it, {level} on {resource_type} {name}",
                    f"it needs that to apply this file again; the changes that take it: {', '.join(culprits)}",
                    culprits[0] if culprits else None,
                )
            )
    return out


def _snapshot(grants: dict[str, dict[str, str]], roles: set[str]) -> list[dict[str, str]]:
    return [grants.get(r, {}) for r in roles]


def _grants(held: list[dict[str, str]], resource_type: str, name: str, level: str) -> bool:
    found = [g[k] for g in held for k in (f"{resource_type}:*", f"{resource_type}:{name}") if k in g]
    if "DENY" in found or not found:
        return False
    return max(_PRIORITY.get(p, 0) for p in found) >= _PRIORITY[level]
