"""Recorded state as plain data: what mlreg last applied, per address (Terraform's state)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ResourceState:
    type: str
    identity: dict[str, Any]
    attributes: dict[str, Any]


@dataclass(frozen=True)
class StateSnapshot:
    lineage: str | None = None
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)

    @classmethod
    def new(cls) -> StateSnapshot:
        """No state stored yet: the lineage is assigned by the first write (`with_lineage`)."""
        return cls(lineage=None, serial=0, resources={})

    def with_lineage(self) -> StateSnapshot:
        return self if self.lineage else replace(self, lineage=str(uuid.uuid4()))

    def with_resource(self, address: str, resource: ResourceState | None) -> StateSnapshot:
        resources = dict(self.resources)
        if resource is None:
            resources.pop(address, None)
        else:
            resources[address] = resource
        return replace(self, resources=resources)

    def to_json(self) -> dict:
        return {
            "format_version": STATE_FORMAT,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": {
                addr: {"type": r.type, "identity": r.identity, "attributes": r.attributes}
                for addr, r in sorted(self.resources.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> StateSnapshot:
        if data.get("format_version", STATE_FORMAT) > STATE_FORMAT:
            raise ValueError(
                f"state format {data['format_version']} is newer than this mlreg understands; upgrade mlreg"
            )
        return cls(
            lineage=data.get("lineage"),
            serial=int(data.get("serial", 0)),
            resources={
                addr: ResourceState(type=r["type"], identity=r.get("identity", {}), attributes=r.get("attributes", {}))
                for addr, r in data.get("resources", {}).items()
            },
        )
