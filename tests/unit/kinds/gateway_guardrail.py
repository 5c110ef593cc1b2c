"""`gateway_guardrail`: guardrails in memory by id, the registered scorers they run (the world
starts with scorer `pii_judge` version 1 in experiment `evals`), the case file's
`gateway_guardrails` / `scorers` facts, the write (a replacement makes a new id) and the sample."""

from __future__ import annotations

import itertools

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_facts import LiveGuardrail, LiveGuardrailAttachment, LiveScorer
from mlreg.planner.kinds.gateway_guardrail import GuardrailFacts, GuardrailRequest
from tests.unit.kinds import KindDouble

SCORER = LiveScorer("sc-1", "1", "pii_judge", 1)


def store(world) -> None:
    world.guardrails = {}  # id -> LiveGuardrail
    world.guardrail_ids = itertools.count(1)
    world.scorers = {("evals", "pii_judge", 1): SCORER}


def read(world, r: GuardrailRequest) -> GuardrailFacts:
    found: dict = {}
    for g in world.guardrails.values():
        if g.name in r.names:
            found.setdefault(g.name, []).append(g)
    scorers = {k: s for k, s in world.scorers.items() if k in r.scorers}
    experiments = {s.experiment_id: k[0] for k, s in world.scorers.items()}
    return GuardrailFacts(found, scorers, experiments)


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.guardrails.pop(change.identity["id"], None)
        return dict(change.identity)
    ref = after["scorer"]
    scorer = world.scorers[(ref["experiment"], ref["name"], ref["version"])]
    gid = f"gr-{next(world.guardrail_ids)}"
    world.guardrails.pop(change.identity.get("id"), None)  # replaced: MLflow has no update
    world.guardrails[gid] = LiveGuardrail(gid, name, scorer, after["stage"], after["action"])
    return {"name": name, "id": gid}


def facts(data: dict) -> dict:
    """scorers: [{experiment, experiment_id, name, version, id}]; gateway_guardrails: [{id, name,
    scorer: {experiment, name, version}, stage, action}] (the scorer one of `scorers`);
    gateway_guardrail_attachments: {endpoint id: [{id, name, order}]}."""
    scorers = {
        (s["experiment"], s["name"], s["version"]): LiveScorer(
            s["id"], str(s["experiment_id"]), s["name"], s["version"]
        )
        for s in data.get("scorers", [])
    }
    experiments = {s.experiment_id: k[0] for k, s in scorers.items()}
    out: dict[str, list[LiveGuardrail]] = {}
    for g in data.get("gateway_guardrails", []):
        ref = g["scorer"]
        scorer = scorers[(ref["experiment"], ref["name"], ref["version"])]
        out.setdefault(g["name"], []).append(LiveGuardrail(g["id"], g["name"], scorer, g["stage"], g["action"]))
    attachments = {
        eid: tuple(LiveGuardrailAttachment(eid, a["id"], a["name"], a.get("order")) for a in found)
        for eid, found in data.get("gateway_guardrail_attachments", {}).items()
    }
    return {GuardrailFacts: GuardrailFacts(out, scorers, experiments, attachments)}


DOUBLE = KindDouble(
    type="gateway_guardrail",
    provider="mlreg/mlflow",
    sample=(
        "gateway:\n  guardrails:\n    no_pii:\n      scorer: {experiment: evals, name: pii_judge, version: 1}\n"
        "      stage: before\n      action: validation\n"
    ),
    store=store,
    write=write,
    reads={GuardrailRequest: read},
    facts=facts,
    names=lambda world: sorted({g.name for g in world.guardrails.values()}),
)
