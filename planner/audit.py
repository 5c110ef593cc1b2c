"""What was live, and when: the journal of state writes (planner/recorded.py) read back.

MLflow cannot say which version was in production last Tuesday; mlreg's state journal can:
`address_history` lists every recorded change of one address (newest first), with the apply's
id, who ran it, the values before and after, and the drift that apply put back;
`recorded.replay` gives the whole state at a time or serial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlreg.planner import secrets
from mlreg.planner.changes import Address
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.recorded import utc_text


@dataclass(frozen=True)
class AddressEvent:
    at: str
    serial: int
    action: str  # recorded | changed | removed
    apply: str | None
    who: str | None
    operation: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    drift_put_back: Mapping[str, Any] | None = None  # live values this apply replaced with the recorded ones
    outcome: str | None = None
    identity: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "at": self.at,
            "serial": self.serial,
            "action": self.action,
            "apply": self.apply,
            "who": self.who,
            "operation": self.operation,
            "outcome": self.outcome,
            "identity": dict(self.identity),
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "drift_put_back": dict(self.drift_put_back) if self.drift_put_back else None,
        }


def _masked(type_: str | None, values: Mapping | None) -> dict | None:
    if values is None:
        return None
    kind = KINDS.get(type_) if type_ else None
    return secrets.shown(values, kind.sensitive if kind else ())


def address_history(entries: list[dict], records: list[dict], address: str) -> list[AddressEvent]:
    """Every recorded change of `address`, newest first (secrets shown as "(sensitive value)")."""
    by_apply = {r.get("id"): r for r in records}
    out: list[AddressEvent] = []
    current: dict | None = None
    lineage = None
    for e in entries:
        if e.get("full") or e.get("lineage") != lineage:
            lineage = e.get("lineage")
            if e.get("full") and address not in e.get("set", {}) and current is not None:
                out.append(_event(e, by_apply, address, "removed", current, None))
                current = None
        if address in e.get("set", {}):
            new = e["set"][address]
            if current is not None and new == current:
                continue  # a full copy repeating what was recorded
            out.append(_event(e, by_apply, address, "recorded" if current is None else "changed", current, new))
            current = new
        elif address in e.get("removed", ()) and current is not None:
            out.append(_event(e, by_apply, address, "removed", current, None))
            current = None
    # drift put back leaves what was recorded as it was: such an apply has no journal entry of
    # its own for the address, only its record
    seen = {ev.apply for ev in out}
    for r in records:
        if address in (r.get("reverted") or {}) and r.get("id") not in seen:
            out.append(_put_back(r, address, out))
    return sorted(out, key=lambda ev: utc_text(ev.at) if ev.at else "", reverse=True)


def _put_back(record: dict, address: str, earlier: list[AddressEvent]) -> AddressEvent:
    at = record.get("finished") or ""
    before = [ev for ev in earlier if ev.at and at and utc_text(ev.at) <= utc_text(at) and ev.after is not None]
    values = before[-1].after if before else None
    parsed = Address.parse(address)
    type_ = parsed.type if parsed is not None else None
    return AddressEvent(
        at=at,
        serial=record.get("serial") or 0,
        action="drift put back",
        apply=record.get("id"),
        who=f"{record.get('who')}@{record.get('host')}",
        operation=record.get("operation"),
        before=values,
        after=values,
        drift_put_back=_masked(type_, record["reverted"][address]),
        outcome=record.get("outcome"),
    )


def _event(e: dict, by_apply: dict, address: str, action: str, old: dict | None, new: dict | None) -> AddressEvent:
    type_ = (new or old or {}).get("type")
    record = by_apply.get(e.get("apply")) or {}
    return AddressEvent(
        at=e.get("at", ""),
        serial=e.get("serial", 0),
        action=action,
        apply=e.get("apply"),
        who=e.get("who"),
        operation=e.get("operation"),
        before=_masked(type_, old.get("attributes") if old else None),
        after=_masked(type_, new.get("attributes") if new else None),
        drift_put_back=_masked(type_, (record.get("reverted") or {}).get(address)),
        outcome=record.get("outcome"),
        identity=(new or old or {}).get("identity", {}),
    )
