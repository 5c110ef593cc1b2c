"""Plans at the edge: the JSON document users' tools read (the shape of Terraform's
`terraform show -json`, format 1.x), loading a saved plan file back, and comparing it with a plan
made now.

A saved plan is an approval, not an instruction: `apply PLANFILE` computes the plan again from
registry.yaml, state and live values and executes that, only if it equals the saved one. Plan
files can be signed (HMAC-SHA256) with a key in MLREG_PLAN_SIGNING_KEY, so that a plan made in
one CI job is verified in another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlreg import __version__
from mlreg.planner.errors import StalePlan, UserError
from mlreg.planner.kinds.catalog import KINDS
from mlreg.planner.model import Address, Change, DriftItem, Plan

FORMAT_VERSION = "1.2"
SIGNATURE_KEY = "signature"
MAX_PLAN_BYTES = 512 * 1024 * 1024


def _mirror(keys, after: dict | None) -> dict:
    """Terraform's *_unknown / *_sensitive objects: `true` at each listed attribute path."""
    out: dict = {}
    for k in keys:
        head, _, sub = k.partition(".")
        if sub:
            out.setdefault(head, {})[sub] = True
        elif after is None or head in after:
            out[head] = True
    return out


def _index(c: Change, key: str | None):
    if key is None:
        return None
    return int(key) if c.type == "policy_version" and key.isdigit() else key


def resource_change(c: Change) -> dict:
    parsed = Address.parse(c.address)
    kind = KINDS[c.type]
    before = dict(c.before) if c.before is not None else None
    after = dict(c.after) if c.after is not None else None
    sensitive = [k for k in kind.sensitive if (before and k in before) or (after and k in after)]
    out = {"address": c.address, "mode": "managed", "type": c.type, "name": parsed.name}
    if parsed.key is not None:
        out["index"] = _index(c, parsed.key)
    out.update(
        {
            "provider_name": kind.provider,
            "change": {
                "actions": [c.action.value],
                "before": before,
                "after": after,
                "after_unknown": _mirror(c.after_unknown, after),
                "before_sensitive": _mirror(sensitive, before) if before is not None else {},
                "after_sensitive": _mirror(sensitive, after) if after is not None else {},
            },
            "action_reason": c.reason.value if c.reason else None,
            "depends_on": list(c.depends_on),
        }
    )
    return out


def resource_drift(items: list[DriftItem]) -> list[dict]:
    """Drift in the same shape: change.before = recorded, change.after = live (the drifted
    attributes); a resource gone live is a `delete`."""
    by_addr: dict[str, list[DriftItem]] = {}
    for d in items:
        if d.attribute is not None or d.vanished:
            by_addr.setdefault(d.address, []).append(d)
    out = []
    for addr, ds in by_addr.items():
        parsed = Address.parse(addr)
        before: dict = {}
        after: dict | None = {}
        for d in ds:
            if d.attribute is None:
                after = None
                continue
            head, _, sub = d.attribute.partition(".")
            if sub:
                before.setdefault(head, {})[sub] = d.recorded
                if after is not None:
                    after.setdefault(head, {})[sub] = d.live
            else:
                before[head] = d.recorded
                if after is not None:
                    after[head] = d.live
        entry = {"address": addr, "mode": "managed", "type": ds[0].type, "name": parsed.name}
        if parsed.key is not None:
            entry["index"] = int(parsed.key) if ds[0].type == "policy_version" and parsed.key.isdigit() else parsed.key
        entry.update(
            {
                "provider_name": KINDS[ds[0].type].provider if ds[0].type in KINDS else "",
                "change": {
                    "actions": ["delete" if after is None else "update"],
                    "before": before,
                    "after": after,
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            }
        )
        out.append(entry)
    return out


def document(plan: Plan) -> dict:
    """The plan as users' tools read it (`plan --format json`, and the content of `--out` files)."""
    notes = {c.address: c.note for c in plan.changes if c.note}
    return {
        "format_version": FORMAT_VERSION,
        "mlreg_version": __version__,
        "config": {"path": plan.config_path, "digest": plan.config_digest},
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "backends": dict(plan.backends),
        "targets": list(plan.targets),
        "resource_changes": [resource_change(c) for c in plan.changes],
        "resource_drift": resource_drift(list(plan.drift)),
        "drift": [d.to_json() for d in plan.drift],
        "promotions": [p.to_json() for p in plan.promotions],
        "diagnostics": [d.to_json() for d in plan.diagnostics],
        "notes": notes,
        "summary": plan.summary.to_json(),
        "errored": plan.has_errors,
        "applyable": plan.applyable,
    }


def drift_document(items: list[DriftItem]) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "mlreg_version": __version__,
        "resource_drift": resource_drift(items),
        "drift": [d.to_json() for d in items],
    }


