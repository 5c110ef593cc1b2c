"""The lifecycle rules of seed §3–§6, checked on a diff: pure functions returning diagnostics.

Every check is run and every violation is reported; nothing here raises for a user mistake.
Runs behind versions are needed for gates and required logging: `runs_needed` says which ones
the plan must read beyond those its matchers already named.
"""

from __future__ import annotations

import json

from planner import diagnostics as dg
from planner.config import Config
from planner.diagnostics import Diagnostic
from planner.diff import DiffResult, ResolvedVersion
from planner.model import Action, Change, LiveRun, LiveSnapshot, Promotion, ResourceType
from planner.rulespec import passes
from planner.stages import STAGE_TAG, Stage, stage_of


def _stage_move(change: Change) -> tuple[str, str] | None:
    """(from, to) stage names when the change sets a different stage; None otherwise."""
    if change.type is not ResourceType.MODEL_VERSION or not change.after or "stage" not in change.after:
        return None
    if change.action not in (Action.CREATE, Action.UPDATE):
        return None
    before = change.before.get("stage") if change.before else None
    frm, to = stage_of(before), stage_of(change.after["stage"])
    return None if frm == to else (frm, to)


def _checked_versions(result: DiffResult) -> list[tuple[ResolvedVersion, Change]]:
    """Versions this plan creates or moves to another stage: the ones whose runs are checked."""
    if result.checked is None:
        create, update = Action.CREATE, Action.UPDATE
        out = []
        for c in result.changes:
            a = c.actions[0]
            if (a is create or (a is update and _stage_move(c))) and c.address in result.versions:
                out.append((result.versions[c.address], c))
        result.checked = out
    return result.checked


def _production_now(live: LiveSnapshot, model: str, exclude: str | None):
    for v in live.registry.versions.get(model, []):
        if v.version != exclude and stage_of(v.tags.get(STAGE_TAG)) == Stage.PRODUCTION.value:
            return v
    return None


def runs_needed(result: DiffResult, live: LiveSnapshot) -> set[str]:
    """Run ids of checked versions and of the production versions they replace, not yet read."""
    ids = set()
    for rv, change in _checked_versions(result):
        if rv.run is None and rv.live is not None and rv.live.run_id:
            ids.add(rv.live.run_id)
        move = _stage_move(change)
        if move and move[1] == Stage.PRODUCTION.value:
            old = _production_now(live, rv.model, rv.number)
            if old is not None and old.run_id:
                ids.add(old.run_id)
    return {i for i in ids if i not in live.registry.runs}


def runs_to_inspect(result: DiffResult, live: LiveSnapshot) -> list[str]:
    """Run ids whose artifacts the required-logging check must list."""
    out = []
    for rv, _ in _checked_versions(result):
        run = _run_of(rv, live)
        if run is not None and run.artifacts is None:
            out.append(run.run_id)
    return sorted(set(out))


def _run_of(rv: ResolvedVersion, live: LiveSnapshot) -> LiveRun | None:
    if rv.run is not None:
        return live.registry.runs.get(rv.run.run_id, rv.run)
    if rv.live is not None and rv.live.run_id:
        return live.registry.runs.get(rv.live.run_id)
    return None


def _metrics(run: LiveRun | None, names) -> dict[str, float | None]:
    return {m: (run.metrics.get(m) if run else None) for m in names}


def _check_logging(cfg: Config, rv: ResolvedVersion, run: LiveRun) -> Diagnostic | None:
    req = cfg.rules.required_run_logging
    missing = []
    missing += [f"param {p}" for p in req.params if p not in run.params]
    missing += [f"metric {m}" for m in req.metrics if m not in run.metrics]
    missing += [f"tag {t}" for t in req.tags if t not in run.tags]
    if run.artifacts is not None:
        have = set(run.artifacts) | set(run.logged_models or ())
        missing += [f"artifact {a}" for a in req.artifacts if a.strip("/") not in have]
    if not missing:
        return None
    return dg.error(f"Source run {run.run_id} lacks required logging: {', '.join(missing)}",
                    "rules.required_run_logging (seed §3) lists what every training run must log", rv.address)


def _check_transition(cfg: Config, change: Change, move: tuple[str, str]) -> Diagnostic | None:
    frm, to = move
    allowed = {k.value: [s.value for s in v] for k, v in cfg.rules.stages.transitions.items()}
    if to in allowed.get(frm, []):
        return None
    moves = ", ".join(allowed.get(frm, [])) or "none"
    return dg.error(f"Stage transition {frm} -> {to} is not allowed",
                    f"live stage {frm!r}, desired {to!r}; allowed from {frm}: {moves} "
                    "(rules.stages.transitions)", change.address)


def _check_gates(cfg: Config, change: Change, to: str, run: LiveRun | None) -> list[Diagnostic]:
    gates = cfg.rules.promotion_gates.get(Stage(to), {}) if to in Stage._value2member_map_ else {}
    if not gates:
        return []
    if run is None:
        return [dg.error(f"Promotion gate for {to} cannot be checked: the version has no source run",
                         f"gates: {', '.join(f'{m} {t}' for m, t in gates.items())}", change.address)]
    out = []
    for metric, threshold in gates.items():
        value = run.metrics.get(metric)
        if value is None:
            out.append(dg.error(f"Promotion gate failed: {metric} {threshold} (metric not logged)",
                                f"run {run.run_id} has no metric {metric!r}", change.address))
        elif not passes(value, threshold):
            out.append(dg.error(f"Promotion gate failed: {metric} {threshold}, actual {value:g}",
                                f"run {run.run_id}", change.address))
    return out


