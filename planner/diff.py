"""Pure diff: desired (config) x live (snapshot) x recorded (state) -> changes and diagnostics.

Only managed attributes take part: a model's description (when declared), the tag keys and
aliases declared now or recorded as ours in state, and each declared version's stage,
description and tag keys. Anything else on a live object is never looked at, so never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner import diagnostics as dg
from planner.config import Config, ModelSpec, VersionRef, VersionSpec
from planner.diagnostics import Diagnostic
from planner.model import (
    Action,
    Change,
    LiveModel,
    LiveRun,
    LiveSnapshot,
    LiveVersion,
    ResourceType,
    model_address,
    parse_address,
    policy_address,
    version_address,
)
from planner.resolve import VersionIndex, resolve_run
from planner.stages import STAGE_TAG, Stage
from planner.statedata import ResourceState, StateSnapshot

FORGET_REASON = "because it is not in registry.yaml; nothing live is deleted"


@dataclass(frozen=True, slots=True)
class ResolvedVersion:
    """A declared version joined with what is live: the rules engine works on these."""

    address: str
    model: str
    spec: VersionSpec
    live: LiveVersion | None
    run: LiveRun | None

    @property
    def number(self) -> str | None:
        return self.live.version if self.live else None


@dataclass
class DiffResult:
    changes: list[Change] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    versions: dict[str, ResolvedVersion] = field(default_factory=dict)
    checked: list | None = None  # rules' cache: versions created or moved to another stage


_NO_FIELDS_SET: set = set()  # shared: nothing reads which fields were "set" on a Change
_CHANGE_DEFAULTS = {name: (f.default_factory() if f.default_factory else f.default)
                    for name, f in Change.model_fields.items() if not f.is_required()}


def _change(**fields) -> Change:
    """Changes are built here from values already typed: no re-validation, and every field given
    so pydantic computes no defaults (together 5x faster on a 100k-version plan)."""
    return Change.model_construct(_NO_FIELDS_SET, **{**_CHANGE_DEFAULTS, **fields})


def _finish(address: str, rtype: ResourceType, before, after, recorded: ResourceState | None,
            identity: dict, **kw) -> Change:
    """Pick the action from before/after, and mark adoptions that only state must record."""
    if before is None:
        action = Action.CREATE
    elif before != after:
        action = Action.UPDATE
    else:
        action = Action.NOOP
        after = before  # equal: keep one copy (a converged 100k-version plan is all no-ops)
    record_only = action is Action.NOOP and (
        recorded is None or recorded.attributes != after or recorded.identity != identity
    )
    return _change(address=address, type=rtype, actions=(action,), before=before, after=after,
                  identity=identity, record_only=record_only, **kw)


def _pick_live(address: str, ref: VersionRef, run: LiveRun | None, index: VersionIndex,
               recorded: ResourceState | None, diags: list[Diagnostic]):
    matches = index.match(ref, run)
    if recorded is not None and len(matches) != 1:
        # State disambiguates: the version we registered or adopted before, if it still matches.
        mine = [v for v in matches if v.version == str(recorded.identity.get("version"))]
        if mine:
            return mine[0]
    if len(matches) > 1:
        listed = ", ".join(f"version {v.version} (source {v.source})" for v in matches)
        diags.append(dg.error(f"{ref.key} matches {len(matches)} live versions: {listed}",
                              "use `version: N` to pick one", address))
        return None
    return matches[0] if matches else None


def _diff_version(model: str, spec: VersionSpec, live_versions: list[LiveVersion], index: VersionIndex,
                  live: LiveSnapshot, state: StateSnapshot, out: DiffResult) -> None:
    address = version_address(model, spec.key)
    recorded = state.resources.get(address)
    res = resolve_run(spec, live.registry)
    if res.error:
        out.diagnostics.append(dg.error(res.error, f"needed by {spec.key}", address))
        return
    lv = _pick_live(address, spec, res.run, index, recorded, out.diagnostics)
    if lv is None and spec.version is not None:
        have = ", ".join(v.version for v in live_versions) or "none"
        out.diagnostics.append(dg.error(f"Version {spec.version} of {model!r} does not exist",
                                        f"live versions: {have}", address))
        return
    out.versions[address] = ResolvedVersion(address, model, spec, lv, res.run)
    owned_tags = set(spec.tags) | set((recorded.attributes.get("tags") or {}) if recorded else {})

    after: dict = {"version": lv.version if lv else None}
    if spec.stage is not None:
        after["stage"] = spec.stage.tag_value
    if spec.description is not None:
        after["description"] = spec.description
    after["tags"] = dict(sorted(spec.tags.items()))
    identity = {"name": model, "version": lv.version if lv else None, "key": spec.key}
    depends = (model_address(model),)
    if lv is None:
        identity.update(matcher=spec.matcher().model_dump(mode="json", exclude_none=True),
                        run_id=res.run.run_id if res.run else None)
        reason = "it was deleted outside mlreg" if recorded else None
        out.changes.append(_change(address=address, type=ResourceType.MODEL_VERSION, actions=(Action.CREATE,),
                                  after=after, after_unknown=("version",), identity=identity,
                                  depends_on=depends, reason=reason))
        return
    before: dict = {"version": lv.version}
    if spec.stage is not None:
        before["stage"] = lv.tags.get(STAGE_TAG)
    if spec.description is not None:
        before["description"] = lv.description or ""
    before["tags"] = {k: lv.tags[k] for k in sorted(owned_tags) if k in lv.tags}
    out.changes.append(_finish(address, ResourceType.MODEL_VERSION, before, after, recorded, identity,
                               depends_on=depends))


def desired_aliases(spec: ModelSpec, production_alias: str | None) -> dict[str, VersionRef]:
    """Declared aliases, plus `rules.production_alias` on the declared production version."""
    aliases = dict(spec.aliases)
    prod = [v for v in spec.versions if v.stage is Stage.PRODUCTION]
    if production_alias and len(prod) == 1 and production_alias not in aliases:
        aliases[production_alias] = prod[0]
    return aliases


def _alias_targets(model: str, aliases: dict[str, VersionRef], out: DiffResult, live_versions: list[LiveVersion]):
    """alias -> version number (None when only apply will know it), and alias -> version address."""
    numbers, refs = {}, {}
    live_numbers = {v.version for v in live_versions}
    for alias, ref in sorted(aliases.items()):
        address = version_address(model, ref.key)
        if ref.version is not None:
            if str(ref.version) not in live_numbers:
                out.diagnostics.append(dg.error(f"Alias {alias!r} points at version {ref.version}, which does "
                                                f"not exist", "", model_address(model)))
            numbers[alias] = str(ref.version)
            continue
        resolved = out.versions.get(address)
        numbers[alias] = resolved.number if resolved else None
        if numbers[alias] is None:
            refs[f"aliases.{alias}"] = address
    return numbers, refs


def _diff_model(name: str, spec: ModelSpec, cfg: Config, live: LiveSnapshot, state: StateSnapshot,
                out: DiffResult) -> None:
    address = model_address(name)
    recorded = state.resources.get(address)
    lm: LiveModel | None = live.registry.models.get(name)
    live_versions = live.registry.versions.get(name, [])
    index = VersionIndex(live_versions, live.registry.logged_model_names)
    for v in spec.versions:
        _diff_version(name, v, live_versions, index, live, state, out)

    rec = recorded.attributes if recorded else {}
    owned_tags = set(spec.tags) | set(rec.get("tags") or {})
    wanted = desired_aliases(spec, cfg.rules.production_alias)
    # Aliases taken out of the file are forgotten; only `removed: … destroy: true` deletes one.
    owned_aliases = set(wanted) | cfg.destroyed_aliases(name)
    aliases, refs = _alias_targets(name, wanted, out, live_versions)
    after: dict = {}
    if spec.description is not None:
        after["description"] = spec.description
    after["tags"] = dict(sorted(spec.tags.items()))
    after["aliases"] = aliases
    unknown = tuple(sorted(refs))
    kw = dict(identity={"name": name}, refs=refs, after_unknown=unknown,
              depends_on=tuple(sorted(set(refs.values()))))
    if lm is None:
        out.changes.append(_change(address=address, type=ResourceType.MODEL, actions=(Action.CREATE,),
                                  after=after, reason="it was deleted outside mlreg" if recorded else None, **kw))
        return
    before: dict = {}
    if spec.description is not None:
        before["description"] = lm.description or ""
    before["tags"] = {k: lm.tags[k] for k in sorted(owned_tags) if k in lm.tags}
    before["aliases"] = {a: lm.aliases[a] for a in sorted(owned_aliases) if a in lm.aliases}
    if unknown:  # an alias moves to a version this apply registers: certainly a change
        out.changes.append(_change(address=address, type=ResourceType.MODEL, actions=(Action.UPDATE,),
                                  before=before, after=after, **kw))
        return
    out.changes.append(_finish(address, ResourceType.MODEL, before, after, recorded, **kw))


def _diff_policies(cfg: Config, live: LiveSnapshot, state: StateSnapshot, out: DiffResult) -> None:
    for pname, policy in cfg.policies.items():
        for num, pv in sorted(policy.versions.items()):
            address = policy_address(pname, num)
            recorded = state.resources.get(address)
            ref_addr = version_address(pv.model, pv.model_version.key)
            resolved = out.versions.get(ref_addr)
            model_version = str(pv.model_version.version) if pv.model_version.version else (
                resolved.number if resolved else None)
            refs = {}
            if model_version is None:
                if resolved is None:  # its version failed to resolve; that error is already reported
                    continue
                refs["model_version"] = ref_addr
            elif pv.model_version.version is not None:
                exists = any(v.version == model_version for v in live.registry.versions.get(pv.model, []))
                if not exists and ref_addr not in out.versions:
                    out.diagnostics.append(dg.error(
                        f"Model version {pv.model} {model_version} does not exist and is not declared",
                        "declare it under models, or point at an existing version", address))
                    continue
            after = {"model": pv.model, "model_version": model_version, "config_defaults": pv.config_defaults}
            row = live.database.policy_versions.get((str(policy.id), num))
            identity = {"policy_id": str(policy.id), "version": num, "id": row.id if row else None}
            depends = tuple(sorted({model_address(pv.model)} | ({ref_addr} if ref_addr in out.versions else set())))
            if row is None:
                out.changes.append(_change(address=address, type=ResourceType.POLICY_VERSION,
                                          actions=(Action.CREATE,), after=after, identity=identity, refs=refs,
                                          after_unknown=tuple(refs), depends_on=depends,
                                          reason="it was deleted outside mlreg" if recorded else None))
                continue
            before = {"model": row.model_name, "model_version": row.model_version,
                      "config_defaults": row.config_defaults}
            out.changes.append(_finish(address, ResourceType.POLICY_VERSION, before, after, recorded, identity,
                                       refs=refs, after_unknown=tuple(refs), depends_on=depends))


def _deleted_version_before(lv: LiveVersion) -> dict:
    return {"version": lv.version, "stage": lv.tags.get(STAGE_TAG), "description": lv.description,
            "tags": {k: v for k, v in sorted(lv.tags.items()) if k != STAGE_TAG}}


def _destroy_one(cfg: Config, address: str, live: LiveSnapshot, state: StateSnapshot,
                 out: DiffResult) -> tuple[str, dict, dict] | None:
    """(type, before, identity) of the live object a `removed: destroy: true` entry names."""
    rtype, name, key = parse_address(address)
    recorded = state.resources.get(address)
    if rtype is ResourceType.MODEL:
        lm = live.registry.models.get(name)
        if lm is None:
            return None
        versions = [v.version for v in live.registry.versions.get(name, [])]
        return rtype, {"description": lm.description, "versions": versions, "aliases": lm.aliases}, {"name": name}
    if rtype is ResourceType.MODEL_VERSION:
        number = str(recorded.identity.get("version")) if recorded else (
            key[1:] if key.startswith("v") and key[1:].isdigit() else None)
        if number is None:
            out.diagnostics.append(dg.error(f"{address} is not in state, so which live version it means is unknown",
                                            f"name the version by number: model_version.{name}[vN]", address))
            return None
        lv = next((v for v in live.registry.versions.get(name, []) if v.version == number), None)
        return None if lv is None else (rtype, _deleted_version_before(lv), {"name": name, "version": number})
    policy_id = recorded.identity.get("policy_id") if recorded else (
        str(cfg.policies[name].id) if name in cfg.policies else None)
    if policy_id is None:
        out.diagnostics.append(dg.error(f"{address} is not in state and policy {name!r} is not declared, so its "
                                        "policy id is unknown", "", address))
        return None
    row = live.database.policy_versions.get((policy_id, int(key)))
    if row is None:
        return None
    before = {"model": row.model_name, "model_version": row.model_version, "config_defaults": row.config_defaults}
    return rtype, before, {"policy_id": policy_id, "version": int(key), "id": row.id}


def _destroyed(cfg: Config, live: LiveSnapshot, state: StateSnapshot, out: DiffResult) -> set[str]:
    """Delete changes for `removed: destroy: true`; returns the addresses they cover."""
    handled = set()
    for address, entry in sorted(cfg.destroyed().items()):
        found = _destroy_one(cfg, address, live, state, out)
        reason = "because it is listed under removed with destroy: true" + (f" ({entry.reason})" if entry.reason else "")
        if found is None:
            if address in state.resources:
                continue  # already gone live: plain forgetting covers it
            handled.add(address)
            continue
        rtype, before, identity = found
        handled.add(address)
        out.changes.append(_change(address=address, type=rtype, actions=(Action.DELETE,), before=before,
                                  identity=identity, reason=reason))
    return handled


def _forgotten(cfg: Config, state: StateSnapshot, declared: set[str]) -> list[Change]:
    out = []
    for address, rs in sorted(state.resources.items()):
        if address in declared:
            continue
        out.append(_change(address=address, type=ResourceType(rs.type), actions=(Action.FORGET,),
                          before=rs.attributes, identity=rs.identity, reason=FORGET_REASON))
    return out


def diff(cfg: Config, live: LiveSnapshot, state: StateSnapshot) -> DiffResult:
    out = DiffResult()
    for name, spec in cfg.models.items():
        _diff_model(name, spec, cfg, live, state, out)
    _diff_policies(cfg, live, state, out)
    declared = {model_address(n) for n in cfg.models}
    declared |= {version_address(n, v.key) for n, m in cfg.models.items() for v in m.versions}
    declared |= {policy_address(p, n) for p, spec in cfg.policies.items() for n in spec.versions}
    declared |= _destroyed(cfg, live, state, out)
    out.changes.extend(_forgotten(cfg, state, declared))
    return out
