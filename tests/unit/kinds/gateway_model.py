"""`gateway_model`: model definitions in memory by id, their reads, the case file's
`gateway_models` facts, the write (in place, keeping the id) and the sample."""

from __future__ import annotations

import itertools

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_facts import LiveGatewayModel
from mlreg.planner.kinds.gateway_model import GatewayModelFacts, GatewayModelRequest
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.gateway_models = {}  # id -> LiveGatewayModel
    world.gateway_model_ids = itertools.count(1)


def read(world, r: GatewayModelRequest) -> GatewayModelFacts:
    return GatewayModelFacts({m.name: m for m in world.gateway_models.values() if m.name in r.names})


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.gateway_models.pop(change.identity["id"], None)
        return dict(change.identity)
    mid = change.identity.get("id") or f"d-{next(world.gateway_model_ids)}"
    world.gateway_models[mid] = LiveGatewayModel(
        mid, name, after["provider"], after["model"], secret_id="s-?", secret_name=after["secret"]
    )
    return {"name": name, "id": mid}


def facts(data: dict) -> dict:
    """gateway_models: [{id, name, secret, provider, model}]."""
    out = {
        m["name"]: LiveGatewayModel(m["id"], m["name"], m["provider"], m["model"], secret_name=m.get("secret"))
        for m in data.get("gateway_models", [])
    }
    return {GatewayModelFacts: GatewayModelFacts(out)}


DOUBLE = KindDouble(
    type="gateway_model",
    provider="mlreg/mlflow",
    sample="gateway:\n  models:\n    gpt4o: {secret: openai_prod, provider: openai, model: gpt-4o}\n",
    store=store,
    write=write,
    reads={GatewayModelRequest: read},
    facts=facts,
    names=lambda world: sorted(m.name for m in world.gateway_models.values()),
)