# --- signing -------------------------------------------------------------------------------------


def _canonical(doc: dict) -> bytes:
    body = {k: v for k, v in doc.items() if k != SIGNATURE_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(doc: dict, key: str | None) -> dict:
    if not key:
        return doc
    mac = hmac.new(key.encode(), _canonical(doc), hashlib.sha256).hexdigest()
    return {**doc, SIGNATURE_KEY: f"hmac-sha256:{mac}"}


def verify(doc: dict, key: str | None, path: str) -> None:
    if not key:
        return
    given = doc.get(SIGNATURE_KEY)
    if not given:
        raise StalePlan(
            f"{path} is not signed, and MLREG_PLAN_SIGNING_KEY is set: nothing was applied; "
            "make the plan with the same key"
        )
    want = f"hmac-sha256:{hmac.new(key.encode(), _canonical(doc), hashlib.sha256).hexdigest()}"
    if not hmac.compare_digest(str(given), want):
        raise StalePlan(
            f"{path}: the signature does not verify (the file was changed, or signed with another "
            "key); nothing was applied"
        )


# --- loading a saved plan ----------------------------------------------------------------------------


class _Change(BaseModel):
    model_config = ConfigDict(extra="allow")

    actions: list[str]
    before: Any = None
    after: Any = None
    after_unknown: Any = Field(default_factory=dict)


class _ResourceChange(BaseModel):
    model_config = ConfigDict(extra="allow")

    address: str
    type: str
    change: _Change


class SavedPlan(BaseModel):
    model_config = ConfigDict(extra="allow")

    format_version: str
    config: dict[str, Any]
    state: dict[str, Any]
    resource_changes: list[_ResourceChange]

    @field_validator("format_version")
    @classmethod
    def _v1(cls, v: str) -> str:
        if not v.startswith("1."):
            raise ValueError(f"format_version {v!r}: this mlreg reads plan files of format 1.x")
        return v


def load(text: str, path: str, signing_key: str | None = None) -> SavedPlan:
    if len(text) > MAX_PLAN_BYTES:
        raise UserError(f"{path} is larger than {MAX_PLAN_BYTES:,} bytes; it is not a plan file")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise UserError(f"{path} is not a plan file (JSON: {str(e)[:100]}); make one with `mlreg plan --out`") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a plan file; make one with `mlreg plan --out`")
    verify(raw, signing_key, path)
    try:
        return SavedPlan.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path} is not a plan file mlreg can read ({where}: {first['msg']})") from None


def mismatch(saved: SavedPlan, fresh: Plan, config_file: str) -> None:
    """Refuse (StalePlan) unless the plan made now equals the saved one, saying what moved."""
    if saved.config.get("digest") != fresh.config_digest:
        raise StalePlan(f"the saved plan is stale: {config_file} changed since it was made; run `mlreg plan` again")
    if saved.state.get("lineage") not in (None, fresh.lineage) or saved.state.get("serial") != fresh.serial:
        raise StalePlan(
            f"the saved plan is stale: state moved from serial {saved.state.get('serial')} to "
            f"{fresh.serial} since it was made; run `mlreg plan` again"
        )
    now = {c.address: c for c in fresh.changes}
    seen = set()
    for rc in saved.resource_changes:
        seen.add(rc.address)
        c = now.get(rc.address)
        if c is None:
            raise StalePlan(
                f"the saved plan does not match: it has {rc.address}, which a plan made now does not; "
                "nothing was applied; run `mlreg plan` again"
            )
        mine = json.loads(json.dumps(resource_change(c)["change"]))
        if rc.change.before != mine["before"]:
            raise StalePlan(
                f"the saved plan is stale: {rc.address} changed live since it was made; run `mlreg plan` again"
            )
        if (
            rc.change.actions != mine["actions"]
            or rc.change.after != mine["after"]
            or (rc.change.after_unknown or {}) != mine["after_unknown"]
        ):
            raise StalePlan(
                f"the saved plan does not match what registry.yaml, state and live values give now at "
                f"{rc.address} (saved: {'/'.join(rc.change.actions)}, now: {c.action.value}); "
                "nothing was applied; was the file edited? Run `mlreg plan` again"
            )
    extra = [c.address for c in fresh.changes if c.address not in seen]
    if extra:
        raise StalePlan(
            f"the saved plan does not match: a plan made now also has {extra[0]}; nothing was applied; "
            "run `mlreg plan` again"
        )
