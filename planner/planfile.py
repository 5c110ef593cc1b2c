"""Plans at the edge: the JSON document users' tools read (the shape of Terraform's
`terraform show -json`, format 1.x), and a saved plan file decoded back into changes.

Three forms, each converted once (as Terraform keeps them): the in-memory `Plan` of `Change`s;
the JSON document (`document`, written by `plan --format json` and `plan --out`); and a saved
plan decoded from that document (`load` -> `SavedPlan`, whose changes are `Change`s again).

A saved plan is an approval, not an instruction: `apply PLANFILE` computes the plan again from
registry.yaml, state and live values and executes that, only if its changes equal the saved ones
(`SavedPlan.require_same`). Plan files can be signed (HMAC-SHA256) with a key in
MLREG_PLAN_SIGNING_KEY, so that a plan made in one CI job is verified in another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlreg import __version__
from mlreg.planner import secrets
from mlreg.planner.changes import Action, Address, Change, DriftItem, Plan
from mlreg.planner.errors import StalePlan, UserError
from mlreg.planner.kinds.catalog import KINDS, kind_of, topics

FORMAT_VERSION = "1.2"
# The Terraform release whose `terraform show -json` plan format (1.2: `importing` from 1.5,
# `forget` from 1.7, `applyable` from 1.8) this document follows. Readers of Terraform plans
# (Checkov, for one) recognise a plan by this key; it says nothing about Terraform being installed.
TERRAFORM_VERSION = "1.9.0"
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


def _unmirror(mirror: Any, prefix: str = "") -> tuple[str, ...]:
    """The attribute paths a *_unknown object marks `true` (the inverse of `_mirror`)."""
    if mirror is True:
        return (prefix,) if prefix else ()
    if not isinstance(mirror, dict):
        return ()
    return tuple(p for k, v in mirror.items() for p in _unmirror(v, f"{prefix}.{k}" if prefix else k))


def _identified(at: Address, type_: str) -> dict:
    """What every Terraform resource representation starts with."""
    kind = kind_of(type_)
    out = {"address": str(at), "mode": "managed", "type": type_, "name": at.name}
    if at.key is not None:
        out["index"] = kind.index(at.key)
    out["provider_name"] = kind.provider
    return out


def _values(at: Address, type_: str, values: dict, unknown=()) -> dict:
    """A resource in Terraform's values representation (planned_values, prior_state)."""
    kind = kind_of(type_)
    known = {k: v for k, v in values.items() if k not in unknown}
    sensitive = secrets.sensitive_keys(kind.sensitive, known)
    return {
        **_identified(at, type_),
        "schema_version": 0,
        "values": secrets.shown(known, kind.sensitive),
        "sensitive_values": _mirror(sensitive, known),
    }


def planned_values(plan: Plan) -> dict:
    """Terraform's `planned_values`: every resource as it will be after apply."""
    gone = (Action.DELETE, Action.FORGET)
    resources = [
        _values(c.at, c.type, dict(c.after or {}), c.after_unknown) for c in plan.changes if c.action not in gone
    ]
    return {"root_module": {"resources": resources}}


def prior_state(plan: Plan) -> dict:
    """Terraform's `prior_state`: what state recorded when the plan was made."""
    recorded = plan.prior.resources if plan.prior is not None else {}
    resources = [
        _values(Address.parse(a), rs.type, dict(rs.attributes))
        for a, rs in sorted(recorded.items())
        if rs.type in KINDS
    ]
    return {"format_version": "1.0", "values": {"root_module": {"resources": resources}}}


def configuration(plan: Plan) -> dict:
    """Terraform's `configuration`: each declared resource, with the file and line declaring it."""
    providers = sorted({k.provider for k in KINDS.values()})
    return {
        "provider_config": {p: {"name": p, "full_name": p} for p in providers},
        "root_module": {"resources": plan.declared.resources() if plan.declared is not None else []},
    }


def shown_values(c: Change) -> tuple[list[str], dict | None, dict | None]:
    """A change's sensitive attributes, and its before and after as a plan shows and saves them:
    a secret is never in a plan, not even hashed."""
    sensitive = secrets.sensitive_keys(kind_of(c.type).sensitive, c.before, c.after)
    return sensitive, secrets.shown(c.before, sensitive), secrets.shown(c.after, sensitive)


