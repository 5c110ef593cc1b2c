"""`policy_version`: rows of exp.policy_versions (and the variants that use them) in memory, the
case file's policy facts, the batch write and the sample."""

from __future__ import annotations

import copy
import itertools

from mlreg.planner.changes import Action
from mlreg.planner.kinds.policy_version import LivePolicyVersion, LiveVariant, PolicyFacts, PolicyRequest
from tests.unit.kinds import KindDouble

PID = "2f0c1c9e-0b7e-4c5e-9a57-2d6d5c1c9a11"


def store(world) -> None:
    world.rows = {}  # (policy id, version) -> LivePolicyVersion
    world.row_ids = itertools.count(1)


def read(world, r: PolicyRequest) -> PolicyFacts:
    return PolicyFacts({k: v for k, v in world.rows.items() if k[0] in r.policy_ids})


def write(world, request) -> dict:
    change = request.change
    ident = dict(change.identity)
    key = (ident["policy_id"], ident["version"])
    if change.action is Action.DELETE:
        world.rows.pop(key, None)
        return ident
    after = request.after()
    row_id = ident.get("id") or f"row-{next(world.row_ids)}"
    world.rows[key] = LivePolicyVersion(
        row_id,
        ident["policy_id"],
        ident["version"],
        after["model"],
        str(after["model_version"]),
        copy.deepcopy(after["config_defaults"]),
    )
    return {**ident, "id": row_id}


def facts(data: dict) -> dict:
    """policy_versions: [{id, policy_id, version, model, model_version, config_defaults}];
    variants: [{id, policy_version_id}]."""
    rows = {
        (p["policy_id"], p["version"]): LivePolicyVersion(
            id=p.get("id", f"row-{p['version']}"),
            policy_id=p["policy_id"],
            version=p["version"],
            model_name=p["model"],
            model_version=str(p["model_version"]),
            config_defaults=p.get("config_defaults", {}),
        )
        for p in data.get("policy_versions", [])
    }
    variants = [LiveVariant(id=v["id"], policy_version_id=v["policy_version_id"]) for v in data.get("variants", [])]
    return {PolicyFacts: PolicyFacts(policy_versions=rows, variants=variants)}


DOUBLE = KindDouble(
    type="policy_version",
    provider="mlreg/postgres",
    sample=(
        "models:\n  a_model:\n    versions: [{run_id: r1}]\n"
        f"policies:\n  p:\n    id: {PID}\n    versions:\n"
        "      1: {model: a_model, model_version: {run_id: r1}, config_defaults: {t: 1}}\n"
    ),
    setup={"runs": ["r1"]},
    store=store,
    write=write,
    reads={PolicyRequest: read},
    facts=facts,
    names=lambda world: sorted({k[0] for k in world.rows}),
)
