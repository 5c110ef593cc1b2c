"""What roles can grant on: each kind MLflow's basic-auth app grants on declares its `Grant`, and
every grant table (the access kinds', the no-lockout rule's, the `access:` check's, the provider's
listing of names for globs) is derived from the catalog's kinds (`Grants`), never written by hand.
A new kind roles can grant on declares its grant and edits none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config
    from mlreg.planner.live import LiveSnapshot


@dataclass(frozen=True)
class Grant:
    """How roles grant on a kind.

    `resource_type`: MLflow's (`registered_model`, `prompt`, `gateway_endpoint`). `expands`: a glob
    pattern (`planner_*`) is expanded by mlreg into one grant per matching name, live or declared
    (MLflow matches a pattern only as "*" or one exact name). `needs`: the permission applying the
    file needs on each object of this kind it declares (None: none), which a plan may not take
    from the identity applying it. What a grant names (the object's name, or an id) is the kind's
    `Kind.granted_as`."""

    resource_type: str
    expands: bool = True
    needs: str | None = None


class Grantable(Protocol):
    """What the grant table asks of a kind (`kinds/base.Kind` answers it)."""

    type: str
    grant: Grant | None

    def declared_names(self, cfg: Config) -> list[str]: ...

    def granted_as(self, name: str, live: LiveSnapshot) -> str | None: ...

    def grant_name(self, pattern: str, live: LiveSnapshot) -> str: ...


@dataclass(frozen=True)
class Grants:
    """The grant table: every kind roles can grant on, by MLflow resource type, in catalog order."""

    kinds: Mapping[str, Grantable] = field(default_factory=dict)

    @classmethod
    def of(cls, kinds: Iterable[Grantable]) -> Grants:
        return cls({k.grant.resource_type: k for k in kinds if k.grant is not None})

    def expandable(self) -> tuple[str, ...]:
        """The resource types whose glob patterns mlreg expands."""
        return tuple(t for t, k in self.kinds.items() if k.grant.expands)

    def kind_type(self, resource_type: str) -> str | None:
        """The kind a resource type's grants are on (`registered_model` -> `model`)."""
        kind = self.kinds.get(resource_type)
        return kind.type if kind is not None else None

    def declared(self, cfg: Config, resource_type: str) -> set[str]:
        """Names the file itself declares of a resource type."""
        kind = self.kinds.get(resource_type)
        return set(kind.declared_names(cfg)) if kind is not None else set()

    def granted_as(self, resource_type: str, name: str, live: LiveSnapshot) -> str | None:
        """The pattern a grant on the object named `name` is written on (its name, or its id;
        None when the object has no id yet)."""
        kind = self.kinds.get(resource_type)
        return kind.granted_as(name, live) if kind is not None else name

    def named(self, resource_type: str, pattern: str, live: LiveSnapshot) -> str:
        """The name of the object a live grant's exact pattern names (the inverse of `granted_as`)."""
        kind = self.kinds.get(resource_type)
        return kind.grant_name(pattern, live) if kind is not None else pattern

    def needs(self, cfg: Config, live: LiveSnapshot) -> list[tuple[str, str, str]]:
        """(resource type, pattern, permission) that applying the file needs on what it declares."""
        out = []
        for resource_type, kind in self.kinds.items():
            if kind.grant.needs is None:
                continue
            for name in kind.declared_names(cfg):
                pattern = kind.granted_as(name, live)
                if pattern is not None:
                    out.append((resource_type, pattern, kind.grant.needs))
        return out
