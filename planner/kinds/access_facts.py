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

from mlreg.planner.kinds.base import Config, Kind, Section
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import Request

if TYPE_CHECKING:
    from mlreg.planner.config.sections.access import PermissionSpec

PER_USER_ROLE = re.compile(r"^__user_\d+__$")  # MLflow's synthetic role of one user (a creator's grants)
DEFAULT_WORKSPACE = "default"  # where roles live on a server without workspaces
SECTION = Section(
    "access",
    "mlreg.planner.config.sections.access:AccessSpec",
    "Users and roles (MLflow's basic-auth app): who may change what, reviewed with the rest",
    single=True,
    check="mlreg.planner.config.sections.access:check",
    names=("users", "roles"),
    expanded=("password",),
    secrets=("password",),
    order=40,
)


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
    names: dict[str, frozenset[str]] = field(default_factory=dict)  # resource type -> live names (for globs)
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
    from mlreg.planner.config.sections.access import is_glob

    expand = {p.resource_type for r in cfg.access.roles.values() for p in r.permissions if is_glob(p.resource_pattern)}
    return AccessRequest(workspaces=frozenset({role_workspace(cfg)}), expand=frozenset(expand))


class InRoles(Kind):
    """What roles, their grants and their members share: they are read when the file declares
    roles (or deletes some of this kind), and in every workspace state recorded them in."""

    provider: ClassVar[str] = PROVIDER
    section: ClassVar[Section] = SECTION
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


def declared_names(cfg: Config, resource_type: str) -> set[str]:
    """Names the file itself declares for a resource type (registered models, prompts)."""
    return set(getattr(cfg, {"registered_model": "models", "prompt": "prompts"}.get(resource_type, ""), {}) or {})


def expanded(cfg: Config, spec: PermissionSpec, facts: AccessFacts) -> list[str]:
    """The exact patterns a declared permission stands for: itself, or for a glob one per
    matching name among the live resources and those the file declares."""
    from mlreg.planner.config.sections.access import is_glob

    if not is_glob(spec.resource_pattern):
        return [spec.resource_pattern]
    names = set(facts.names.get(spec.resource_type, ())) | declared_names(cfg, spec.resource_type)
    return sorted(n for n in names if fnmatchcase(n, spec.resource_pattern))
