"""The `access:` section: users mlreg makes sure exist, and roles (in the file's workspace) whose
description, permissions and members are authoritative. MLflow's own names and rules are
checked offline (`mlflow/server/auth/permissions.py`, MLflow 3.17):

- permissions: READ, USE, EDIT, MANAGE, DENY; on `workspace` only USE or MANAGE;
- resource types, and the grain of their patterns: `workspace` and the sub-resource types take
  only "*"; the others "*" or one exact name. A pattern with glob characters (`planner_*`) is
  expanded by mlreg at plan time into one exact grant per matching name, for the resource types
  whose kinds say so (`Grant.expands`, kinds/grants.py: registered models and prompts), which the
  loader hands this section's check (`CheckContext.expandable`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlreg.planner.config.base import Frozen, Printable
from mlreg.planner.config.sections.registry import Section, register
from mlreg.planner.patterns import is_glob

PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "DENY")
# resource types that take fewer permissions than the others (a workspace: member or admin)
PERMISSIONS_OF = {"workspace": ("USE", "MANAGE")}
# resource type -> whether a grant may name one resource (False: only "*")
RESOURCE_TYPES: dict[str, bool] = {
    "workspace": False,
    "experiment": True,
    "registered_model": True,
    "prompt": True,
    "scorer": True,
    "gateway_secret": True,
    "gateway_endpoint": True,
    "gateway_model_definition": True,
    "mcp_server": True,
    "run": False,
    "trace": False,
    "assessment": False,
    "logged_model": False,
    "review_queue": False,
    "registered_model_version": False,
    "prompt_version": False,
    "scorer_version": False,
    "mcp_server_version": False,
}
USER_NAME = re.compile(r"^[^\s:]{1,255}$")
ROLE_NAME = re.compile(r"^(?!__user_)[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


class PermissionSpec(Frozen):
    resource_type: str = Field(description="MLflow's resource type, e.g. registered_model, prompt, workspace")
    resource_pattern: Printable = Field(description='"*", one exact name, or a glob mlreg expands (planner_*)')
    permission: Literal["READ", "USE", "EDIT", "MANAGE", "DENY"]
    """READ, USE, EDIT, MANAGE or DENY (what MLflow allows for the resource type)."""

    @field_validator("resource_type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in RESOURCE_TYPES:
            raise ValueError(f"unknown resource type {v!r}; MLflow's: {', '.join(RESOURCE_TYPES)}")
        return v

    @model_validator(mode="after")
    def _grain(self):
        t, p = self.resource_type, self.resource_pattern
        allowed = PERMISSIONS_OF.get(t, PERMISSIONS)
        if self.permission not in allowed:
            raise ValueError(f"on {t} MLflow grants only {' or '.join(allowed)}, not {self.permission}")
        if p != "*" and not RESOURCE_TYPES[t]:
            raise ValueError(f'{t} grants take only resource_pattern "*" (MLflow grants it as a whole)')
        return self

    @property
    def key(self) -> str:
        return f"{self.resource_type}:{self.resource_pattern}"


class RoleSpec(Frozen):
    description: str | None = Field(default=None, description="Omitted: not managed")
    permissions: list[PermissionSpec] = Field(default_factory=list)
    """The role's grants; grants added by hand are taken away."""
    members: list[Printable] = Field(default_factory=list, description="User names")


class UserSpec(Frozen):
    password: str | None = Field(default=None, description="Only as an environment reference: ${VAR}")
    admin: bool = False
    """Whether the user is an MLflow admin."""


class AccessSpec(Frozen):
    users: dict[Printable, UserSpec] = Field(default_factory=dict, description="Users mlreg makes sure exist")
    roles: dict[Printable, RoleSpec] = Field(default_factory=dict, description="Roles in the file's workspace")
    exclusive: bool = Field(
        default=False,
        description="Take away per-user grants (a model's creator's MANAGE) on resources this file manages",
    )


def check(ctx) -> None:
    """Names, permissions listed twice, glob patterns on resource types mlreg does not expand,
    members that are not users of this file or live (the latter checked at plan time)."""
    raw = ctx.data.get("access")
    if not isinstance(raw, dict):
        return
    users = raw.get("users") if isinstance(raw.get("users"), dict) else {}
    for name in users:
        if not isinstance(name, str) or not USER_NAME.match(name):
            ctx.error(("access", "users", name), f"User name {name!r} is not allowed", "no spaces or ':'")
        if ctx.track_declared:
            ctx.declared.add(f"user.{name}")
    roles = raw.get("roles") if isinstance(raw.get("roles"), dict) else {}
    for name, role in roles.items():
        where = ("access", "roles", name)
        if not isinstance(name, str) or not ROLE_NAME.match(name):
            ctx.error(
                where,
                f"Role name {name!r} is not allowed",
                "letters, digits, '_', '.' and '-'; `__user_…__` names are MLflow's per-user roles",
            )
        if ctx.track_declared:
            ctx.declared.add(f"role.{name}")
        _globs(ctx, name, role)
        spec = ctx.valid(RoleSpec, role, "access", "roles", name)
        if spec is None:
            continue
        seen: dict[str, int] = {}
        for i, p in enumerate(spec.permissions):
            if p.key in seen:
                ctx.error(where + ("permissions", i), f"{p.key} is listed twice (also permissions[{seen[p.key]}])")
            seen[p.key] = i
        members: dict[str, int] = {}
        for i, m in enumerate(spec.members):
            if m in members:
                ctx.error(where + ("members", i), f"Member {m!r} is listed twice")
            members[m] = i


def _globs(ctx, name: str, role) -> None:
    """Glob patterns only on the resource types whose kinds expand them (each permission on its
    own: a role with another mistake still has this one reported)."""
    listed = role.get("permissions") if isinstance(role, dict) else None
    for i, raw in enumerate(listed if isinstance(listed, list) else ()):
        p = ctx.valid(PermissionSpec, raw, "access", "roles", name, "permissions", i)
        if p is not None and is_glob(p.resource_pattern) and p.resource_type not in ctx.expandable:
            ctx.error(
                ("access", "roles", name, "permissions", i),
                f"glob patterns are expanded only for {', '.join(ctx.expandable)}; name one "
                f'{p.resource_type} exactly, or use "*"',
            )


SECTION = register(
    Section(
        "access",
        AccessSpec,
        "Users and roles (MLflow's basic-auth app): who may change what, reviewed with the rest",
        check=check,
        single=True,
        names=("users", "roles"),
        expanded=("password",),
        secrets=("password",),
        order=40,
        protected=True,
    )
)
