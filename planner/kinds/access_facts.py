"""What MLflow's basic-auth app knows, as the engine sees it (`mlflow server --app-name
basic-auth`): users, the roles of one workspace with their permissions and members, and the
identity mlreg runs as; the request that reads them all in a bounded number of requests.

Shared by the access kinds (user, role, role_permission, role_member) and the no-lockout rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Reason
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.kinds.base import Kind
from mlreg.planner.kinds.grants import Grants
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import Request
from mlreg.planner.patterns import is_glob

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.access import PermissionSpec

# Why a grant or a member is taken away (the access kinds' own reasons).
NOT_DECLARED = Reason(
    "delete_because_not_declared",
    "because the role's permissions and members are what the file lists, and this one is not: it was added "
    "outside mlreg",
)
EXCLUSIVE = Reason(
    "delete_because_exclusive",
    "because access.exclusive takes per-user grants on the resources this file manages away",
)
PER_USER_ROLE = re.compile(r"^__user_\d+__$")  # MLflow's synthetic role of one user (a creator's grants)
SECTION = "access"  # config/sections/: its types and checks


@dataclass(frozen=True, slots=True)
class LiveUser:
    id: int
    name: str
    admin: bool


@dataclass(frozen=True, slots=True)
class LivePermission:
    id: int
    resource_type: str
    pattern: str
    permission: str

    @property
    def key(self) -> str:
        return f"{self.resource_type}:{self.pattern}"


@dataclass(frozen=True, slots=True)
class LiveRole:
    id: int
    name: str
    workspace: str
    description: str
    permissions: tuple[LivePermission, ...]
    members: frozenset[str]  # user names


@dataclass(frozen=True)
class AccessFacts:
    workspace: str | None = None
    users: dict[str, LiveUser] = field(default_factory=dict)
    roles: dict[str, LiveRole] = field(default_factory=dict)  # of the workspace, by name (per-user roles too)
    current: str | None = None  # the identity mlreg runs as
    current_admin: bool = False
    # resource type -> live names (for the globs of resource types roles can grant on, kinds/grants.py)
    names: dict[str, frozenset[str]] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class AccessRequest(Request):
    provider = PROVIDER
    facts = AccessFacts

    workspaces: frozenset[str] = frozenset()  # the roles' workspace (one)
    expand: frozenset[str] = frozenset()  # resource types whose live names glob patterns need


def role_workspace(cfg: Config) -> str:
    """The workspace a file's roles live in: its own, or MLflow's default."""
    return cfg.workspace or DEFAULT_WORKSPACE


def access_request(cfg: Config) -> AccessRequest:
    expand = {p.resource_type for r in cfg.access.roles.values() for p in r.permissions if is_glob(p.resource_pattern)}
    return AccessRequest(workspaces=frozenset({role_workspace(cfg)}), expand=frozenset(expand))


class InRoles(Kind):
    """What roles, their grants and their members share: they are read when the file declares
    roles (or deletes some of this kind), and in every workspace state recorded them in."""

    provider: ClassVar[str] = PROVIDER
    section: ClassVar[str] = SECTION
    # (summary, hint) of the error for a `removed … destroy: true` entry of a part of a role,
    # which is taken away by taking it out of the role instead
    taken_out_instead: ClassVar[tuple[str, str] | None] = None

    def destroy(self, ctx, addr: str, name: str, key: str | None, entry):
        if self.taken_out_instead is None:
            return super().destroy(ctx, addr, name, key, entry)
        ctx.error(*self.taken_out_instead, addr)
        return None

    def declared_requests(self, cfg: Config) -> Iterable[AccessRequest]:
        if cfg.access.roles or self.destroyed_names(cfg):
            yield access_request(cfg)

    def recorded_requests(self, resources) -> Iterable[AccessRequest]:
        workspaces = {rs.identity.get("workspace") for _, rs in resources} - {None}
        if workspaces:
            yield AccessRequest(workspaces=frozenset(workspaces))


def expanded(grants: Grants, cfg: Config, spec: PermissionSpec, facts: AccessFacts) -> list[str]:
    """The exact names a declared permission stands for: its pattern, or for a glob one per
    matching name among the live resources and those the file declares."""
    if not is_glob(spec.resource_pattern):
        return [spec.resource_pattern]
    names = set(facts.names.get(spec.resource_type, ())) | grants.declared(cfg, spec.resource_type)
    return sorted(n for n in names if fnmatchcase(n, spec.resource_pattern))
