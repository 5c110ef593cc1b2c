"""Drift: live values against the values mlreg last applied (state), per managed resource."""

from __future__ import annotations

from planner.model import DriftItem, LiveSnapshot, ResourceType
from planner.stages import STAGE_TAG
from planner.statedata import ResourceState, StateSnapshot


def _compare(address: str, recorded: dict, live: dict, when=None, user=None) -> list[DriftItem]:
    out = []
    for attr, rec in recorded.items():
        if isinstance(rec, dict) and attr in ("tags", "aliases"):
            for key, value in rec.items():
                if live.get(attr, {}).get(key) != value:
                    out.append(DriftItem(address=address, attribute=f"{attr}.{key}", recorded=value,
                                         live=live.get(attr, {}).get(key), last_updated=when, user=user))
        elif attr in live and live[attr] != rec:
            out.append(DriftItem(address=address, attribute=attr, recorded=rec, live=live[attr],
                                 last_updated=when, user=user))
    return out


def _model(address: str, rs: ResourceState, live: LiveSnapshot) -> list[DriftItem]:
    lm = live.registry.models.get(rs.identity.get("name"))
    if lm is None:
        return [DriftItem(address=address, attribute=None, note="registered model no longer exists")]
    now = {"description": lm.description, "tags": lm.tags, "aliases": lm.aliases}
    return _compare(address, rs.attributes, now, lm.last_updated)


def _version(address: str, rs: ResourceState, live: LiveSnapshot) -> list[DriftItem]:
    name, number = rs.identity.get("name"), str(rs.identity.get("version"))
    lv = next((v for v in live.registry.versions.get(name, []) if v.version == number), None)
    if lv is None:
        return [DriftItem(address=address, attribute=None, note=f"version {number} no longer exists")]
    now = {"version": lv.version, "stage": lv.tags.get(STAGE_TAG), "description": lv.description,
           "tags": lv.tags}
    return _compare(address, rs.attributes, now, lv.last_updated, lv.user_id)


def _policy(address: str, rs: ResourceState, live: LiveSnapshot) -> list[DriftItem]:
    row = live.database.policy_versions.get((rs.identity.get("policy_id"), rs.identity.get("version")))
    if row is None:
        return [DriftItem(address=address, attribute=None, note="policy version row no longer exists")]
    now = {"model": row.model_name, "model_version": row.model_version, "config_defaults": row.config_defaults}
    return _compare(address, rs.attributes, now)


_MODEL, _VERSION = ResourceType.MODEL.value, ResourceType.MODEL_VERSION.value


def _unmanaged(state: StateSnapshot, live: LiveSnapshot) -> list[DriftItem]:
    managed: dict[str, set[str]] = {}
    for rs in state.resources.values():
        if rs.type == _VERSION:
            managed.setdefault(rs.identity.get("name"), set()).add(str(rs.identity.get("version")))
    out = []
    for rs in state.resources.values():
        if rs.type != _MODEL:
            continue
        name = rs.identity.get("name")
        for v in live.registry.versions.get(name, []):
            if v.version not in managed.get(name, set()):
                out.append(DriftItem(address=f"model.{name}", attribute=None, live=v.version,
                                     last_updated=v.created, user=v.user_id,
                                     note=f"unmanaged version {v.version} appeared (source {v.source})"))
    return out


_BY_TYPE = {ResourceType.MODEL.value: _model, ResourceType.MODEL_VERSION.value: _version,
            ResourceType.POLICY_VERSION.value: _policy}


def detect(state: StateSnapshot, live: LiveSnapshot, only: set[str] | None = None,
           unmanaged: bool = True) -> list[DriftItem]:
    """Drift of every recorded resource, or only of `only` (a plan passes the addresses it
    changes: where live equals both the file and state there is nothing to report)."""
    out = []
    for address in sorted(state.resources if only is None else only & state.resources.keys()):
        rs = state.resources[address]
        out.extend(_BY_TYPE[rs.type](address, rs, live))
    if unmanaged:
        out.extend(_unmanaged(state, live))
    return out
