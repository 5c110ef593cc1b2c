"""Recorded state as plain data: what mlreg last applied, per address (Terraform's state), and
its one JSON form.

The JSON is written one resource per line (readable, diffable), and the encoder re-encodes only
the resources that changed since its last call: apply persists state as changes complete, and
re-encoding 10,000 unchanged resources each time would starve the threads doing the work.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ResourceState:
    type: str
    identity: dict[str, Any]
    attributes: dict[str, Any]

    def to_json(self) -> dict:
        return {"attributes": self.attributes, "identity": self.identity, "type": self.type}

    @classmethod
    def from_json(cls, data: dict) -> ResourceState:
        return cls(type=data["type"], identity=data.get("identity", {}), attributes=data.get("attributes", {}))


@dataclass(frozen=True)
class StateSnapshot:
    lineage: str | None = None
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)
    # What the state was recorded against (MLflow host and workspace, database host and name;
    # never credentials): planning it against other endpoints is refused (see workflow).
    endpoints: dict[str, str] = field(default_factory=dict)
    # The key of the hashes state keeps of secrets (planner/secrets.py): random per state, never
    # shown, never in a plan file or history.
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def new(cls) -> StateSnapshot:
        """No state stored yet: the lineage is assigned by the first write (`with_lineage`)."""
        return cls(lineage=None, serial=0, resources={})

    def with_lineage(self) -> StateSnapshot:
        return self if self.lineage else replace(self, lineage=str(uuid.uuid4()))

    def with_secret_key(self) -> StateSnapshot:
        """This state, with a key for the hashes of secrets (made now if it has none)."""
        from mlreg.planner.secrets import new_key

        return self if self.secret_key else replace(self, secret_key=new_key())

    def with_resource(self, address: str, resource: ResourceState | None) -> StateSnapshot:
        resources = dict(self.resources)
        if resource is None:
            resources.pop(address, None)
        else:
            resources[address] = resource
        return replace(self, resources=resources)

    def header(self) -> dict:
        out: dict[str, Any] = {"format_version": STATE_FORMAT, "lineage": self.lineage, "serial": self.serial}
        if self.endpoints:
            out["endpoints"] = dict(sorted(self.endpoints.items()))
        if self.secret_key:
            out["secret_key"] = self.secret_key
        return out

    def to_json(self) -> dict:
        return {
            **self.header(),
            "resources": {addr: r.to_json() for addr, r in sorted(self.resources.items())},
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
            resources={addr: ResourceState.from_json(r) for addr, r in data.get("resources", {}).items()},
            endpoints=dict(data.get("endpoints") or {}),
            secret_key=data.get("secret_key") or None,
        )


class StateEncoder:
    """`StateSnapshot` as JSON text, re-encoding only resources that changed since the last call
    (an unchanged resource is the same object: apply replaces, never mutates, ResourceStates)."""

    def __init__(self):
        self._lines: dict[str, tuple[object, str]] = {}

    def encode(self, snapshot: StateSnapshot) -> str:
        lines = []
        cache = {}
        for address in sorted(snapshot.resources):
            rs = snapshot.resources[address]
            hit = self._lines.get(address)
            if hit is None or hit[0] is not rs:
                hit = (rs, f"  {json.dumps(address)}: {json.dumps(rs.to_json(), sort_keys=True)}")
            cache[address] = hit
            lines.append(hit[1])
        self._lines = cache
        head = json.dumps(snapshot.header())[:-1]
        if not lines:
            return f'{head}, "resources": {{}}}}\n'
        return f'{head}, "resources": {{\n' + ",\n".join(lines) + "\n}}\n"


# --- the journal: what changed at each write, so state at any time can be replayed -----------------


def journal_entry(old: StateSnapshot | None, new: StateSnapshot, at: str, holder=None) -> dict:
    """What a state write changed: the resources set and removed since `old` (a full copy when
    there is no `old` of the same lineage to compare with). `holder`: the lock's LockInfo (who,
    and the apply's id)."""
    entry: dict[str, Any] = {"serial": new.serial, "lineage": new.lineage, "at": at}
    if holder is not None:
        entry.update({"apply": holder.id, "who": f"{holder.who}@{holder.host}", "operation": holder.operation})
    if old is None or old.lineage != new.lineage or old.serial >= new.serial:
        entry["full"] = True
        entry["set"] = {a: r.to_json() for a, r in sorted(new.resources.items())}
        entry["removed"] = []
    else:
        entry["set"] = {
            a: r.to_json()
            for a, r in sorted(new.resources.items())
            if (o := old.resources.get(a)) is None or (o is not r and o != r)
        }
        entry["removed"] = sorted(old.resources.keys() - new.resources.keys())
    if new.endpoints != (old.endpoints if old is not None else {}):
        entry["endpoints"] = dict(new.endpoints)
    return entry


def entry_key(entry: dict) -> tuple:
    """What tells a journal entry apart from every other (one per state write)."""
    return entry.get("lineage"), entry.get("serial"), entry.get("at")


def missing_past(have_journal: list[dict], have_history: list[dict], journal: list[dict], history: list[dict]):
    """(journal entries, apply records) of another backend that these do not hold yet, in order
    (`state push` carries them, so `history` and `state pull --at` answer for times before it)."""
    known = {entry_key(e) for e in have_journal}
    records = {r.get("id"): r for r in have_history}
    return (
        [e for e in journal if entry_key(e) not in known],
        [r for r in history if records.get(r.get("id")) != r],
    )


def replay(entries: list[dict], at: str | None = None, serial: int | None = None) -> StateSnapshot | None:
    """State as the journal recorded it at time `at` (ISO 8601, UTC) or at `serial`: the last
    full entry before it, then every change after it, in order. None before the first write."""
    chosen = [
        e
        for e in entries
        if (serial is None or e["serial"] <= serial) and (at is None or utc_text(e["at"]) <= utc_text(at))
    ]
    start = max((i for i, e in enumerate(chosen) if e.get("full")), default=None)
    if start is None:
        return None
    resources: dict[str, ResourceState] = {}
    endpoints: dict[str, str] = {}
    lineage = None
    for e in chosen[start:]:
        if e.get("full"):
            resources = {}
        if e.get("lineage") != lineage and not e.get("full"):
            continue  # another lineage's deltas (state replaced by `state push --force`)
        lineage = e.get("lineage")
        for a in e.get("removed", ()):
            resources.pop(a, None)
        for a, r in e.get("set", {}).items():
            resources[a] = ResourceState.from_json(r)
        endpoints = e.get("endpoints", endpoints)
    return StateSnapshot(lineage=lineage, serial=chosen[-1]["serial"], resources=resources, endpoints=endpoints)


def utc_text(text: str) -> str:
    """An ISO 8601 time as a comparable UTC string (`2026-11-24T09:00:00Z`, `…+00:00`, a date)."""
    from datetime import UTC, datetime

    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