def _check_production_count(cfg: Config, result: DiffResult, live: LiveSnapshot) -> list[Diagnostic]:
    """The stage of every version after apply, per model; too many in production is an error."""
    limit = cfg.rules.stages.max_production_per_model
    moved = {rv.model for rv, change in _checked_versions(result) if _stage_move(change)}
    production = Stage.PRODUCTION.value
    desired: dict[str, dict[str, tuple[str, str]]] = {}
    for rv in result.versions.values():
        if rv.spec.stage is not None:
            desired.setdefault(rv.model, {})[rv.number or rv.address] = (rv.spec.stage.value, rv.address)
    out = []
    for model in cfg.models:
        stages = {v.version: (stage_of(v.tags.get(STAGE_TAG)), v.version) for v in live.registry.versions.get(model, ())}
        stages.update(desired.get(model, {}))
        prod = [label if label.startswith("model_version.") else f"version {label}"
                for stage, label in stages.values() if stage == production]
        if len(prod) > limit:
            # A registry that already breaks the rule is reported, but blocks only plans that move stages.
            make = dg.error if model in moved else dg.warning
            out.append(make(
                f"Model {model!r} would have {len(prod)} production versions (at most {limit} allowed): "
                f"{', '.join(sorted(prod))}",
                "archive the old production version in the same change (stage: archived)",
                f"model.{model}"))
    return out


def _check_policies(result: DiffResult) -> list[Diagnostic]:
    out = []
    stage_by_number = {(rv.model, rv.number): rv.spec.stage for rv in result.versions.values() if rv.number}
    for c in result.changes:
        if c.type is not ResourceType.POLICY_VERSION or not c.after:
            continue
        if c.action is Action.UPDATE:
            from deepdiff import DeepDiff  # only here: importing it costs a third of a second

            delta = DeepDiff(c.before, c.after, verbose_level=2).to_json()
            out.append(dg.error("Policy versions are immutable: add a new version instead",
                                f"the live row differs from registry.yaml: {json.loads(delta)}", c.address))
        stage = stage_by_number.get((c.after["model"], c.after.get("model_version")))
        if stage is Stage.ARCHIVED:
            out.append(dg.warning(f"Points at {c.after['model']} version {c.after['model_version']}, "
                                  "which is archived", "", c.address))
    return out


def _check_deletions(cfg: Config, result: DiffResult, live: LiveSnapshot) -> list[Diagnostic]:
    """Nothing a policy version or an experiment variant still uses is deleted."""
    out = []
    deleted = {c.address: c for c in result.changes if c.action is Action.DELETE}
    doomed_rows = {c.identity.get("id") for c in deleted.values() if c.type is ResourceType.POLICY_VERSION}
    live_rows = [r for r in live.database.policy_versions.values() if r.id not in doomed_rows]
    for c in deleted.values():
        if c.type is ResourceType.POLICY_VERSION:
            holders = sorted(v.id for v in live.database.variants if v.policy_version_id == c.identity.get("id"))
            if holders:
                out.append(dg.error(f"Policy version is held by experiment variants: {', '.join(holders)}",
                                    "a policy version that a variant uses is never deleted", c.address))
            continue
        name = c.identity["name"]
        version = c.identity.get("version")
        users = [r for r in live_rows if r.model_name == name and (version is None or r.model_version == version)]
        if users:
            listed = ", ".join(f"policy {r.policy_id} version {r.version} (-> {r.model_name} {r.model_version})"
                               for r in users)
            out.append(dg.error(f"Cannot delete: policy versions point at it: {listed}",
                                "delete those policy versions in the same change, or keep it", c.address))
    for c in result.changes:
        if c.type is ResourceType.MODEL and c.before and c.after:
            gone = sorted(set(c.before.get("aliases", {})) - set(c.after.get("aliases", {})))
            for alias in gone:
                out.append(dg.warning(f"Deletes alias {alias!r} (listed under removed with destroy: true)", "",
                                      c.address))
    return out


def check(cfg: Config, result: DiffResult, live: LiveSnapshot) -> tuple[list[Diagnostic], list[Promotion]]:
    diags: list[Diagnostic] = []
    promotions: list[Promotion] = []
    for rv, change in _checked_versions(result):
        run = _run_of(rv, live)
        if run is not None:
            d = _check_logging(cfg, rv, run)
            if d:
                diags.append(d)
        move = _stage_move(change)
        if not move:
            continue
        t = _check_transition(cfg, change, move)
        if t:
            diags.append(t)
        diags.extend(_check_gates(cfg, change, move[1], run))
        if move[1] in (Stage.CANDIDATE.value, Stage.PRODUCTION.value):
            promotions.append(_promotion(cfg, rv, move, run, result, live))
    diags.extend(_check_production_count(cfg, result, live))
    diags.extend(_check_policies(result))
    diags.extend(_check_deletions(cfg, result, live))
    return diags, promotions


def _promotion(cfg, rv: ResolvedVersion, move, run, result, live) -> Promotion:
    names = list(cfg.rules.promotion_gates.get(Stage(move[1]), {})) or sorted(
        {m for g in cfg.rules.promotion_gates.values() for m in g})
    replaces = None
    if move[1] == Stage.PRODUCTION.value:
        old = _production_now(live, rv.model, rv.number)
        if old is not None:
            old_run = live.registry.runs.get(old.run_id) if old.run_id else None
            replaces = {"version": old.version, "metrics": _metrics(old_run, names), "run_id": old.run_id}
    return Promotion(model=rv.model, version=rv.number, address=rv.address, from_stage=move[0], to_stage=move[1],
                     metrics=_metrics(run, names), run_id=run.run_id if run else None,
                     registered_by=(rv.live.user_id if rv.live else None) or (run.user_id if run else None),
                     replaces=replaces)
