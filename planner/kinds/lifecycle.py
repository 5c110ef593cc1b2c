"""The model-version lifecycle rules (the MLflow guide's stages), checked on a diff: pure
functions returning diagnostics and promotions. `ModelVersionKind.judge` calls `judge`.

Stage moves are judged from the stage last applied (state) to the desired one, or from the live
stage for a version state does not know: drift put back is never a promotion, and an out-of-band
promotion never launders a version past the gates. Every check runs and every violation is
reported; nothing here raises for a user mistake. The runs that gates and required logging read
are named by `reads_needed` and read in the plan's second read phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner import diagnostics as dg
from mlreg.planner.changes import Action, Change
from mlreg.planner.diagnostics import Diagnostic
from mlreg.planner.kinds.base import Diff, Resolved
from mlreg.planner.kinds.mlflow_facts import LiveRun, RegistryFacts, RegistryRequest
from mlreg.planner.kinds.promotions import Promotion
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import StateSnapshot
from mlreg.planner.stages import STAGE_TAG, Stage, stage_of

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config

    pass

TYPE = "model_version"
MODEL = "model"
_PRODUCTION = Stage.PRODUCTION.value
_MOVABLE = (Action.CREATE, Action.UPDATE, Action.NOOP)
_REVIEWED = (Stage.CANDIDATE.value, Stage.PRODUCTION.value)


def stage_move(change: Change, state: StateSnapshot) -> tuple[str, str] | None:
    """(from, to) when the change moves a version's stage: from the stage last applied, or live
    when state has none; None when it stays (a revert of drift stays)."""
    if change.action not in _MOVABLE or not change.after or "stage" not in change.after:
        return None
    to = stage_of(change.after["stage"])
    if change.action is Action.CREATE:
        frm = Stage.NONE.value
    else:
        recorded = state.resources.get(change.moved_from or change.address)
        if recorded is not None and "stage" in recorded.attributes:
            frm = stage_of(recorded.attributes["stage"])
        else:
            frm = stage_of((change.before or {}).get("stage"))
    return None if frm == to else (frm, to)


def checked_versions(diff: Diff) -> list[tuple[Resolved, Change, tuple[str, str]]]:
    """Versions this plan moves to another stage (registered into one, or promoted): the ones the
    stage rules judge."""
    out = []
    for c in diff.acting:  # a plain no-op equals what was applied: nothing moves
        if c.type != TYPE:
            continue
        move = stage_move(c, diff.state)
        if move and c.address in diff.resolved:
            out.append((diff.resolved[c.address], c, move))
    return out


def enters_review(move: tuple[str, str]) -> bool:
    """Does the version enter candidate or production (the stages whose runs must carry the
    required logging)? Archiving it, setting it to none, or leaving it as it is never does."""
    return move[1] in _REVIEWED


def _production_now(facts: RegistryFacts, model: str, exclude: str | None):
    for v in facts.versions.get(model, []):
        if v.version != exclude and stage_of(v.tags.get(STAGE_TAG)) == _PRODUCTION:
            return v
    return None


def _run_of(rv: Resolved, facts: RegistryFacts) -> LiveRun | None:
    if rv.run is not None:
        return facts.runs.get(rv.run.run_id, rv.run)
    if rv.live is not None and rv.live.run_id:
        return facts.runs.get(rv.live.run_id)
    return None


def reads_needed(diff: Diff) -> list[RegistryRequest]:
    """The second read phase: runs behind checked versions (and the production versions they
    replace) not read yet, and the artifact listings required logging needs."""
    facts = diff.live[RegistryFacts]
    ids, inspect = set(), set()
    for rv, _, move in checked_versions(diff):
        run_id = rv.run.run_id if rv.run else (rv.live.run_id if rv.live else None)
        if run_id:
            ids.add(run_id)
            run = facts.runs.get(run_id)
            if enters_review(move) and (run is None or run.artifacts is None):
                inspect.add(run_id)
        if move[1] == _PRODUCTION:
            old = _production_now(facts, rv.name, rv.number)
            if old is not None and old.run_id:
                ids.add(old.run_id)
    ids -= facts.runs.keys()
    if not ids and not inspect:
        return []
    return [RegistryRequest(run_ids=frozenset(ids), inspect_runs=frozenset(inspect))]


def _metrics(run: LiveRun | None, names) -> dict[str, float | None]:
    return {m: (run.metrics.get(m) if run else None) for m in names}


def _check_logging(cfg: Config, rv: Resolved, run: LiveRun, to: str) -> Diagnostic | None:
    req = cfg.rules.required_run_logging
    missing = [f"param {p}" for p in req.params if p not in run.params]
    missing += [f"metric {m}" for m in req.metrics if m not in run.metrics]
    missing += [f"tag {t}" for t in req.tags if t not in run.tags]
    if run.artifacts is not None:
        have = set(run.artifacts) | set(run.logged_models or ())
        missing += [f"artifact {a}" for a in req.artifacts if a.strip("/") not in have]
    if not missing:
        return None
    return dg.error(
        f"Source run {run.run_id} lacks required logging: {', '.join(missing)}",
        f"the version enters {to}; rules.required_run_logging lists what its training run must log "
        "(`mlreg rules` shows the rules in effect)",
        rv.address,
    )


def _check_transition(cfg: Config, change: Change, move: tuple[str, str], state: StateSnapshot) -> Diagnostic | None:
    frm, to = move
    allowed = {k.value: [s.value for s in v] for k, v in cfg.rules.stages.transitions.items()}
    if to in allowed.get(frm, []):
        return None
    moves = ", ".join(allowed.get(frm, [])) or "none"
    known = (change.moved_from or change.address) in state.resources
    basis = "last applied" if known and change.action is not Action.CREATE else "live"
    return dg.error(
        f"Stage transition {frm} -> {to} is not allowed",
        f"{basis} stage {frm!r}, desired {to!r}; allowed from {frm}: {moves} (rules.stages.transitions)",
        change.address,
    )


def _check_gates(cfg: Config, change: Change, to: str, run: LiveRun | None) -> list[Diagnostic]:
    stage = Stage.named(to)
    gates = cfg.rules.promotion_gates.get(stage, {}) if stage is not None else {}
    if not gates:
        return []
    if run is None:
        return [
            dg.error(
                f"Promotion gate for {to} cannot be checked: the version has no source run",
                f"rules.promotion_gates.{to}: {', '.join(f'{m} {t}' for m, t in gates.items())}",
                change.address,
            )
        ]
    out = []
    for metric, threshold in gates.items():
        value = run.metrics.get(metric)
        if value is None:
            out.append(
                dg.error(
                    f"Promotion gate failed: {metric} {threshold} (metric not logged)",
                    f"rules.promotion_gates.{to}.{metric}; run {run.run_id} has no metric {metric!r}",
                    change.address,
                )
            )
        elif not cfg.rules.passes(value, threshold):
            out.append(
                dg.error(
                    f"Promotion gate failed: {metric} {threshold}, actual {value:g}",
                    f"rules.promotion_gates.{to}.{metric}; run {run.run_id}",
                    change.address,
                )
            )
    return out


def _check_production_count(diff: Diff, facts: RegistryFacts, checked) -> list[Diagnostic]:
    """How many versions of each model are in production after apply; too many is an error.

    Live stages, adjusted by the version changes that set a stage (a no-op leaves live as is)."""
    cfg = diff.cfg
    limit = cfg.rules.stages.max_production_per_model
    moved = {rv.name for rv, _, _ in checked}
    prod: dict[str, dict[str, str]] = {}  # model -> {version number or address: label}
    deleted = {
        (c.identity.get("name"), c.identity.get("version"))
        for c in diff.acting
        if c.type == TYPE and c.action is Action.DELETE
    }
    versions = facts.versions
    for model in cfg.models:
        for v in versions.get(model, ()):
            tag = v.tags.get(STAGE_TAG)  # (most are lowercase: compared as they are first)
            if (tag == _PRODUCTION or (tag is not None and tag.lower() == _PRODUCTION)) and (
                not deleted or (model, v.version) not in deleted
            ):
                prod.setdefault(model, {})[v.version] = f"version {v.version}"
    for c in diff.acting:
        if c.type != TYPE or c.action not in (Action.CREATE, Action.UPDATE) or "stage" not in (c.after or {}):
            continue
        rv = diff.resolved.get(c.address)
        if rv is None:
            continue
        ident = rv.number or c.address
        if stage_of(c.after["stage"]) == _PRODUCTION:
            prod.setdefault(rv.name, {})[ident] = c.address if rv.number is None else f"version {rv.number}"
        else:
            prod.get(rv.name, {}).pop(ident, None)
    out = []
    for model, labels in prod.items():
        if len(labels) > limit:
            # A registry that already breaks the rule is reported, but blocks only plans that move stages.
            make = dg.error if model in moved else dg.warning
            out.append(
                make(
                    f"Model {model!r} would have {len(labels)} production versions (at most {limit} allowed): "
                    f"{', '.join(sorted(labels.values()))}",
                    "rules.stages.max_production_per_model: archive the old production version in the same "
                    "change (stage: archived)",
                    f"{MODEL}.{model}",
                )
            )
    return out


def judge(diff: Diff, live: LiveSnapshot) -> tuple[list[Diagnostic], list[Promotion]]:
    cfg, facts = diff.cfg, live[RegistryFacts]
    diags: list[Diagnostic] = []
    promotions: list[Promotion] = []
    checked = checked_versions(diff)
    for rv, change, move in checked:
        run = _run_of(rv, facts)
        if run is not None and enters_review(move):
            d = _check_logging(cfg, rv, run, move[1])
            if d:
                diags.append(d)
        t = _check_transition(cfg, change, move, diff.state)
        if t:
            diags.append(t)
        diags.extend(_check_gates(cfg, change, move[1], run))
        if move[1] in (Stage.CANDIDATE.value, _PRODUCTION):
            promotions.append(_promotion(cfg, rv, move, run, facts))
    diags.extend(_check_production_count(diff, facts, checked))
    return diags, promotions


def _promotion(cfg: Config, rv: Resolved, move, run: LiveRun | None, facts: RegistryFacts) -> Promotion:
    names = list(cfg.rules.promotion_gates.get(Stage(move[1]), {})) or sorted(
        {m for g in cfg.rules.promotion_gates.values() for m in g}
    )
    model = rv.name
    replaces = None
    if move[1] == _PRODUCTION:
        old = _production_now(facts, model, rv.number)
        if old is not None:
            old_run = facts.runs.get(old.run_id) if old.run_id else None
            replaces = {"version": old.version, "metrics": _metrics(old_run, names), "run_id": old.run_id}
    return Promotion(
        model=model,
        version=rv.number,
        address=rv.address,
        from_stage=move[0],
        to_stage=move[1],
        metrics=_metrics(run, names),
        run_id=run.run_id if run else None,
        registered_by=(rv.live.user_id if rv.live else None) or (run.user_id if run else None),
        replaces=replaces,
    )
