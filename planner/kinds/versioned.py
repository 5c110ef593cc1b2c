"""What the kinds whose objects MLflow numbers share (a registered model's versions, a prompt's):
they are declared as a `versions:` list under their parent's entry, labelled and imported by
number, told apart live by number, and deleted by the number state recorded (or a `vN` key).
A versioned kind says only where its live versions are (`live_versions`) and what it manages of
one (`values_of`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from mlreg.planner.changes import Address, Change
from mlreg.planner.kinds.base import DiffContext, Kind
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec


class Versioned(Kind):
    context: ClassVar[tuple[str, ...]] = ("version",)
    noun: ClassVar[str] = "version"  # for people: "version 3 no longer exists"

    # -- what each versioned kind says ----------------------------------------------------------------
    def live_versions(self, live: LiveSnapshot, name: str) -> Sequence[Any]:
        """The live versions of the parent named `name` (objects with a `version` number)."""
        raise NotImplementedError

    def values_of(self, lv: Any) -> dict[str, Any]:
        """What it manages of a live version, as drift compares it."""
        raise NotImplementedError

    def deleted_values(self, lv: Any) -> dict[str, Any]:
        """What a deletion shows of the live version it deletes (by default: `values_of`)."""
        return self.values_of(lv)

    # -- shared ----------------------------------------------------------------------------------------
    def _parents(self, cfg: Config) -> Mapping[str, Any]:
        return getattr(cfg, self.section)

    def declared_addresses(self, cfg: Config) -> list[Address]:
        return [Address(self.type, name, v.key) for name, p in self._parents(cfg).items() for v in p.versions]

    def config_path(self, cfg: Config, address: Address) -> tuple | None:
        parent = self._parents(cfg).get(address.name)
        for i, v in enumerate(parent.versions if parent else ()):
            if v.key == address.key:
                return (self.section, address.name, "versions", i)
        return None

    def live_version(self, live: LiveSnapshot, name: str, number: str) -> Any:
        return next((v for v in self.live_versions(live, name) if v.version == number), None)

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        number = self.number_to_delete(ctx, addr, name, key)
        lv = self.live_version(ctx.live, name, number) if number is not None else None
        return None if lv is None else (self.deleted_values(lv), {"name": name, "version": number})

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        lv = self.live_version(live, rs.identity.get("name"), str(rs.identity.get("version")))
        if lv is None:
            return None, None, None
        return self.values_of(lv), lv.last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return f"{self.noun} {rs.identity.get('version')} no longer exists"

    def label(self, address: Address, number: str | None) -> str:
        return f"{address.name} v{number}" if number else f"{address.name} {address.key} (new)"

    def import_id(self, change: Change) -> str | None:
        return f"{change.identity.get('name')}/{change.identity.get('version')}"

    def assigned(self, identity: Mapping[str, Any]) -> str | None:
        number = identity.get("version")
        return f"version {number}" if number is not None else None

    def number_label(self, change: Change) -> str | None:
        number = (change.after or {}).get("version") or change.identity.get("version")
        if number is not None:
            return f"v{number}"
        return "new" if "version" in change.after_unknown else None
