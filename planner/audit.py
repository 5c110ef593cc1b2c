"""What was live, and when: the journal of state writes (planner/recorded.py) read back.

MLflow cannot say which version was in production last Tuesday; mlreg's state journal can:
`address_history` lists every recorded change of one address (newest first), with the apply's
id, who ran it, the values before and after, and the drift that apply put back;
`recorded.replay` gives the whole state at a time or serial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlreg.planner import secrets
from mlreg.planner.changes import Address
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.recorded import utc_text


@dataclass(frozen=True)
class AddressEvent:
    address: str
    at: str
    serial: int
    action: str  # recorded | changed | removed | moved | drift put back
    apply: str | None
    who: str | None
    operation: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    drift_put_back: Mapping[str, Any] | None = None  # live values this apply replaced with the recorded ones
    outcome: str | None = None
    identity: Mapping[str, Any] = field(default_factory=dict)
    moved_from: str | None = None  # `moved`: the address it was recorded under until then

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "moved_from": self.moved_from,
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
    """Every recorded change of `address`, newest first (secrets shown as "(sensitive value)"),
    with those of the addresses it belongs with: the object's earlier addresses (the file named
    it another way; the change of address is one `moved` event), and for an address that other
    kinds hang under (`model.NAME`), theirs (its versions)."""
    by_apply = {r.get("id"): r for r in records}
    out: list[AddressEvent] = []
    for addr in sorted(related(entries, address)):
        out += _events(entries, by_apply, addr)
        seen = {ev.apply for ev in out if ev.address == addr}
        # drift put back leaves what was recorded as it was: such an apply has no journal entry of
        # its own for the address, only its record
        for r in records:
            if addr in (r.get("reverted") or {}) and r.get("id") not in seen:
                out.append(_put_back(r, addr, [ev for ev in out if ev.address == addr]))
    return sorted(_moves(out), key=lambda ev: (utc_text(ev.at) if ev.at else "", ev.serial), reverse=True)


def related(entries: list[dict], address: str) -> set[str]:
    """`address`, the addresses its object was recorded under before (same kind and name, an
    identity the kind says is the same object), and the addresses of the kinds whose `parent`
    is its kind, under its name."""
    parsed = Address.parse(address)
    if parsed is None or parsed.type not in KINDS:
        return {address}
    kind = KINDS[parsed.type]
    children = tuple(f"{t}.{parsed.name}[" for t, k in KINDS.items() if k.parent == parsed.type and not parsed.key)
    siblings = f"{parsed.type}.{parsed.name}" + ("[" if parsed.key is not None else "")
    found, mine, others = {address}, [], {}
    for e in entries:
        for a, r in e.get("set", {}).items():
            if a == address:
                mine.append(r.get("identity") or {})
            elif children and a.startswith(children):
                found.add(a)
            elif a.startswith(siblings) and a != siblings:
                others.setdefault(a, []).append(r.get("identity") or {})
    for a, identities in others.items():
        if any(kind.same_object(i, m) for i in identities for m in mine):
            found.add(a)
    return found


def _moves(events: list[AddressEvent]) -> list[AddressEvent]:
    """A `removed` event of one address and a `recorded` event of another in the same state
    write, for the same object, are one move."""
    recorded: dict[tuple, list[AddressEvent]] = {}
    for ev in events:
        if ev.action == "recorded":
            recorded.setdefault((ev.serial, ev.apply), []).append(ev)
    out, merged = [], set()
    for ev in events:
        parsed = Address.parse(ev.address) if ev.action == "removed" else None
        kind = KINDS.get(parsed.type) if parsed is not None else None
        new = next(
            (n for n in recorded.get((ev.serial, ev.apply), ()) if kind and kind.same_object(ev.identity, n.identity)),
            None,
        )
        if new is None:
            out.append(ev)
            continue
        merged.add(id(new))
        out.append(replace(new, action="moved", before=ev.before, moved_from=ev.address))
    return [ev for ev in out if id(ev) not in merged]


def _events(entries: list[dict], by_apply: dict, address: str) -> list[AddressEvent]:
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
    return out


def _put_back(record: dict, address: str, earlier: list[AddressEvent]) -> AddressEvent:
    at = record.get("finished") or ""
    before = [ev for ev in earlier if ev.at and at and utc_text(ev.at) <= utc_text(at) and ev.after is not None]
    values = before[-1].after if before else None
    parsed = Address.parse(address)
    type_ = parsed.type if parsed is not None else None
    return AddressEvent(
        address=address,
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
        address=address,
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