def resource_change(c: Change, adopted: bool = False) -> dict:
    kind = kind_of(c.type)
    sensitive, before, after = shown_values(c)
    out = {"address": c.address, "mode": "managed", "type": c.type, "name": c.at.name}
    if c.at.key is not None:
        out["index"] = kind.index(c.at.key)
    if c.moved_from is not None:  # Terraform's `moved`: the address state recorded it under
        out["previous_address"] = c.moved_from
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
    if adopted:  # Terraform 1.5's import: an existing object the plan starts managing
        out["change"]["importing"] = {"id": kind.import_id(c)}
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
        kind = kind_of(ds[0].type)
        entry = {"address": addr, "mode": "managed", "type": ds[0].type, "name": parsed.name}
        if parsed.key is not None:
            entry["index"] = kind.index(parsed.key)
        entry.update(
            {
                "provider_name": kind.provider,
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


def document(plan: Plan, configuration_section: bool = True) -> dict:
    """The plan as users' tools read it (`plan --format json`, and the content of `--out` files).
    `configuration_section=False` leaves out `configuration`, whose file lines cost a second parse
    of a large file that the fast loader read (apply's digest of the plan does without)."""
    notes = {c.address: c.note for c in plan.changes if c.note}
    adopted = {c.address for c in plan.adoptions}
    doc = {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "mlreg_version": __version__,
        "config": {"path": plan.config_path, "digest": plan.config_digest},
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "backends": dict(plan.backends),
        "targets": list(plan.targets),
        "resource_changes": [resource_change(c, c.address in adopted) for c in plan.changes],
        "planned_values": planned_values(plan),
        "prior_state": prior_state(plan),
        "configuration": configuration(plan) if configuration_section else None,
        "resource_drift": resource_drift(list(plan.drift)),
        "drift": [d.to_json() for d in plan.drift],
        **{t.key: [h.to_json() for h in plan.about(t.key)] for t in topics()},
        "diagnostics": [d.to_json() for d in plan.diagnostics],
        "notes": notes,
        "summary": plan.summary.to_json(),
        "errored": plan.has_errors,
        "applyable": plan.applyable,
    }
    if not configuration_section:
        del doc["configuration"]
    return doc


def drift_document(items: list[DriftItem]) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "mlreg_version": __version__,
        "resource_drift": resource_drift(items),
        "drift": [d.to_json() for d in items],
    }


# --- encoding and signing ----------------------------------------------------------------------------


def canonical(doc: dict) -> str:
    """The one encoding of a document: compact, keys sorted (so a signature can be checked
    against the document read back)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _mac(key: str, body: str) -> str:
    return "hmac-sha256:" + hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def sign(text: str, key: str | None) -> str:
    """`text` (a canonical document) with its signature added as the last key."""
    if not key:
        return text
    return f'{text[:-1]},"{SIGNATURE_KEY}":"{_mac(key, text)}"}}'


def verify(doc: dict, key: str | None, path: str) -> None:
    if not key:
        return
    given = doc.get(SIGNATURE_KEY)
    if not given:
        raise StalePlan(
            f"{path} is not signed, and MLREG_PLAN_SIGNING_KEY is set: nothing was applied; "
            "make the plan with the same key"
        )
    body = canonical({k: v for k, v in doc.items() if k != SIGNATURE_KEY})
    if not hmac.compare_digest(str(given), _mac(key, body)):
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


class _Document(BaseModel):
    """What a plan file must hold for mlreg to read it back (the rest is for other tools)."""

    model_config = ConfigDict(extra="allow")

    format_version: str
    config: dict[str, Any]
    state: dict[str, Any]
    resource_changes: list[_ResourceChange]
    targets: list[str] = Field(default_factory=list)

    @field_validator("format_version")
    @classmethod
    def _v1(cls, v: str) -> str:
        if not v.startswith("1."):
            raise ValueError(f"format_version {v!r}: this mlreg reads plan files of format 1.x")
        return v


@dataclass(frozen=True)
class SavedPlan:
    """A plan file decoded back into changes."""

    config_digest: str | None
    lineage: str | None
    serial: int | None
    targets: tuple[str, ...]
    changes: tuple[Change, ...]

    def require_same(self, fresh: Plan, config_file: str) -> None:
        """Refuse (StalePlan) unless the plan made now equals this one, saying what moved."""
        if self.config_digest != fresh.config_digest:
            raise StalePlan(f"the saved plan is stale: {config_file} changed since it was made; run `mlreg plan` again")
        if self.lineage not in (None, fresh.lineage) or self.serial != fresh.serial:
            raise StalePlan(
                f"the saved plan is stale: state moved from serial {self.serial} to "
                f"{fresh.serial} since it was made; run `mlreg plan` again"
            )
        now = {c.address: c for c in fresh.changes}
        for saved in self.changes:
            c = now.get(saved.address)
            if c is None:
                raise StalePlan(
                    f"the saved plan does not match: it has {saved.address}, which a plan made now does not; "
                    "nothing was applied; run `mlreg plan` again"
                )
            _, before, after = shown_values(c)  # compared as saved: secrets as (sensitive value)
            if saved.before != _plain(before):
                raise StalePlan(
                    f"the saved plan is stale: {saved.address} changed live since it was made; run `mlreg plan` again"
                )
            if (
                saved.action is not c.action
                or saved.after != _plain(after)
                or set(saved.after_unknown) != set(c.after_unknown)
            ):
                raise StalePlan(
                    f"the saved plan does not match what registry.yaml, state and live values give now at "
                    f"{saved.address} (saved: {saved.action.value}, now: {c.action.value}); "
                    "nothing was applied; was the file edited? Run `mlreg plan` again"
                )
        extra = [c.address for c in fresh.changes if c.address not in {s.address for s in self.changes}]
        if extra:
            raise StalePlan(
                f"the saved plan does not match: a plan made now also has {extra[0]}; nothing was applied; "
                "run `mlreg plan` again"
            )


def _plain(values) -> Any:
    """A change's values as JSON would give them back (tuples are lists there)."""
    if isinstance(values, dict) or hasattr(values, "items"):
        return {k: _plain(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [_plain(v) for v in values]
    return values


def _decoded(rc: _ResourceChange) -> Change:
    try:
        action = Action(rc.change.actions[0]) if len(rc.change.actions) == 1 else None
    except ValueError:
        action = None
    if action is None:
        raise UserError(f"{rc.address}: actions {rc.change.actions} are not mlreg's; make the plan with `mlreg plan`")
    return Change(
        rc.address,
        rc.type,
        action,
        rc.change.before,
        rc.change.after,
        after_unknown=_unmirror(rc.change.after_unknown),
    )


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
        doc = _Document.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path} is not a plan file mlreg can read ({where}: {first['msg']})") from None
    return SavedPlan(
        config_digest=doc.config.get("digest"),
        lineage=doc.state.get("lineage"),
        serial=doc.state.get("serial"),
        targets=tuple(doc.targets),
        changes=tuple(_decoded(rc) for rc in doc.resource_changes),
    )
